"""Building and caching the Anny model data (one time, about two minutes).

Anny's first construction assembles its blendshapes from the files in its wheel (~110 s) and
writes ~790 MB of intermediate caches; only the compact model file (~51 MB) is needed to load
it afterwards in about half a second. We build in a temporary folder, keep the compact file and
drop the rest, under a file lock so that concurrent processes build it once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from mimic.progress import spinner
from mimic.quiet import native_stderr_silenced

with native_stderr_silenced():  # anny's skinning initialises warp, which probes for CUDA aloud
    import warp

    warp.config.log_level = warp.LOG_ERROR
    warp.init()
    import anny
    from anny.paths import set_anny_cache_path

COMPACT_PREFIX = "build_compact_model_data_"
BUILD_MESSAGE = "building the body model (one time, ~2 min)"


def default_cache_dir() -> Path:
    """`~/.cache/mimic`: where mimic keeps what it builds once (the CLI lets users move it)."""
    return Path.home() / ".cache" / "mimic"


def anny_data_dir(cache_dir: Path) -> Path:
    """Folder of the compact Anny model, one per Anny release (a new release rebuilds)."""
    return Path(cache_dir) / f"anny-{anny.__version__}"


def is_built(cache_dir: Path) -> bool:
    """True when the compact Anny model file is in `cache_dir`."""
    return any(anny_data_dir(cache_dir).glob(f"v*/{COMPACT_PREFIX}*.safetensors"))


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _quiet_anny_logs() -> Iterator[None]:
    logger = logging.getLogger("anny")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_anny(cache_dir: Path | None = None, progress: bool = False) -> anny.Anny:
    """The default Anny model (six phenotypes, compact blendshapes), built once per cache folder.

    Args:
        cache_dir: where the compact model file lives (`default_cache_dir()` when None).
        progress: show "building the body model (one time, ~2 min)" with a spinner when a build
            is needed.
    Returns:
        The `anny.Anny` module (float64 buffers, CPU).
    """
    data_dir = anny_data_dir(cache_dir or default_cache_dir())
    with _file_lock(data_dir / ".lock"), _quiet_anny_logs():
        if not is_built(data_dir.parent):
            _build(data_dir, progress)
        set_anny_cache_path(data_dir)
        return anny.Anny()


def _build(data_dir: Path, progress: bool) -> None:
    staging = data_dir / f"building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        set_anny_cache_path(staging)
        with spinner(BUILD_MESSAGE, enabled=progress):
            anny.Anny()
        for compact in staging.glob(f"v*/{COMPACT_PREFIX}*.safetensors"):
            target = data_dir / compact.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(compact, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
