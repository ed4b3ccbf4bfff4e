"""The body model by name, in mimic's cache folder, its one-time build shown on the console."""

from __future__ import annotations

from pathlib import Path

from bodymesh.body_model import BodyModel
from bodymesh.registry import load_body_model
from mimic.core.paths import resolve_cache_dir
from mimic.core.progress import ConsoleReport

__all__ = ["load_body"]


def load_body(name: str = "anny", model_dir: Path | str | None = None, cache_dir: Path | str | None = None, progress: bool = False) -> BodyModel:
    """`bodymesh.registry.load_body_model` with mimic's defaults: `cache_dir` None is
    `~/.cache/mimic`; `progress` shows anny's one-time build (~2 min) with a spinner."""
    return load_body_model(name, None if model_dir is None else Path(model_dir), resolve_cache_dir(cache_dir), ConsoleReport(progress))
