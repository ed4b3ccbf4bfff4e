"""The warp-only generator: no network, the sources' pixels moved to the target pose.

Each target pixel of the body takes the sources' colours at its surface point (the flow's
grids, mixed by the visibility weights); the part of the body no source sees takes the
subject's UV texture; the body is laid over the background with a soft edge.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mimic.core.bundles import SourceBundle, TargetBundle, check_bundles
from warping.composite import DEFAULT_FEATHER, feathered_over
from warping.texture import sample_texture

__all__ = ["WarpOnlyGenerator"]


class WarpOnlyGenerator:
    """Visible texture warped, hidden parts from the UV texture, composited with a soft edge.

    Args:
        feather: standard deviation (pixels) of the Gaussian that softens the body's edge;
            0 gives a hard edge (`warping.composite.feathered_over`).
    """

    name = "warp"

    def __init__(self, feather: float = DEFAULT_FEATHER) -> None:
        if feather < 0:
            raise ValueError(f"feather must be >= 0, got {feather}")
        self.feather = float(feather)

    def generate(self, source: SourceBundle, target: TargetBundle) -> torch.Tensor:
        """`(1, 3, H, W)` in [-1, 1]: the subject in the target's pose over `target.background`.

        Covered target pixels (`target.fragments.face_id >= 0`) take
        `sum_s weights_s * grid_sample(source.images[s], grids[s])` and, for whatever weight
        is missing up to 1 (all of it where no source sees the point), the colour of
        `source.texture` at `target.uv`. Sources are read on their person pixels only (their
        mesh's coverage, and `source.masks >= 0.5`).
        """
        check_bundles(source, target)
        images, grids, weights, face_id = source.images, target.grids, target.weights, target.fragments.face_id
        dtype = images.dtype

        # Read the sources' person pixels only (premultiplied bilinear sampling): no background
        # bleeds in at their silhouettes; a read that finds no person pixel counts as unseen.
        person = (source.fragments.face_id >= 0)[:, None].to(dtype)
        person = person * (source.masks.to(dtype) >= 0.5).to(dtype)
        read = F.grid_sample(
            torch.cat((images * person, person), 1), grids.to(dtype), mode="bilinear", padding_mode="zeros", align_corners=False
        )
        amount = read[:, 3:]
        warped = read[:, :3] / amount.clamp(min=1e-6)
        w = weights.to(dtype)[:, None] * (amount > 1e-3).to(dtype)  # (S, 1, H, W)
        colour = (warped * w).sum(0, keepdim=True)
        missing = (1.0 - w.sum(0, keepdim=True)).clamp(0.0, 1.0)
        colour = colour + missing * sample_texture(source.texture.to(dtype), target.uv)
        covered = (face_id >= 0)[:, None].to(dtype)
        return feathered_over(colour, covered, target.background.to(dtype), self.feather).clamp(-1.0, 1.0)

