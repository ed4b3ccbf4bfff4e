"""The warp-only generator: no network, the sources' pixels moved to the target pose.

Each target pixel of the body takes the sources' colours at its surface point (the flow's
grids, mixed by the visibility weights); the part of the body no source sees takes the
subject's UV texture; the body is laid over the background with a soft edge.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mimic.core.bundles import SourceBundle, TargetBundle, check_bundles
from warping.texture import sample_texture

__all__ = ["WarpOnlyGenerator"]


class WarpOnlyGenerator:
    """Visible texture warped, hidden parts from the UV texture, composited with a soft edge.

    Args:
        feather: standard deviation (pixels) of the Gaussian that softens the body's edge;
            0 gives a hard edge. The edge stays centred on the silhouette (the body's colours
            are extended outwards under the blur).
    """

    name = "warp"

    def __init__(self, feather: float = 0.8) -> None:
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
        colour = colour * covered

        if self.feather > 0:
            alpha = _blur(covered, self.feather)
            spread = _blur(colour, self.feather) / alpha.clamp(min=1e-6)
            colour = torch.where(covered > 0, colour, spread)
        else:
            alpha = covered
        alpha = alpha.clamp(0.0, 1.0)
        out = alpha * colour + (1.0 - alpha) * target.background.to(dtype)
        return out.clamp(-1.0, 1.0)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of `(1, C, H, W)` with zero padding (radius `ceil(2.5 sigma)`)."""
    radius = max(1, math.ceil(2.5 * sigma))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), padding=(0, radius), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), padding=(radius, 0), groups=channels)
