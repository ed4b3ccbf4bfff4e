"""Losses shared by the generators' training steps.

The perceptual term is LPIPS (`PerceptualLoss`: ImageNet AlexNet or VGG16 features with the
LPIPS heads, `mimic.networks.perceptual`), beside the discriminator's feature matching (pix2pixHD) and
an SSIM term. Images are `(B, C, H, W)` in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from mimic.networks.metrics import ssim_map
from mimic.networks.perceptual import LPIPS, NETS, load_lpips

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


class PerceptualLoss:
    """The mean LPIPS distance of generated images to their targets, as a loss: gradients flow
    to the generated images, the network's weights stay frozen and are not a model's (no
    optimizer or checkpoint sees them).

    Args:
        net: "alex" (LPIPS-alex; cheap) or "vgg" (LPIPS-vgg; the papers' VGG, ~20x the cost).
        cache_dir: where the converted LPIPS weights are kept (None: mimic's default).

    The network is loaded at the first call, on that call's device, so a model built only to
    draw never reads the weights.
    """

    def __init__(self, net: str = "alex", cache_dir: Path | None = None) -> None:
        if net not in NETS:
            raise ValueError(f"perceptual net must be one of {', '.join(NETS)}, got {net!r}")
        self.net, self.cache_dir = net, cache_dir
        self._model: LPIPS | None = None

    def __call__(self, generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar: LPIPS of `generated` to `target` (constants), both `(B, 3, H, W)` in [-1, 1]
        with sides of 32 pixels or more, averaged over the batch."""
        if self._model is None:
            self._model = load_lpips(self.net, self.cache_dir, generated.device)
        self._model.to(generated.device)
        return self._model(generated, target.detach()).mean()


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


def blend_oracle_loss(mask: torch.Tensor, drawn: torch.Tensor, kept: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of a blending mask against its oracle: 1 where the drawn image is
    nearer the target than the image the mask keeps, 0 elsewhere, "nearer" by local SSIM
    (`mimic.networks.metrics.ssim_map`, an 11-pixel Gaussian window), so that a blurred guess
    over a slightly misplaced but sharp warp does not win as it does by absolute error.

    Args:
        mask: `(B, 1, H, W)` in [0, 1], 1 = `drawn`. drawn, kept, target: `(B, 3, H, W)` in [-1, 1].
        region: `(B, 1, H, W)` in [0, 1]: the pixels that count (where the mask acts).
    Returns:
        the weighted mean over `region` (0 where it is empty). The oracle is not differentiated:
        the mask learns where drawing pays, the drawing is trained by the other terms.
    """
    with torch.no_grad():
        oracle = (ssim_map(drawn, target) > ssim_map(kept, target))[:, None].to(mask.dtype)
    cross_entropy = F.binary_cross_entropy(mask.clamp(1e-6, 1.0 - 1e-6), oracle, reduction="none")
    return (cross_entropy * region).sum() / region.sum().clamp(min=1.0)


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
