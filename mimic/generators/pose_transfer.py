"""Runs a 2D baseline (PG2, PATN, SPT) in the pipeline: the pipeline's crop resized to the
canvas the model was trained at (`config.size`) and the result back, composited over the
target's background.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mimic.core.bundles import SourceBundle, TargetBundle
from mimic.core.tensors import resize_image
from mimic.networks.pose_inputs import PoseTransferInputs, PoseTransferModel

__all__ = ["PoseTransferGenerator", "body_alpha"]


def body_alpha(parts: torch.Tensor, grow: int) -> torch.Tensor:
    """The target's body coverage `parts (B, H, W) >= 0`, grown by `grow` pixels (hair and clothes
    reach past the naked body) with a one-pixel soft edge: `(B, 1, H, W)` in [0, 1]."""
    covered = (parts >= 0)[:, None].float()
    if grow > 0:
        covered = F.max_pool2d(covered, 2 * grow + 1, 1, grow)
    return F.avg_pool2d(covered, 3, 1, 1, count_include_pad=False)


class PoseTransferGenerator:
    """Runs a 2D baseline in the pipeline: the first source photo and the target's keypoints in,
    the generated person composited over `target.background` by the model's person alpha (SPT)
    or, for models without one (PG2, PATN), by the target mesh's body coverage grown by 1/32
    of the canvas. `weights`: the hash naming the model's weights (`mimic.registry.LoadedModel`)."""

    def __init__(self, model: PoseTransferModel, weights: str = "") -> None:
        self.model = model
        self.name = model.name
        self.weights = weights

    def generate(self, source: SourceBundle, target: TargetBundle) -> torch.Tensor:
        """`(1, 3, H, W)` in [-1, 1]: the subject in the target's pose over `target.background`."""
        height = source.images.shape[-1]
        inputs = PoseTransferInputs.from_bundles(source, target, self.model.config.size)
        image, alpha = self.model.transfer(inputs)
        image = resize_image(image, height)
        alpha = body_alpha(target.parts, max(1, height // 32)) if alpha is None else resize_image(alpha, height)
        alpha = alpha.to(image.dtype)
        return (alpha * image + (1 - alpha) * target.background.to(image.dtype)).clamp(-1, 1)
