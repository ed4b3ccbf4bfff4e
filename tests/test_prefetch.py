"""The background-thread prefetcher of the pipeline."""

import threading

import pytest
import torch

from mimic.pipeline.prefetch import prefetch


def test_yields_every_result_in_order():
    assert list(prefetch(range(20), lambda x: x * x, depth=3)) == [x * x for x in range(20)]


def test_works_in_another_thread():
    names = list(prefetch(range(3), lambda _: threading.current_thread().name))
    assert all(name == "mimic-prefetch" for name in names)


def test_a_worker_error_is_raised_at_its_item():
    def work(x):
        if x == 3:
            raise RuntimeError("bad frame 3")
        return x

    seen = []
    with pytest.raises(RuntimeError, match="bad frame 3"):
        for value in prefetch(range(10), work):
            seen.append(value)
    assert seen == [0, 1, 2]


def test_closing_early_stops_the_worker_and_bounds_the_work():
    done = []

    def work(x):
        done.append(x)
        return x

    stream = prefetch(range(1000), work, depth=2)
    assert next(stream) == 0
    stream.close()
    assert len(done) <= 5
    assert not any(t.name == "mimic-prefetch" for t in threading.enumerate())


def test_the_caller_cedes_one_torch_thread_while_the_worker_runs():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        during = [torch.get_num_threads() for _ in prefetch(range(3), lambda x: x)]
        assert during == [1, 1, 1]
        assert torch.get_num_threads() == 2
        stream = prefetch(range(10), lambda x: x)
        next(stream)
        stream.close()  # closed early: restored too
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
