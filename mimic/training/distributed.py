"""Training on several processes under torchrun: the process group for the run's lifetime.

`torchrun --nproc_per_node=2 $(which mimic) train ...` sets RANK, WORLD_SIZE and LOCAL_RANK;
`distributed_run` reads them, opens the process group (gloo on CPU, nccl on CUDA, each rank
on its own GPU) and closes it at the end. A plain run is rank 0 of a world of 1.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Ranks", "rank_device", "distributed_run"]


@dataclass(frozen=True)
class Ranks:
    """This process's `rank` among `world` processes, and the `device` it trains on."""

    rank: int
    world: int
    device: str


def _ranks() -> tuple[int, int, int]:
    """RANK, WORLD_SIZE and LOCAL_RANK from torchrun's environment (0, 1, 0 without it)."""
    return tuple(int(os.environ.get(k, d)) for k, d in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0)))


def rank_device(device: str) -> str:
    """The device this process trains on: under torchrun, "cuda" is this rank's GPU
    (`cuda:<LOCAL_RANK>`); anything else as given."""
    _, world, local_rank = _ranks()
    return f"cuda:{local_rank}" if world > 1 and device.startswith("cuda") and ":" not in device else device


@contextlib.contextmanager
def distributed_run(device: str) -> Iterator[Ranks]:
    """The ranks of this process (from torchrun's environment) with the process group open
    while the block runs, on `rank_device(device)`."""
    import torch
    import torch.distributed as dist

    rank, world, _ = _ranks()
    device = rank_device(device)
    if world > 1:
        if torch.device(device).type == "cuda":
            torch.cuda.set_device(torch.device(device))
        dist.init_process_group("nccl" if torch.device(device).type == "cuda" else "gloo")
    try:
        yield Ranks(rank, world, device)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
