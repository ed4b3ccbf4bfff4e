"""Image and pose metrics of the evaluation: SSIM, PSNR, mask-SSIM, PCK."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _gaussian(size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_map(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004, Gaussian window) of images `(B, C, H, W)` in [-1, 1],
    averaged over channels: `(B, H, W)` (borders use reflected padding)."""
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"images must be two (B, C, H, W) of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    x, y = (a.float() + 1) / 2, (b.float() + 1) / 2
    stack = torch.cat((x, y, x * x, y * y, x * y), dim=1)  # the five local means, blurred at once
    channels, pad = stack.shape[1], window // 2
    g = _gaussian(window, sigma, x)
    rows = g.view(1, 1, 1, window).expand(channels, 1, 1, window)
    cols = g.view(1, 1, window, 1).expand(channels, 1, window, 1)
    blurred = F.conv2d(F.pad(stack, (pad, pad, 0, 0), mode="reflect"), rows, groups=channels)
    blurred = F.conv2d(F.pad(blurred, (0, 0, pad, pad), mode="reflect"), cols, groups=channels)
    mu_x, mu_y, xx, yy, xy = blurred.chunk(5, dim=1)
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    value = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return value.mean(1).to(a.dtype)


def ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """`(B,)` mean SSIM of `(B, C, H, W)` images in [-1, 1]; with `mask (B, H, W)` bool, the mean
    over the masked pixels only (mask-SSIM)."""
    return masked_mean(ssim_map(a, b), mask)


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """`(B,)` mean of `values (B, H, W)`, over the pixels of `mask (B, H, W)` bool when given."""
    if mask is None:
        return values.mean((1, 2))
    weights = mask.to(values.dtype)
    return (values * weights).sum((1, 2)) / weights.sum((1, 2)).clamp(min=1)


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """`(B,)` peak signal-to-noise ratio, dB, of `(B, C, H, W)` images in [-1, 1] (peak = 1 on
    [0, 1]), over the pixels of `mask (B, H, W)` bool when given."""
    squared = (((a.double() - b.double()) / 2) ** 2).mean(1)
    error = masked_mean(squared, mask).clamp(min=1e-10)
    return (-10 * torch.log10(error)).to(a.dtype)


def pck(predicted: np.ndarray, reference: np.ndarray, threshold: float, min_confidence: float = 0.5) -> float:
    """Fraction of keypoints of `predicted (K, 3)` within `threshold` pixels of `reference
    (K, 3)` (pixels + confidence), over the keypoints confident in the reference; a keypoint
    missing from the prediction counts as wrong. NaN when the reference has none."""
    keep = reference[:, 2] >= min_confidence
    if not keep.any():
        return float("nan")
    close = np.linalg.norm(predicted[keep, :2] - reference[keep, :2], axis=1) <= threshold
    return float((close & (predicted[keep, 2] >= min_confidence)).mean())
