"""The training example every trainable generator learns from: one source view and one target
view of the same person, with the correspondences between them.

Video pairs (two frames of one person, fitted) and synthetic pairs (the body model rendered
twice) both become a `PairBatch`; every generator's training step takes one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch

from mimic.core.tensors import resize_image, resize_labels, scale_keypoints
from warping.checks import check_shape

__all__ = ["PairBatch", "collate_pairs", "resize_pairs"]


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

    @property
    def size(self) -> int:
        """The side `H` of the square canvas."""
        return self.source_image.shape[-1]

    def __len__(self) -> int:
        return self.source_image.shape[0]

    def to(self, device: torch.device | str) -> "PairBatch":
        """The same pairs with every tensor on `device`."""
        return PairBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def __getitem__(self, index: slice | int) -> "PairBatch":
        """The pairs at `index` (a slice or an int, kept as a batch of one)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return PairBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def collate_pairs(pairs: Sequence[PairBatch]) -> PairBatch:
    """One batch from several (concatenated along the batch axis); keypoint counts must agree."""
    if not pairs:
        raise ValueError("collate_pairs needs at least one PairBatch")
    return PairBatch(**{f.name: torch.cat([getattr(p, f.name) for p in pairs]) for f in fields(PairBatch)})


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
    return PairBatch(
        **images,
        source_parts=resize_labels(batch.source_parts, size),
        target_parts=resize_labels(batch.target_parts, size),
        source_keypoints=scale_keypoints(batch.source_keypoints, scale),
        target_keypoints=scale_keypoints(batch.target_keypoints, scale),
        grid=resize_image(batch.grid.permute(0, 3, 1, 2), size).permute(0, 2, 3, 1).contiguous(),
    )
