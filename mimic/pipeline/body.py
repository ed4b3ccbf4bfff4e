"""The body model by name and the multi-person pose model, in mimic's cache folder (their
one-time builds shown on the console)."""

from __future__ import annotations

from pathlib import Path

from bodymesh import registry as body_models
from bodymesh.body_model import BodyModel
from mimic.core.paths import resolve_cache_dir
from mimic.core.progress import ConsoleReport
from mimic.errors import OutputError

__all__ = ["load_body_model", "people_bundle"]


def load_body_model(name: str = "anny", model_dir: Path | str | None = None, cache_dir: Path | str | None = None, progress: bool = False) -> BodyModel:
    """`bodymesh.registry.load_body_model` with mimic's defaults: `cache_dir` None is
    `~/.cache/mimic`; `progress` shows anny's one-time build (~2 min) with a spinner."""
    return body_models.load_body_model(name, None if model_dir is None else Path(model_dir), cache_dir=resolve_cache_dir(cache_dir), report=ConsoleReport(progress))


def people_bundle(cache_dir: Path | str | None = None) -> Path:
    """The multi-person pose model (`bodymesh.pose_bundle`) in `cache_dir` (None:
    `~/.cache/mimic`), built there on first use; OutputError when the folder cannot be written."""
    from bodymesh.pose_bundle import pose_bundle

    cache = resolve_cache_dir(cache_dir)
    try:
        return pose_bundle(cache)
    except OSError as error:
        reason = "it is a file, not a folder" if cache.exists() and not cache.is_dir() else error.strerror or type(error).__name__
        raise OutputError(f"cannot use the cache folder '{cache}': {reason} (choose another with --cache-dir or MIMIC_CACHE_DIR)") from None
