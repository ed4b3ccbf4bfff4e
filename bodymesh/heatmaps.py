"""Keypoints as Gaussian heatmaps and back: the pose input of 2D generators and the output of
text-to-pose.

Pixel centres are at integer + 0.5 (as in `warping.raster`): a keypoint at `(u, v)` pixels peaks
on the pixel whose centre is nearest.
"""

from __future__ import annotations

import torch


def keypoints_to_heatmaps(
    keypoints: torch.Tensor, height: int, width: int, sigma: float = 2.0, min_confidence: float = 0.1
) -> torch.Tensor:
    """Draws one Gaussian per keypoint.

    Args:
        keypoints: `(B, K, 3)` pixels `(u, v)` + confidence.
        height, width: heatmap size, pixels (the keypoints' image size).
        sigma: the Gaussians' standard deviation, pixels.
        min_confidence: keypoints below it get an all-zero channel.
    Returns:
        `(B, K, H, W)` in [0, 1], 1 at a keypoint (un-normalised Gaussians), on the keypoints'
        device and dtype.
    """
    if keypoints.dim() != 3 or keypoints.shape[-1] != 3:
        raise ValueError(f"keypoints must be (B, K, 3), got {tuple(keypoints.shape)}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    dtype, device = keypoints.dtype, keypoints.device
    xs = torch.arange(width, dtype=dtype, device=device) + 0.5
    ys = torch.arange(height, dtype=dtype, device=device) + 0.5
    # A 2D Gaussian is the outer product of two 1D ones: H + W exponentials instead of H * W.
    across = torch.exp(-((xs - keypoints[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, K, W)
    down = torch.exp(-((ys - keypoints[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, K, H)
    down = down * (keypoints[..., 2:3] >= min_confidence).to(dtype)
    return down[..., :, None] * across[..., None, :]


def heatmaps_to_keypoints(heatmaps: torch.Tensor, threshold: float = 0.2) -> torch.Tensor:
    """The peak of every heatmap, refined to sub-pixel precision.

    The argmax pixel is refined by a parabola through the log values of its neighbours along
    each axis (exact for a Gaussian peak away from the border).

    Args:
        heatmaps: `(B, K, H, W)` non-negative.
        threshold: a peak below it gives confidence 0 (the keypoint is absent).
    Returns:
        `(B, K, 3)`: pixels `(u, v)` and the peak value as confidence (0 below `threshold`).
    """
    if heatmaps.dim() != 4:
        raise ValueError(f"heatmaps must be (B, K, H, W), got {tuple(heatmaps.shape)}")
    batch, count, height, width = heatmaps.shape
    flat = heatmaps.reshape(batch, count, -1)
    peak, index = flat.max(-1)
    row, col = index // width, index % width
    log = heatmaps.clamp(min=1e-10).log()

    def offset(before: torch.Tensor, centre: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        curvature = before - 2 * centre + after
        step = 0.5 * (before - after) / torch.where(curvature < 0, curvature, -torch.ones_like(curvature))
        return torch.where(curvature < 0, step, torch.zeros_like(step)).clamp(-0.5, 0.5)

    def at(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return log.reshape(batch, count, -1).gather(-1, (r * width + c)[..., None])[..., 0]

    left, right = (col - 1).clamp(min=0), (col + 1).clamp(max=width - 1)
    up, down = (row - 1).clamp(min=0), (row + 1).clamp(max=height - 1)
    centre = at(row, col)
    inside_x = (col > 0) & (col < width - 1)
    inside_y = (row > 0) & (row < height - 1)
    du = torch.where(inside_x, offset(at(row, left), centre, at(row, right)), torch.zeros_like(centre))
    dv = torch.where(inside_y, offset(at(up, col), centre, at(down, col)), torch.zeros_like(centre))
    u = col.to(heatmaps.dtype) + 0.5 + du
    v = row.to(heatmaps.dtype) + 0.5 + dv
    confidence = torch.where(peak >= threshold, peak, torch.zeros_like(peak))
    return torch.stack((u, v, confidence), -1)
