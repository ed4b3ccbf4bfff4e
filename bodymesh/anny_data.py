"""Building and caching the Anny model data (one time, about two minutes).

Anny's first construction assembles its blendshapes from the files in its wheel (~110 s) and
writes ~790 MB of intermediate caches; only the compact model file (~51 MB) is needed to load
it afterwards in about half a second. We build in a temporary folder, keep the compact file and
drop the rest, under a file lock so that concurrent processes build it once.

What is read back is checked first: the compact file's size and SHA-256 are written next to it
(`<file>.check`) when it is built, and a file that no longer matches (truncated, damaged) is
rebuilt with a one-line notice instead of failing every later run. Build folders left by a
process that was killed (`building-<pid>`) are swept by the next one to take the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import ContextManager, Protocol

from bodymesh.errors import OutputError
from bodymesh.quiet import native_stderr_silenced

with native_stderr_silenced():  # anny's skinning initialises warp, which probes for CUDA aloud
    import warp

    warp.config.log_level = warp.LOG_ERROR
    warp.init()
    import anny
    from anny.paths import set_anny_cache_path

COMPACT_PREFIX = "build_compact_model_data_"
BUILD_MESSAGE = "building the body model (one time, ~2 min)"
WAIT_MESSAGE = "waiting for another mimic process to build the body model"
CHECK_SUFFIX = ".check"


class BuildReport(Protocol):
    """Where a one-time build tells the user what it does (mimic shows it on the console)."""

    def busy(self, message: str) -> ContextManager[None]:
        """Shown while the block runs (a spinner: the build takes minutes)."""
        ...

    def notice(self, message: str) -> None:
        """One line the user should know (a damaged cached file is built again)."""
        ...


class SilentReport:
    """A `BuildReport` that shows nothing."""

    def busy(self, message: str) -> ContextManager[None]:
        return contextlib.nullcontext()

    def notice(self, message: str) -> None:
        pass


def anny_data_dir(cache_dir: Path) -> Path:
    """Folder of the compact Anny model, one per Anny release (a new release rebuilds)."""
    return Path(cache_dir) / f"anny-{anny.__version__}"


def compact_files(cache_dir: Path) -> list[Path]:
    """The compact Anny model file(s) in `cache_dir` (one once built)."""
    return sorted(anny_data_dir(cache_dir).glob(f"v*/{COMPACT_PREFIX}*.safetensors"))


def is_built(cache_dir: Path) -> bool:
    """True when the compact Anny model file is in `cache_dir` (intact or not)."""
    return bool(compact_files(cache_dir))


def _digest(path: Path) -> dict[str, int | str]:
    """`{"size": bytes, "sha256": hex}` of the file at `path`."""
    with open(path, "rb") as file:
        return {"size": os.fstat(file.fileno()).st_size, "sha256": hashlib.file_digest(file, "sha256").hexdigest()}


def _safetensors_size(path: Path) -> int | None:
    """The size a safetensors file's own header implies (8 + header + the last tensor's end),
    None when the header cannot be read."""
    try:
        with open(path, "rb") as file:
            (length,) = struct.unpack("<Q", file.read(8))
            header = json.loads(file.read(length))
        return 8 + length + max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None


def _record(compact: Path) -> None:
    """Writes `compact`'s size and SHA-256 next to it."""
    check = compact.with_name(compact.name + CHECK_SUFFIX)
    partial = check.with_name(f".{check.name}.{os.getpid()}")
    partial.write_text(json.dumps(_digest(compact)) + "\n")
    os.replace(partial, check)


def _intact(compact: Path) -> bool:
    """`compact` matches the size and SHA-256 written with it. An entry built before these
    were written is checked against its own header's size and, when whole, recorded now."""
    check = compact.with_name(compact.name + CHECK_SUFFIX)
    try:
        expected = json.loads(check.read_text())
    except FileNotFoundError:
        if _safetensors_size(compact) != compact.stat().st_size:
            return False
        _record(compact)
        return True
    except (OSError, ValueError):
        return False
    return compact.stat().st_size == expected.get("size") and _digest(compact) == expected


def _sweep_builds(data_dir: Path) -> None:
    """Removes `building-*` folders: under the lock no build runs, so each is left by a process
    that was killed while building (a SIGKILL; other stops clean up after themselves)."""
    for stale in data_dir.glob("building-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _cache_folder(data_dir: Path) -> None:
    """Creates `data_dir`; OutputError naming the cache folder when it cannot be."""
    cache = data_dir.parent
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = "it is a file, not a folder" if cache.exists() and not cache.is_dir() else error.strerror or type(error).__name__
        raise OutputError(f"cannot use the cache folder '{cache}': {reason} (choose another with --cache-dir or MIMIC_CACHE_DIR)") from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise OutputError(f"cannot use the cache folder '{cache}': '{data_dir}' is not writable (choose another with --cache-dir or MIMIC_CACHE_DIR)")


@contextlib.contextmanager
def _file_lock(path: Path, report: BuildReport) -> Iterator[None]:
    """Holds an exclusive lock on `path`; says so while it waits for another process's."""
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with report.busy(WAIT_MESSAGE):
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


def load_anny(cache_dir: Path, report: BuildReport | None = None) -> anny.Anny:
    """The default Anny model (six phenotypes, compact blendshapes), built once per cache folder.

    Args:
        cache_dir: where the compact model file lives.
        report: where to show "building the body model (one time, ~2 min)" while a build runs,
            that another process is building it, and a notice when a damaged cached file is
            rebuilt (None: nowhere).
    Raises:
        OutputError: the cache folder is a file, or cannot be created or written.
    Returns:
        The `anny.Anny` module (float64 buffers, CPU).
    """
    report = report or SilentReport()
    data_dir = anny_data_dir(cache_dir)
    _cache_folder(data_dir)
    with _file_lock(data_dir / ".lock", report), _quiet_anny_logs():
        _sweep_builds(data_dir)
        for compact in compact_files(data_dir.parent):
            if not _intact(compact):
                report.notice(f"the cached body model '{compact}' is damaged; building it again")
                compact.unlink()
                compact.with_name(compact.name + CHECK_SUFFIX).unlink(missing_ok=True)
        if not is_built(data_dir.parent):
            _build(data_dir, report)
        set_anny_cache_path(data_dir)
        return anny.Anny()


def _build(data_dir: Path, report: BuildReport) -> None:
    staging = data_dir / f"building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        set_anny_cache_path(staging)
        with report.busy(BUILD_MESSAGE):
            anny.Anny()
        for compact in staging.glob(f"v*/{COMPACT_PREFIX}*.safetensors"):
            target = data_dir / compact.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(compact, target)
            _record(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
