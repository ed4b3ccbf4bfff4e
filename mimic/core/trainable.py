"""What `mimic train` trains: the protocol every trainable model follows, and unwrapping its
networks from a distributed wrapper.

The trainer (data, steps, checkpoints, resume, logs, distributed) is one piece of code for every
model; a model brings its networks, its optimizers and one training step.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

__all__ = ["Trainable", "unwrap"]


def unwrap(net: nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel (or DataParallel) wrapper, else `net`."""
    return net.module if isinstance(net, (nn.parallel.DistributedDataParallel, nn.DataParallel)) else net


class Trainable(Protocol):
    """A model `mimic train` can train.

    name: the `--generator` name it is trained under.
    config: a dataclass of plain values (JSON-serialisable with `dataclasses.asdict`) that
        rebuilds the networks exactly; saved beside the weights.
    nets: every network with weights (generators and discriminators), by name. `train_step`
        calls them through this dict only, so the trainer may replace an entry by a wrapper
        of it (DistributedDataParallel) and still get the step's gradients synchronised;
        checkpoints hold the unwrapped networks' state dicts.
    """

    name: str
    config: Any
    nets: dict[str, nn.Module]

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers, by name (their state is checkpointed and restored)."""
        ...

    def train_step(self, batch: Any, step: int) -> dict[str, float]:
        """One optimisation step of every network on `batch` (already on the model's device);
        returns the losses by name, as plain floats, for the log."""
        ...
