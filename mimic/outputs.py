"""Output folders that appear whole or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mimic.errors import OutputError


@contextlib.contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """Yields a hidden staging folder inside `out_dir`; on success its files and folders are
    moved into `out_dir` (replacing same-named ones), on any exception they are deleted.

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
            if item.is_dir() and (out_dir / item.name).is_dir():
                shutil.rmtree(out_dir / item.name)  # a folder is replaced whole
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Writes `text` (UTF-8) to `path` through a temporary file and a rename; OutputError if it cannot."""
    write_bytes_atomic(path, text.encode())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file and a rename; OutputError if it cannot."""
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise OutputError(f"cannot write '{path}': {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"cannot write '{path}': {error.strerror or error}") from None
