"""A tiny but real Trainable for the trainer's tests (test code, not shipped): a 2-layer conv net
that predicts the target image from the warped source, the target correspondence map and the
background, trained with an L1 loss.

Run as `python -c "import training_tiny; training_tiny.main()" train ...` (tests/ and the
repository on PYTHONPATH) to get the `mimic` CLI with the model registered as "tiny".
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mimic.core.configs import config_with
from mimic.core.pairs import PairBatch, collate_pairs
from mimic.registry import ModelEntry, register
from mimic.training.data_options import DataOptions
from warping.sampler import warp

NAME = "tiny"


@dataclass
class TinyConfig:
    width: int = 16
    lr: float = 1e-2


class TinyTrainable:
    """conv3x3(10 -> width) -> ReLU -> conv3x3(width -> 3) -> tanh, Adam, L1 to the target."""

    name = NAME

    def __init__(self, config: TinyConfig, device: torch.device | str = "cpu") -> None:
        self.config = config
        net = nn.Sequential(nn.Conv2d(10, config.width, 3, padding=1), nn.ReLU(), nn.Conv2d(config.width, 3, 3, padding=1), nn.Tanh())
        self.nets = {"generator": net.to(device)}
        self._optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self._optimizer}

    def _predict(self, batch: PairBatch) -> torch.Tensor:
        warped = warp(batch.source_image, batch.grid) * batch.visibility
        return self.nets["generator"](torch.cat((warped, batch.target_correspondence, batch.background), 1))

    def train_step(self, batch: PairBatch, step: int) -> dict[str, float]:
        loss = (self._predict(batch) - batch.target_image).abs().mean()
        self._optimizer.zero_grad()
        loss.backward()
        self._optimizer.step()
        return {"l1": float(loss.detach())}

    def samples(self, batch: PairBatch) -> torch.Tensor:
        return torch.cat((batch.source_image[:1], self._predict(batch[:1]), batch.target_image[:1]))


def tiny_trainable(overrides: dict | None, device: torch.device | str, cache_dir: Path | None = None) -> TinyTrainable:
    return TinyTrainable(config_with(TinyConfig(), overrides), device)


POOL = 12


@functools.lru_cache(maxsize=4)
def _pool(size: int, seed: int, cache_dir) -> tuple[PairBatch, ...]:
    """`POOL` synthetic pairs without shading (drawn once per process: the tests stay fast)."""
    from mimic.pipeline.body import load_body_model
    from mimic.training.synthetic_pairs import SyntheticConfig, SyntheticPairs

    pairs = SyntheticPairs(load_body_model(cache_dir=cache_dir), SyntheticConfig(size=size, texture_size=64, shading=False), seed=seed)
    return tuple(pairs.pair(n) for n in range(POOL))


def tiny_batches(options: DataOptions, rank: int, world: int) -> Iterator[PairBatch]:
    """Batches of the pool, pair `n` of the real shard order being pool pair `n % POOL`."""
    from mimic.training.synthetic_pairs import shard_indices

    pool = _pool(options.size, options.seed, options.cache_dir)
    for batch in itertools.count(options.start):
        yield collate_pairs([pool[n % POOL] for n in shard_indices(batch, options.batch_size, rank, world)])


def register_tiny() -> None:
    register(NAME, ModelEntry(factory="training_tiny:tiny_trainable", batches="training_tiny:tiny_batches"))


def main() -> None:
    """The mimic CLI with "tiny" registered."""
    from mimic_cli.app import main as mimic_main

    register_tiny()
    mimic_main()
