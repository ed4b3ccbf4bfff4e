"""Laying a rendered body over a background with a soft edge.

A rasterized mesh has a hard, aliased silhouette; a photographed person's edge is a pixel or
two of blend. `feathered_over` blurs the coverage into an alpha and extends the body's colours
outwards under the blur, so the edge stays centred on the silhouette and no background colour
darkens it. The warp-only generator and the Liquid Warping GAN's warp-only frame both use it, so
a generator that refines that frame starts from exactly what the no-network warp draws.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_FEATHER", "feathered_over", "gaussian_blur"]

DEFAULT_FEATHER = 0.8  # pixels: Gaussian standard deviation of the silhouette's soft edge


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of `x (B, C, H, W)` with zero padding (radius `ceil(2.5 sigma)`).

    A float32 CPU tensor that needs no gradient goes through OpenCV's separable filter (the same
    values to 2e-7, 8-25x faster than torch's grouped convolution on CPU: 1.4 vs 11-34 ms at
    512 px, 4 channels); anything else through two grouped convolutions."""
    radius = max(1, math.ceil(2.5 * sigma))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    if x.device.type == "cpu" and x.dtype == torch.float32 and not (x.requires_grad and torch.is_grad_enabled()):
        taps = kernel.numpy()
        planes = x.detach().contiguous().view(-1, *x.shape[-2:]).numpy()
        blurred = np.stack([cv2.sepFilter2D(plane, -1, taps, taps, borderType=cv2.BORDER_CONSTANT) for plane in planes])
        return torch.from_numpy(blurred).view(x.shape)
    channels = x.shape[1]
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), padding=(0, radius), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), padding=(radius, 0), groups=channels)


def feathered_over(colour: torch.Tensor, covered: torch.Tensor, background: torch.Tensor, feather: float = DEFAULT_FEATHER) -> torch.Tensor:
    """The body over the background with a soft edge.

    Args:
        colour: `(B, 3, H, W)` the body's colours (read where `covered` is 1; the rest ignored).
        covered: `(B, 1, H, W)` in {0, 1}: the mesh's coverage.
        background: `(B, 3, H, W)`.
        feather: standard deviation (pixels) of the edge's Gaussian; 0 gives a hard edge.
    Returns:
        `(B, 3, H, W)`: `alpha * colour + (1 - alpha) * background` with `alpha` the blurred
        coverage and, off the body, `colour` the blur of the body's colours normalised by it.
    """
    if feather < 0:
        raise ValueError(f"feather must be >= 0, got {feather}")
    colour = colour * covered
    if feather == 0:
        return covered * colour + (1.0 - covered) * background
    blurred = gaussian_blur(torch.cat((colour, covered), 1), feather)
    alpha = blurred[:, 3:]
    spread = blurred[:, :3] / alpha.clamp(min=1e-6)
    colour = torch.lerp(spread, colour, covered)  # covered is 0 or 1 (a `where` costs 4 ms at 512 px)
    return torch.lerp(background, colour, alpha.clamp(0.0, 1.0))
