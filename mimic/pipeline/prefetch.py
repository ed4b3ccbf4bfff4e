"""Work on the next items of a stream in a background thread while the caller uses this one."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()


def prefetch(items: Iterable[T], work: Callable[[T], R], depth: int = 2) -> Iterator[R]:
    """Yields `work(item)` for each item, in order, computing up to `depth` results ahead in a
    worker thread (video decoding and keypoint detection overlap the caller's fitting and
    rendering; both release the GIL in native code). At most `depth + 1` results are held, so
    memory stays flat. An exception in the worker is raised here, at the item it belongs to;
    closing the generator early stops the worker.

    While the worker runs, torch gets one intra-op thread fewer (at least one), restored when
    the stream ends: its OpenMP threads spin while they wait, and on two cores two of them beside
    the worker's detector starved both (fitting a dance 126 ms a frame instead of 50, the
    detector 64 instead of 44).
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    results: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                results.put((work(item), None))
        except BaseException as error:  # handed to the consumer, raised there
            results.put((None, error))
            return
        results.put((_DONE, None))

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads - 1))
    worker = threading.Thread(target=produce, name="mimic-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            value, error = results.get()
            if error is not None:
                raise error
            if value is _DONE:
                return
            yield value
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                results.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()
        torch.set_num_threads(threads)
