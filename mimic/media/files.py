"""The one way mimic writes: every output is checked before the work, written whole or not at
all, never over an input.

A file goes to a hidden temporary file in its destination's folder (`atomic_path`, or
`StagedFile` for a writer that outlives one block) and is renamed onto the destination only
when it is complete, so a failure never leaves a half-written (or clobbered) destination;
output folders go through `staged_folder`. `check_outputs` runs before any work, so a run that
cannot write its results, or would write them over one of its inputs, fails at once and
touches nothing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from mimic.errors import OutputError

__all__ = ["PathLike", "StagedFile", "atomic_path", "check_writable", "check_outputs", "staged_folder",
           "write_text_atomic", "write_bytes_atomic", "make_folder_for", "copy_atomic", "os_reason"]

PathLike = str | os.PathLike[str]


def _create_temp_next_to(dest: Path, action: str) -> Path:
    """Create an empty hidden file in ``dest``'s folder with ``dest``'s extension.

    Created exclusively with mode 0o666 minus the umask, so the renamed result gets the same
    permissions a plain ``open(dest, "w")`` would give. Raises OutputError when the folder is
    missing or not writable.
    """
    folder = dest.parent
    if dest.is_dir():
        raise OutputError(f"cannot {action} '{dest}': it is a directory")
    if not folder.exists():
        raise OutputError(f"cannot {action} '{dest}': folder '{folder}' does not exist")
    if not folder.is_dir():
        raise OutputError(f"cannot {action} '{dest}': '{folder}' is not a folder")
    for _ in range(10):
        temp = folder / f".{dest.stem}.{secrets.token_hex(4)}.partial{dest.suffix}"
        try:
            fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        except OSError as e:
            raise OutputError(
                f"cannot {action} '{dest}': folder '{folder}' is not writable ({e.strerror})"
            ) from None
        os.close(fd)
        return temp
    raise OutputError(f"cannot {action} '{dest}': no free temporary name in '{folder}'")


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def os_reason(error: Exception) -> str:
    """Why an I/O call failed, without the file name it was given (a temporary one, for writes)."""
    return getattr(error, "strerror", None) or type(error).__name__


def check_writable(dest: PathLike, action: str = "write") -> None:
    """Raises OutputError unless ``atomic_path(dest)`` could write: tested by creating and
    deleting the hidden file it would use; ``dest`` itself is not touched."""
    _remove_quietly(_create_temp_next_to(Path(dest), action))


class StagedFile:
    """A new hidden file next to `dest` (same folder and extension) to fill, then `commit()`
    (renamed onto `dest`) or `discard()` (deleted); for writers that outlive one block (a video
    encoder). The file has the permissions a plain `open(dest, "w")` would give (0o666 minus
    the umask). OutputError when `dest` is a folder or its folder is missing or not writable."""

    def __init__(self, dest: PathLike, action: str = "write") -> None:
        self.dest = Path(dest)
        self.action = action
        self.temp: Path | None = _create_temp_next_to(self.dest, action)

    def commit(self) -> None:
        """Renames the file onto `dest`; OutputError (the file deleted) when that fails."""
        if self.temp is None:
            raise ValueError(f"the staged file of '{self.dest}' was already committed or discarded")
        try:
            os.replace(self.temp, self.dest)
        except OSError as e:
            self.discard()
            raise OutputError(f"cannot {self.action} '{self.dest}': {os_reason(e)}") from None
        self.temp = None

    def discard(self) -> None:
        """Deletes the file (if still there); `dest` is not touched."""
        if self.temp is not None:
            _remove_quietly(self.temp)
            self.temp = None


@contextlib.contextmanager
def atomic_path(dest: PathLike, action: str = "write") -> Iterator[Path]:
    """Yields a new hidden file next to `dest` (same folder and extension) for the caller to
    fill; it is renamed onto `dest` when the block ends normally and deleted when it raises.

    An OSError of the block or of the rename becomes `OutputError` `cannot {action} '{dest}':
    {reason}`, naming `dest`, never the temporary file.

    Raises:
        OutputError: `dest` is a folder, its folder is missing or not writable, or writing
            failed (full disk, ...).
    """
    staged = StagedFile(dest, action)
    try:
        yield staged.temp
    except OSError as e:
        staged.discard()
        raise OutputError(f"cannot {action} '{staged.dest}': {os_reason(e)}") from None
    except BaseException:
        staged.discard()
        raise
    staged.commit()


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
    """Writes `text` (UTF-8) to `path` through `atomic_path`; OutputError if it cannot."""
    write_bytes_atomic(path, text.encode())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Writes `data` to `path` through `atomic_path`; OutputError if it cannot."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def make_folder_for(path: PathLike) -> None:
    """Creates the folder of the file `path` (and its parents) when missing; OutputError naming
    `path` when it cannot. (`atomic_path` itself refuses a missing folder: a user's `--out` in a
    folder that does not exist is a mistake to report, a cache's folder is made.)"""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot write '{path}': {error.strerror or error}") from None


def copy_atomic(source: Path, out: Path) -> None:
    """Copies the file `source` to `out` (its folder made when missing) through `atomic_path`;
    OutputError if it cannot."""
    make_folder_for(out)
    with atomic_path(out) as temporary:
        shutil.copyfile(source, temporary)
