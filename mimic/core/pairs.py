"""The training example every trainable generator learns from: one source view and one target
view of the same person, with the correspondences between them, and optionally more source
views of the same target (multi-source training of the LWGAN's attention).

Video pairs (two frames of one person, fitted) and synthetic pairs (the body model rendered
twice) both become a `PairBatch`; every generator's training step takes one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch

from mimic.core.tensors import resize_image, resize_labels, scale_keypoints
from warping.checks import check_shape

__all__ = ["PairBatch", "EXTRA_FIELDS", "collate_pairs", "resize_pairs"]

EXTRA_FIELDS = ("extra_source_image", "extra_source_mask", "extra_source_correspondence", "extra_grid", "extra_visibility")


@dataclass
class PairBatch:
    """`B` source/target pairs at `H x W` (square, the pipeline's working canvas).

    source_image, target_image: `(B, 3, H, W)` in [-1, 1], RGB.
    source_mask, target_mask: `(B, 1, H, W)` person masks in [0, 1].
    source_correspondence, target_correspondence: `(B, 4, H, W)` correspondence maps of the
        fitted meshes (`warping.correspondence.correspondence_map`).
    source_parts, target_parts: `(B, H, W)` int64 body-part labels (`bodymesh.parts`), -1 off
        the body.
    source_keypoints, target_keypoints: `(B, K, 3)` keypoints in pixels + confidence, the
        project's keypoint order (`bodymesh.keypoints`).
    grid: `(B, H, W, 2)` for each target pixel, where its surface point lies in the source
        (grid_sample coordinates, align_corners=False).
    visibility: `(B, 1, H, W)` in [0, 1]: 1 where the source sees that point.
    fill: `(B, 3, H, W)` in [-1, 1]: on the target's body, the colour of the source's filled
        UV texture (`mimic.pipeline.subject_texture`) at each pixel's surface point, what the
        warp shows where the source does not see (0 off the body).
    background: `(B, 3, H, W)` in [-1, 1]: the target's background without the person
        (exact for synthetic pairs, inpainted for video pairs).
    extra_source_image, extra_source_mask, extra_source_correspondence, extra_grid,
    extra_visibility: `S'` more sources of each target (`(B, S', C, H, W)`, the grid
        `(B, S', H, W, 2)`), as the fields without `extra_`; all None (one source) or all set.
        `fill` stays the first source's texture (the pipeline's fill of several photos uses
        them all: where none sees, the two differ only in what the unseen texels borrow).
    """

    source_image: torch.Tensor
    source_mask: torch.Tensor
    source_correspondence: torch.Tensor
    source_parts: torch.Tensor
    source_keypoints: torch.Tensor
    target_image: torch.Tensor
    target_mask: torch.Tensor
    target_correspondence: torch.Tensor
    target_parts: torch.Tensor
    target_keypoints: torch.Tensor
    grid: torch.Tensor
    visibility: torch.Tensor
    fill: torch.Tensor
    background: torch.Tensor
    extra_source_image: torch.Tensor | None = None
    extra_source_mask: torch.Tensor | None = None
    extra_source_correspondence: torch.Tensor | None = None
    extra_grid: torch.Tensor | None = None
    extra_visibility: torch.Tensor | None = None

    def __post_init__(self) -> None:
        sizes = check_shape(self.source_image, "B 3 H W", "PairBatch.source_image", floating=True)
        for name, dims in (
            ("target_image", "B 3 H W"), ("source_mask", "B 1 H W"), ("target_mask", "B 1 H W"),
            ("source_correspondence", "B 4 H W"), ("target_correspondence", "B 4 H W"),
            ("source_parts", "B H W"), ("target_parts", "B H W"), ("grid", "B H W 2"),
            ("visibility", "B 1 H W"), ("fill", "B 3 H W"), ("background", "B 3 H W"),
            ("source_keypoints", "B K 3"), ("target_keypoints", "B K' 3"),
        ):
            check_shape(getattr(self, name), dims, f"PairBatch.{name}", sizes=sizes)
        extras = [getattr(self, name) is not None for name in EXTRA_FIELDS]
        if any(extras) and not all(extras):
            raise ValueError(f"PairBatch needs all of {', '.join(EXTRA_FIELDS)} or none of them")
        if all(extras):
            for name, dims in (
                ("extra_source_image", "B S 3 H W"), ("extra_source_mask", "B S 1 H W"), ("extra_source_correspondence", "B S 4 H W"),
                ("extra_grid", "B S H W 2"), ("extra_visibility", "B S 1 H W"),
            ):
                sizes = check_shape(getattr(self, name), dims, f"PairBatch.{name}", sizes=sizes)

    @property
    def sources(self) -> int:
        """Source views of each target: 1, or 1 + the extra sources' `S'`."""
        return 1 if self.extra_source_image is None else 1 + self.extra_source_image.shape[1]

    def first_source(self) -> "PairBatch":
        """The same pairs with their first source only."""
        return PairBatch(**{name: value for name, value in self.tensors().items() if name not in EXTRA_FIELDS})

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every field that is set, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @property
    def size(self) -> int:
        """The side `H` of the square canvas."""
        return self.source_image.shape[-1]

    def __len__(self) -> int:
        return self.source_image.shape[0]

    def to(self, device: torch.device | str) -> "PairBatch":
        """The same pairs with every tensor on `device`."""
        return PairBatch(**{name: value.to(device) for name, value in self.tensors().items()})

    def __getitem__(self, index: slice | int) -> "PairBatch":
        """The pairs at `index` (a slice or an int, kept as a batch of one)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return PairBatch(**{name: value[index] for name, value in self.tensors().items()})


def collate_pairs(pairs: Sequence[PairBatch]) -> PairBatch:
    """One batch from several (concatenated along the batch axis); keypoint counts and source
    counts must agree."""
    if not pairs:
        raise ValueError("collate_pairs needs at least one PairBatch")
    counts = sorted({p.sources for p in pairs})
    if len(counts) > 1:
        raise ValueError(f"collate_pairs needs pairs with one source count, got {counts}")
    names = pairs[0].tensors()
    return PairBatch(**{name: torch.cat([getattr(p, name) for p in pairs]) for name in names})


def resize_pairs(batch: PairBatch, size: int) -> PairBatch:
    """The pairs on a `size` square canvas (a baseline's `config.size`): images, masks,
    correspondence maps, visibility and the flow grid resampled (area down, bilinear up; the
    grid's normalized coordinates stay valid), part labels by nearest pixel, keypoints scaled."""
    if batch.size == size:
        return batch
    images = {name: resize_image(getattr(batch, name), size) for name in (
        "source_image", "source_mask", "source_correspondence", "target_image", "target_mask", "target_correspondence", "visibility", "fill",
        "background",
    )}
    scale = size / batch.size
    extras = {}
    if batch.sources > 1:
        extras = {name: resize_image(getattr(batch, name).flatten(0, 1), size).unflatten(0, (len(batch), batch.sources - 1)) for name in (
            "extra_source_image", "extra_source_mask", "extra_source_correspondence", "extra_visibility",
        )}
        extras["extra_grid"] = _resize_grid(batch.extra_grid.flatten(0, 1), size).unflatten(0, (len(batch), batch.sources - 1))
    return PairBatch(
        **images,
        **extras,
        source_parts=resize_labels(batch.source_parts, size),
        target_parts=resize_labels(batch.target_parts, size),
        source_keypoints=scale_keypoints(batch.source_keypoints, scale),
        target_keypoints=scale_keypoints(batch.target_keypoints, scale),
        grid=_resize_grid(batch.grid, size),
    )


def _resize_grid(grid: torch.Tensor, size: int) -> torch.Tensor:
    """`(N, H, W, 2)` grid_sample coordinates resampled to `(N, size, size, 2)` (normalized
    coordinates stay valid)."""
    return resize_image(grid.permute(0, 3, 1, 2), size).permute(0, 2, 3, 1).contiguous()
