"""Losses shared by the generators' training steps.

No pretrained network can be had offline (no VGG weights), so the perceptual term is the
discriminator's feature matching (pix2pixHD) plus an SSIM term: both compare structure, not
only pixels, and need no download. Images are `(B, C, H, W)` in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mimic.metrics import ssim_map

GAN_KINDS = ("lsgan", "hinge")


def _check_kind(kind: str) -> None:
    if kind not in GAN_KINDS:
        raise ValueError(f"GAN loss kind must be one of {', '.join(GAN_KINDS)}, got {kind!r}")


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, kind: str = "lsgan") -> torch.Tensor:
    """The discriminator's loss on its raw scores for real and generated inputs (any shapes):
    least squares towards 1 / 0, or the hinge `relu(1 - real) + relu(1 + fake)`."""
    _check_kind(kind)
    if kind == "lsgan":
        return 0.5 * (((real - 1) ** 2).mean() + (fake**2).mean())
    return torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()


def generator_adversarial_loss(fake: torch.Tensor, kind: str = "lsgan") -> torch.Tensor:
    """The generator's adversarial loss on the discriminator's scores of its outputs."""
    _check_kind(kind)
    if kind == "lsgan":
        return 0.5 * ((fake - 1) ** 2).mean()
    return -fake.mean()


def feature_matching_loss(real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean L1 between the discriminator's features of real and generated inputs, averaged over
    layers; the real features are treated as constants."""
    if len(real) != len(fake) or not real:
        raise ValueError(f"need the same non-zero number of feature maps, got {len(real)} and {len(fake)}")
    return sum((f - r.detach()).abs().mean() for r, f in zip(real, fake)) / len(real)


def ssim_loss(generated: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """`1 - SSIM` (differentiable), the mean over all pixels or over `mask (B, 1, H, W)` weights."""
    dissimilarity = 1.0 - ssim_map(generated, target)  # (B, H, W)
    if mask is None:
        return dissimilarity.mean()
    weight = mask[:, 0].to(dissimilarity.dtype)
    return (dissimilarity * weight).sum() / weight.sum().clamp(min=1.0)


def weighted_l1(generated: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error, each pixel weighted by `weight (B, 1, H, W)` when given (normalised
    by the weights' mean, so a weight map of ones equals plain L1)."""
    error = (generated - target).abs()
    if weight is None:
        return error.mean()
    weight = weight.to(error.dtype).expand_as(error)
    return (error * weight).sum() / weight.sum().clamp(min=1e-8)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between horizontally and vertically adjacent pixels of `x (B, C, H, W)`."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def attention_mask_loss(mask: torch.Tensor) -> torch.Tensor:
    """Regulariser of an attention/blending mask `(B, 1, H, W)` in [0, 1] (Liquid Warping GAN):
    its mean square, so it does not saturate where it need not, plus its total variation, so it
    stays smooth."""
    return (mask**2).mean() + total_variation(mask)


def gram_matrix(features: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """`(B, C, C)` Gram matrix of `features (B, C, H, W)`, normalised by the number of pixels
    counted; with `weight (B, 1, H, W)` only the weighted pixels count (a semantic region)."""
    batch, channels = features.shape[:2]
    if weight is not None:
        features = features * weight
        count = weight.flatten(1).sum(1).clamp(min=1.0)
    else:
        count = features.new_full((batch,), float(features.shape[2] * features.shape[3]))
    flat = features.reshape(batch, channels, -1)
    return flat @ flat.transpose(1, 2) / (count[:, None, None] * channels)
