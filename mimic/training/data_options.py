"""What a model's `batches` factory (`mimic.registry`) may use to make its training data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataOptions"]


@dataclass
class DataOptions:
    """What a `batches` factory may use.

    batch_size: examples per batch on each rank. size: side of the square canvas, pixels.
    seed: the data's seed (same seed, same batches). start: index of the first batch to yield
    (the trainer's step when it resumes). videos: a folder of videos of people (None: none).
    images: a folder of images for texture and background patches (None: procedural only).
    synthetic_fraction: share of synthetic pairs when there are videos (1 without videos).
    cache_dir: where per-video detection and fits are cached (None: ~/.cache/mimic).
    max_video_frames: use only the first frames of each video (None: all).
    body_model: the body model meshes come from. progress: show progress bars (rank 0).
    pool: make this many pairs once, keep them on disk and train on them
    (`mimic.training.pair_pool`); 0: every pair is made when it is used.
    min_fit_iou: train only on the pool's pairs whose target mesh overlaps the target's person
    mask by at least this IoU (leaves out frames whose fit went wrong); 0: every pair.
    sources: source views of each pair's target (`mimic.core.pairs.PairBatch.sources`): 2 or
    more add other frames of the clip, and the synthetic person seen from behind.
    """

    batch_size: int = 8
    size: int = 256
    seed: int = 0
    start: int = 0
    videos: Path | None = None
    images: Path | None = None
    synthetic_fraction: float = 0.5
    cache_dir: Path | None = None
    max_video_frames: int | None = None
    body_model: str = "anny"
    progress: bool = False
    pool: int = 0
    min_fit_iou: float = 0.0
    sources: int = 1
