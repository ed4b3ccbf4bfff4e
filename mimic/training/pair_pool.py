"""A pool of training pairs made once and kept on disk, so that a training step is the network's
forward and backward only.

Making a pair (posing and rasterizing two meshes, composing the flow, unwrapping and filling the
source's texture; for synthetic pairs also rendering two people) takes about 130 ms of CPU at
128 px: the four pairs of a batch cost three times a small LWGAN's whole training step.
`build_pool` draws the first `count` pairs of the pair stream (`mimic.training.video_pairs`)
once and writes each `PairBatch` field as one array of `count` rows (floats as float16, labels
as int8) into a folder under `<cache>/pair_pools/`, named by everything that made them (the videos' and images' contents, the
canvas, the seed, the synthetic share, the count); the folder appears whole or not at all.
`pool_batches` then reads batches of pool pairs, memory-mapped: pair `n` of the run is pool
pair `hash(seed, n) mod count`, so a resumed run sees the same batches, and ranks never share one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from mimic.core.pairs import EXTRA_FIELDS, PairBatch
from mimic.core.progress import track
from mimic.pipeline.clothing import silhouette_overlap
from mimic.training.data_options import DataOptions
from mimic.training.synthetic_pairs import pair_generator, shard_indices

__all__ = ["build_pool", "pool_folder", "pool_batches", "PairPool"]

_POOL_VERSION = 2
_LABELS = ("source_parts", "target_parts")  # int64 labels in [-1, 127]: stored as int8


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _folder_digest(folder: Path | None) -> list[tuple[str, str]]:
    """(name, SHA-256) of each file of `folder`, sorted by name ([] for None)."""
    if folder is None:
        return []
    return [(p.name, _file_digest(p)) for p in sorted(Path(folder).iterdir()) if p.is_file()]


def pool_folder(options: DataOptions, count: int, root: Path) -> Path:
    """The folder under `root` of the pool of the first `count` pairs of `options`' stream."""
    made_by = {
        "version": _POOL_VERSION, "count": count, "size": options.size, "seed": options.seed,
        "synthetic_fraction": options.synthetic_fraction if options.videos is not None else 1.0,
        "max_video_frames": options.max_video_frames, "body_model": options.body_model,
        "videos": _folder_digest(options.videos), "images": _folder_digest(options.images),
    }
    if options.sources > 1:  # one-source pools keep the names they had before extra sources
        made_by["sources"] = options.sources
    key = hashlib.sha256(json.dumps(made_by, sort_keys=True).encode()).hexdigest()[:16]
    return Path(root) / f"pairs-{options.size}px-{count}-{key}"


def build_pool(pairs: Iterator[PairBatch], count: int, folder: Path, progress: bool = False) -> Path:
    """Writes the first `count` pairs of `pairs` (batches of one) into `folder`, atomically (a
    partial folder is removed on any failure); returns `folder`."""
    folder = Path(folder)
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        arrays: dict[str, np.lib.format.open_memmap] = {}
        for index in track(range(count), f"making {count} training pairs", total=count, enabled=progress):
            pair = next(pairs)
            for name, value in pair.tensors().items():
                value = value[0].cpu()
                value = value.to(torch.int8) if name in _LABELS else value.to(torch.float16)
                if name not in arrays:
                    arrays[name] = np.lib.format.open_memmap(partial / f"{name}.npy", "w+", value.numpy().dtype, (count, *value.shape))
                arrays[name][index] = value.numpy()
        for array in arrays.values():
            array.flush()
        del arrays
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder


class PairPool:
    """The pairs of a pool folder, memory-mapped."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        names = [f.name for f in fields(PairBatch) if f.name not in EXTRA_FIELDS or (self.folder / f"{f.name}.npy").is_file()]  # extras: when kept
        self._arrays = {name: np.load(self.folder / f"{name}.npy", mmap_mode="r") for name in names}
        self.count = len(self._arrays["source_image"])

    def __len__(self) -> int:
        return self.count

    def fit_iou(self, chunk: int = 256) -> np.ndarray:
        """`(count,)` per pair, the IoU of the target mesh's coverage with the target's person
        mask: how well the target frame was fitted (near 1 for synthetic pairs, whose mask is
        the render's; low where a video fit went wrong)."""
        coverage, mask = self._arrays["target_correspondence"], self._arrays["target_mask"]
        values = []
        for start in range(0, self.count, chunk):
            covered = torch.from_numpy(np.asarray(coverage[start : start + chunk, 3]) > 0.5)
            face_id = torch.where(covered, 0, -1)  # any face where the mesh covers the pixel
            values.append(silhouette_overlap(face_id, torch.from_numpy(np.array(mask[start : start + chunk, 0], dtype=np.float32)))[0].numpy())
        return np.nan_to_num(np.concatenate(values)) if values else np.zeros(0)  # nobody anywhere: 0

    def batch(self, indices: list[int]) -> PairBatch:
        """The pool pairs at `indices` as one float32 PairBatch (labels int64)."""
        values = {}
        for name, array in self._arrays.items():
            rows = torch.from_numpy(np.stack([array[i] for i in indices]))
            values[name] = rows.long() if name in _LABELS else rows.float()
        return PairBatch(**values)


def pool_batches(pool: PairPool, options: DataOptions, rank: int = 0, world: int = 1) -> Iterator[PairBatch]:
    """Endless batches of `options.batch_size` pool pairs from batch `options.start` on; pair `n`
    of the run (`shard_indices` of this rank) is kept pair `hash(options.seed, n) mod kept`, the
    kept pairs being those whose `PairPool.fit_iou` is at least `options.min_fit_iou` (all of
    them at 0). ValueError when that keeps none."""
    kept = np.arange(len(pool))
    if options.min_fit_iou > 0:
        kept = np.flatnonzero(pool.fit_iou() >= options.min_fit_iou)
        if not len(kept):
            raise ValueError(f"no pair of the pool at '{pool.folder}' has a fit IoU of {options.min_fit_iou} or more")
    batch = options.start
    while True:
        picks = [int(kept[int(torch.randint(len(kept), (1,), generator=pair_generator(options.seed, n, stream=4)))]) for n in
                 shard_indices(batch, options.batch_size, rank, world)]
        yield pool.batch(picks)
        batch += 1

