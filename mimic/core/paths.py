"""mimic's folders: where one-time builds are cached and where shipped weights live."""

from __future__ import annotations

from pathlib import Path

__all__ = ["WEIGHTS_DIR", "default_cache_dir", "resolve_cache_dir"]

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
"""The weights shipped with mimic, one folder per model name (a `mimic train` checkpoint)."""


def default_cache_dir() -> Path:
    """`~/.cache/mimic`: where mimic keeps what it builds once (the CLI lets users move it)."""
    return Path.home() / ".cache" / "mimic"


def resolve_cache_dir(cache_dir: Path | str | None) -> Path:
    """The cache folder the user chose, else mimic's default (`default_cache_dir`)."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()
