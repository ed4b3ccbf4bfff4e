"""Progress display on stderr (rich), switched on by the CLI and off by default in the library."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

T = TypeVar("T")


class _RateColumn(ProgressColumn):
    """Items per second, blank until rich has measured a speed."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:.1f}/s")

_console = Console(stderr=True)  # sys.stderr as it is at each write (redirections, test capture)


def track(
    items: Iterable[T], description: str, total: int | None = None, enabled: bool = True
) -> Iterator[T]:
    """Yields `items`, drawing a progress bar with a rate and remaining time when `enabled`."""
    if not enabled:
        yield from items
        return
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=_console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


@contextlib.contextmanager
def spinner(description: str, enabled: bool = True) -> Iterator[None]:
    """Shows `description` with a spinner and the elapsed time while the block runs."""
    if not enabled:
        yield
        return
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, console=_console, transient=False) as progress:
        progress.add_task(description, total=None)
        yield


def notice(message: str, enabled: bool = True) -> None:
    """Prints `mimic: message` as one line on stderr when `enabled` (something the user should
    know that does not stop the run: a cache entry rebuilt, a driver read short)."""
    if enabled:
        _console.print(f"mimic: {message}", markup=False, highlight=False, soft_wrap=True)
