"""`mimic train`: a model of the registry trained on video pairs and synthetic pairs (or its own
data), resumed from the newest checkpoint of its output folder, on one process or under
torchrun (`mimic.training.distributed`)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from mimic import registry
from mimic.errors import InputError, OptionError
from mimic.training.checkpoint import checkpoint_step, latest_checkpoint, load_nets, load_weights
from mimic.training.data_options import DataOptions
from mimic.training.distributed import distributed_run
from mimic.training.trainer import TrainOptions, TrainResult, train

__all__ = ["TrainRun", "check_training_inputs", "train_model"]


@dataclass
class TrainRun:
    """What a training run did: the trainer's `result`, the wall-clock `seconds` and this
    process's `rank` (only rank 0 reports)."""

    result: TrainResult
    seconds: float
    rank: int


def check_training_inputs(
    generator: str, videos: Path | None, images: Path | None, pool: int = 0, min_fit_iou: float = 0.0, sources: int = 1
) -> None:
    """Before anything is loaded: an unknown model name, a missing or empty `videos` folder, an
    `images` path that is not a folder, a pair pool or several sources for a model that trains
    on no pairs and a fit-IoU filter without a pool fail with one line."""
    chosen = registry.trainable_entry(generator)
    if min_fit_iou > 0 and not pool:
        raise OptionError("--min-fit-iou picks pairs of a pair pool; give --pair-pool too")
    for option, used in (("--pair-pool", pool), ("--sources", sources > 1)):
        if used and chosen.batches != registry.ModelEntry.batches:
            raise OptionError(f"{option} is for the models that train on image pairs; {generator} makes its own data")
    if videos is not None and chosen.batches == registry.ModelEntry.batches:
        from mimic.training.video_pairs import video_files

        video_files(videos)
    elif videos is not None:  # a model with its own data reads the folder its way (text2pose: fits)
        if not videos.is_dir():
            raise OptionError(f"--videos '{videos}' is not a folder")
        if not any(path.is_file() for path in videos.rglob("*")):
            raise InputError(f"no videos in '{videos}': the folder is empty")
    if images is not None and not images.is_dir():
        raise OptionError(f"--images '{images}' is not a folder")


def train_model(
    generator: str,
    out: Path,
    data: DataOptions,
    options: TrainOptions,
    overrides: dict | None = None,
    init: Path | None = None,
    device: str = "cpu",
    on_resume: Callable[[Path, int], None] | None = None,
) -> TrainRun:
    """Trains model `generator` into `out` (resuming from its newest checkpoint).

    Args:
        data: the data's options (`data.start` is set by the trainer on resume).
        overrides: config fields changed from the model's defaults.
        init: start from this checkpoint's weights and config (fine-tuning: fresh optimizers,
            step 0); `overrides` change its config; a checkpoint in `out` wins.
        device: where to train ("cuda" under torchrun: each rank's own GPU).
        on_resume: called on rank 0 with the checkpoint and its step when a run resumes.
    The networks start from `data.seed` on every rank; each rank's data and other randomness
    from `data.seed + rank`.
    """
    check_training_inputs(generator, data.videos, data.images, data.pool, data.min_fit_iou, data.sources)
    overrides = dict(overrides or {})
    start_weights = None
    if init is not None:
        init_name, init_config, start_weights = load_weights(init)
        if init_name != generator:
            raise OptionError(f"--init '{init}' holds a {init_name!r} model, not {generator!r}")
        overrides = {**init_config, **overrides}
    with distributed_run(device) as ranks:
        newest = latest_checkpoint(out)
        if newest is not None and ranks.rank == 0 and on_resume is not None:
            on_resume(newest, checkpoint_step(newest))
        torch.manual_seed(data.seed)  # the same initial weights on every rank
        model = registry.create(generator, overrides, ranks.device, data.cache_dir)
        if start_weights is not None:
            load_nets(model, start_weights, init)
        torch.manual_seed(data.seed + ranks.rank)
        random.seed(data.seed + ranks.rank)
        np.random.seed(data.seed + ranks.rank)
        data = replace(data, progress=data.progress and ranks.rank == 0)
        options = replace(options, progress=options.progress and ranks.rank == 0)
        clock = time.perf_counter()

        def batches(start: int):
            return registry.batches(generator, replace(data, start=start), ranks.rank, ranks.world)

        result = train(model, batches, out, options, ranks.device)
    return TrainRun(result, time.perf_counter() - clock, ranks.rank)
