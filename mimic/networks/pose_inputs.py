"""What the 2D baselines (PG2, PATN, SPT) see: images, person masks, part maps and keypoints,
never the meshes' flow (that is what makes the comparison with the Liquid Warping GAN
meaningful), from a training pair or from the pipeline's bundles; and the protocol of a trained
baseline. A baseline runs on the square canvas it was trained at (`config.size`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol

import torch

from mimic.core.bundles import SourceBundle, TargetBundle
from mimic.core.pairs import PairBatch
from mimic.core.tensors import resize_image, resize_labels, scale_keypoints
from mimic.errors import OptionError

__all__ = ["PoseTransferInputs", "PoseTransferModel"]


@dataclass
class PoseTransferInputs:
    """`B` source views and target poses on a `size` square canvas.

    source_image: `(B, 3, H, W)` in [-1, 1]. source_mask: `(B, 1, H, W)` in [0, 1].
    source_parts, target_parts: `(B, H, W)` int64 body-part labels, -1 off the body.
    source_keypoints, target_keypoints: `(B, K, 3)` project keypoints, pixels + confidence.
    """

    source_image: torch.Tensor
    source_mask: torch.Tensor
    source_parts: torch.Tensor
    source_keypoints: torch.Tensor
    target_parts: torch.Tensor
    target_keypoints: torch.Tensor

    @property
    def size(self) -> int:
        return self.source_image.shape[-1]

    @classmethod
    def from_pair(cls, batch: PairBatch, size: int) -> "PoseTransferInputs":
        """The inputs of a training pair; OptionError when its canvas is not the model's `size`."""
        if batch.size != size:
            raise OptionError(
                f"the model is configured for {size}-pixel canvases, the training pairs are {batch.size}: "
                f"train with --size {size} or pass --config size={batch.size}"
            )
        return cls(**{f.name: getattr(batch, f.name) for f in fields(cls)})

    @classmethod
    def from_bundles(cls, source: SourceBundle, target: TargetBundle, size: int) -> "PoseTransferInputs":
        """The first source and the target, resized from the pipeline's canvas to `size`."""
        scale = size / source.images.shape[-1]
        return cls(
            resize_image(source.images[:1], size),
            resize_image(source.masks[:1], size),
            resize_labels(source.parts[:1], size),
            scale_keypoints(source.keypoints[:1], scale),
            resize_labels(target.parts, size),
            scale_keypoints(target.keypoints, scale),
        )


class PoseTransferModel(Protocol):
    """A trained 2D baseline: its config has the canvas `size` it works at."""

    name: str
    config: Any

    def transfer(self, inputs: PoseTransferInputs) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`(B, 3, H, W)` in [-1, 1], the person in the target pose (with a background), and its
        person alpha `(B, 1, H, W)` in [0, 1], or None when the model predicts no person mask."""
        ...
