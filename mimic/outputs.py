"""Output folders that appear whole or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from mimic.errors import OutputError


@contextlib.contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """Yields a hidden staging folder inside `out_dir`; on success its files are moved into
    `out_dir` (replacing same-named ones), on any exception they are deleted.

    Raises OutputError at once when `out_dir` cannot be created or written.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_dir))
    except OSError as error:
        raise OutputError(f"cannot write to '{out_dir}': {error.strerror or error}") from None
    try:
        yield staging
        for item in staging.iterdir():
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_file_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Makes the file `path` whole or not at all: `write(temporary)` writes a temporary file
    beside it (its folder created), which is then renamed into place; on any exception the
    temporary file is deleted. OutputError when the folder or the file cannot be written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise OutputError(f"cannot write '{path}': {error.strerror or error}") from None
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except OSError as error:
        raise OutputError(f"cannot write '{path}': {error.strerror or error}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Writes `text` to `path` through a temporary file and a rename; OutputError if it cannot."""
    write_file_atomic(path, lambda temporary: temporary.write_text(text))
