"""Progress display on stderr (rich), switched on by the CLI and off by default in the library;
and progress reports to a listener (`reporting_to`, e.g. a web page's progress bar), whether
the display is on or not. `ConsoleReport` shows bodymesh's one-time builds the same way."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
)
from rich.text import Text

T = TypeVar("T")


class _RateColumn(ProgressColumn):
    """Items per second, blank until rich has measured a speed."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:.1f}/s")

_console = Console(stderr=True)  # sys.stderr as it is at each write (redirections, test capture)

Listener = Callable[[str, int, "int | None"], None]
"""Called with a stage's description, the items done so far and the total (None: unknown)."""
_listener: contextvars.ContextVar[Listener | None] = contextvars.ContextVar("mimic_progress_listener", default=None)


@contextlib.contextmanager
def reporting_to(listener: Listener) -> Iterator[None]:
    """While the block runs (in this thread / context), every `track` and `spinner` also
    reports to `listener`: once at the start of a stage and after each item."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def _reported(items: Iterable[T], description: str, total: int | None) -> Iterator[T]:
    listener = _listener.get()
    if listener is None:
        yield from items
        return
    listener(description, 0, total)
    for done, item in enumerate(items, start=1):
        yield item
        listener(description, done, total)


def track(
    items: Iterable[T], description: str, total: int | None = None, enabled: bool = True
) -> Iterator[T]:
    """Yields `items`, drawing a progress bar with a rate and remaining time when `enabled`
    (and reporting to the listener of `reporting_to`, if any)."""
    items = _reported(items, description, total)
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
    """Shows `description` with a spinner and the elapsed time while the block runs (and tells
    the listener of `reporting_to`, if any, that the stage started)."""
    listener = _listener.get()
    if listener is not None:
        listener(description, 0, None)
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


class ConsoleReport:
    """bodymesh's `BuildReport` on this display: a spinner while a build runs, notices as lines
    (shown when `enabled`; the listener of `reporting_to` hears of the build either way)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def busy(self, message: str) -> contextlib.AbstractContextManager[None]:
        return spinner(message, enabled=self.enabled)

    def notice(self, message: str) -> None:
        notice(message, enabled=self.enabled)
