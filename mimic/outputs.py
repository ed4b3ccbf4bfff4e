"""Outputs: checked before the work, written whole or not at all, never over an input.

Files go through `mimic.media.atomic_path` (the one atomic-write helper); output folders
through `staged_folder`. `check_outputs` runs before any work, so a run that cannot write its
results, or would write them over one of its inputs, fails at once and touches nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from mimic.errors import OutputError
from mimic.media import atomic_path, check_writable


def _same_file(a: Path, b: Path) -> bool:
    """`a` and `b` name one file: the same path once links are followed, or one inode (a hard
    link, another mount of the folder)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def _existing_ancestor(path: Path) -> Path:
    """The nearest of `path` and its parents that exists (the current folder at worst)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_creatable(path: Path, what: str) -> None:
    """OutputError unless `path` exists as a folder or can be made as one (its nearest existing
    parent is a writable folder)."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"cannot write {what} '{path}': '{path}' is a file, not a folder")
    ancestor = _existing_ancestor(path)
    if not ancestor.is_dir():
        raise OutputError(f"cannot write {what} '{path}': '{ancestor}' is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {what} '{path}': folder '{ancestor}' is not writable")


def check_outputs(
    inputs: Iterable[Path],
    files: Iterable[Path] = (),
    folders: Iterable[Path] = (),
    extensions: frozenset[str] | None = None,
) -> None:
    """Before any work: refuses outputs that cannot be written or that are inputs.

    Args:
        inputs: the files the run reads (photos, videos, checkpoints).
        files: output files; each needs an existing, writable folder (tested by creating and
            deleting a hidden file there) and must not be a folder.
        folders: output folders, created when missing (by `staged_folder`); each must be
            creatable. Files of an input's folder are not refused: only a file the run would
            write (pass those in `files` too, e.g. `folder / "overlay.mp4"`).
        extensions: when given, the extensions (lower case, with the dot) `files` may have.
    Raises:
        OutputError: an output is one of the inputs (through any path or link), has another
            extension, or cannot be written.
    """
    inputs = [Path(p) for p in inputs]
    files = [Path(p) for p in files]
    for out in files:
        for source in inputs:
            if _same_file(out, source):
                raise OutputError(f"output '{out}' is the input '{source}'; choose another output path")
    for folder in folders:
        _check_creatable(Path(folder), "to")
    for out in files:
        if extensions is not None and out.suffix.lower() not in extensions:
            raise OutputError(f"cannot write '{out}': extension '{out.suffix}' is not one of {', '.join(sorted(extensions))}")
        if any(_same_file(out.parent, Path(folder)) or Path(folder) in out.parents for folder in folders):
            continue  # inside an output folder: made with it
        check_writable(out)


@contextlib.contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """Yields a hidden staging folder inside `out_dir`; on success its files and folders are
    moved into `out_dir` (replacing same-named ones), on any exception (an interruption too)
    they are deleted, and so are `out_dir` and the parents made for it when they are empty.

    Raises OutputError at once when `out_dir` cannot be created or written, and in place of an
    OSError of the block (a full disk while writing into the staging folder).
    """
    out_dir = Path(out_dir)
    made = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_dir))
    except OSError as error:
        raise OutputError(f"cannot write to '{out_dir}': {error.strerror or error}") from None
    done = False
    try:
        yield staging
        for item in staging.iterdir():
            if item.is_dir() and (out_dir / item.name).is_dir():
                shutil.rmtree(out_dir / item.name)  # a folder is replaced whole
            os.replace(item, out_dir / item.name)
        done = True
    except OSError as error:
        raise OutputError(f"cannot write to '{out_dir}': {error.strerror or type(error).__name__}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:
            for folder in made:  # deepest first
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty


def write_text_atomic(path: Path, text: str) -> None:
    """Writes `text` (UTF-8) to `path` through `mimic.media.atomic_path`; OutputError if it cannot."""
    write_bytes_atomic(path, text.encode())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Writes `data` to `path` through `mimic.media.atomic_path`; OutputError if it cannot."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
