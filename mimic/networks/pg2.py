"""PG2 (Ma et al., NeurIPS 2017, "Pose Guided Person Image Generation"): two stages.

- G1, a U-Net-like generator with a fully connected bottleneck (so distant body parts exchange
  information), maps the condition image and the target pose's 18 heatmaps to a coarse image,
  trained with the pose-mask L1: `|G1 - target| * (1 + pose mask)`, the mask drawn from the
  target keypoints (`mimic.networks.pose_maps.pose_mask`).
- G2, a U-Net-like generator, maps the condition image and the coarse image to a difference map
  added to the coarse image; it trains adversarially against a discriminator on (condition,
  image) pairs, plus the same pose-mask L1.

The paper trains G1, then G2 with G1 fixed; here both train from the first step, G2 on G1's
detached output (the same gradients as the paper's second stage, while G1 is still improving).
Its adversarial loss is the project's least squares GAN, not the paper's cross-entropy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mimic.core.configs import config_with
from mimic.core.pairs import PairBatch
from mimic.networks.blocks import PatchDiscriminator, ResidualBlock, Upsample, conv_unit
from mimic.networks.losses import PerceptualLoss, discriminator_loss, generator_adversarial_loss, weighted_l1
from mimic.networks.pose_inputs import PoseTransferInputs
from mimic.networks.pose_maps import NUM_POSE_CHANNELS, pose_heatmaps, pose_mask

__all__ = ["PG2Config", "UNet", "PG2", "create_pg2"]


@dataclass
class PG2Config:
    """Everything that rebuilds PG2.

    size: side of the square canvas it works at, pixels. width: channels of the first U-Net
    level (doubled per level, at most 8x). levels: stride-2 levels of each U-Net. fc_dims: units
    of G1's fully connected bottleneck (0: none). sigma: heatmap Gaussians' standard deviation,
    pixels. mask_radius, mask_dilate, mask_erode: the pose mask's limb half-width and kernels,
    pixels at 256 (scaled with `size`). l1_weight: weight of the pose-mask L1 terms against the
    adversarial one. lpips_weight: of the perceptual loss (LPIPS of the refined image to the
    target, `mimic.networks.losses.PerceptualLoss`; 0: none) with the `lpips_net` trunk
    ("alex" or "vgg"). adversarial_weight: of the adversarial term; 0 leaves the discriminator
    unused and untrained (reconstruction only: personalization). lr, beta1: Adam's.
    """

    size: int = 128
    width: int = 32
    levels: int = 4
    fc_dims: int = 32
    sigma: float = 6.0
    mask_radius: float = 4.0
    mask_dilate: int = 15
    mask_erode: int = 5
    l1_weight: float = 10.0
    lpips_weight: float = 2.0
    lpips_net: str = "alex"
    adversarial_weight: float = 1.0
    lr: float = 2e-4
    beta1: float = 0.5

    def __post_init__(self) -> None:
        if self.size % 2**self.levels:
            raise ValueError(f"size {self.size} must be divisible by 2**levels = {2**self.levels}")

    def scaled(self, pixels: float) -> float:
        """A length given at a 256 canvas, at this canvas."""
        return pixels * self.size / 256


class UNet(nn.Module):
    """U-Net: `levels` stride-2 encoder levels (conv unit + residual block each), an optional
    fully connected bottleneck, a mirrored decoder with skip connections.

    `(B, in_channels, H, W) -> (B, out_channels, H, W)` (raw: no output activation); `H` and `W`
    divisible by `2**levels`, and equal to `size` when `fc_dims > 0`.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int, levels: int, fc_dims: int = 0, size: int = 0) -> None:
        super().__init__()
        chans = [width * min(2**i, 8) for i in range(levels + 1)]
        self.stem = conv_unit(in_channels, chans[0], 3)
        self.down = nn.ModuleList(
            nn.Sequential(conv_unit(chans[i], chans[i + 1], 4, 2), ResidualBlock(chans[i + 1])) for i in range(levels)
        )
        self.fc: nn.Module | None = None
        if fc_dims:
            side = size // 2**levels
            flat = chans[-1] * side * side
            self.fc = nn.Sequential(
                nn.Flatten(), nn.Linear(flat, fc_dims), nn.ReLU(inplace=True), nn.Linear(fc_dims, flat), nn.Unflatten(1, (chans[-1], side, side))
            )
        self.up = nn.ModuleList(Upsample(chans[i + 1], chans[i]) for i in reversed(range(levels)))
        self.merge = nn.ModuleList(conv_unit(2 * chans[i], chans[i]) for i in reversed(range(levels)))
        self.head = nn.Conv2d(chans[0], out_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        skips = []
        for down in self.down:
            skips.append(x)
            x = down(x)
        if self.fc is not None:
            x = x + self.fc(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            x = merge(torch.cat((up(x), skip), 1))
        return self.head(x)


class PG2:
    """PG2 as a Trainable (`mimic train --generator pg2`) and a `PoseTransferModel`.

    nets: "g1" (condition image + target heatmaps -> coarse image), "g2" (condition image +
    coarse image -> difference map), "d" (condition image + image -> patch scores).
    cache_dir: where the perceptual loss's LPIPS weights are kept (None: mimic's default).
    """

    name = "pg2"

    def __init__(self, config: PG2Config, device: torch.device | str = "cpu", cache_dir: Path | None = None) -> None:
        self.config = config
        c = config
        self._perceptual = PerceptualLoss(c.lpips_net, cache_dir)
        self.nets: dict[str, nn.Module] = {
            "g1": UNet(3 + NUM_POSE_CHANNELS, 3, c.width, c.levels, c.fc_dims, c.size),
            "g2": UNet(6, 3, c.width, c.levels),
            "d": PatchDiscriminator(6, 2 * c.width),
        }
        for net in self.nets.values():
            net.to(device)
        self._optimizers = {
            "g": torch.optim.Adam([*self.nets["g1"].parameters(), *self.nets["g2"].parameters()], c.lr, betas=(c.beta1, 0.999)),
            "d": torch.optim.Adam(self.nets["d"].parameters(), c.lr, betas=(c.beta1, 0.999)),
        }

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def stages(self, inputs: PoseTransferInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """The coarse image `(B, 3, H, W)` (tanh, [-1, 1]) of G1 and the refined one, coarse
        plus G2's difference map (G2 sees the coarse image detached)."""
        heat = pose_heatmaps(inputs.target_keypoints, inputs.size, self.config.scaled(self.config.sigma))
        coarse = torch.tanh(self.nets["g1"](torch.cat((inputs.source_image, heat), 1)))
        stage1 = coarse.detach()
        return coarse, stage1 + self.nets["g2"](torch.cat((inputs.source_image, stage1), 1))

    def transfer(self, inputs: PoseTransferInputs) -> tuple[torch.Tensor, None]:
        """The refined image `(B, 3, H, W)` in [-1, 1]; PG2 predicts no person mask."""
        return self.stages(inputs)[1].clamp(-1, 1), None

    def pose_mask(self, keypoints: torch.Tensor) -> torch.Tensor:
        """The pose mask `(B, 1, H, W)` of `keypoints (B, K, 3)` at this canvas."""
        c = self.config
        kernels = (max(1, int(round(c.scaled(n))) // 2 * 2 + 1) for n in (c.mask_dilate, c.mask_erode))  # odd sides
        return pose_mask(keypoints, c.size, c.scaled(c.mask_radius), *kernels)

    def train_step(self, batch: PairBatch, step: int) -> dict[str, float]:
        """One step of G1 + G2 (pose-mask L1 on both; LPIPS and adversarial on G2's) and one of
        D (none when `adversarial_weight` is 0)."""
        inputs = PoseTransferInputs.from_pair(batch, self.config.size)
        target, condition = batch.target_image, batch.source_image
        weight = 1 + self.pose_mask(batch.target_keypoints)
        d = self.nets["d"]
        adversarial_on = self.config.adversarial_weight > 0
        coarse, refined = self.stages(inputs)
        l1_coarse = weighted_l1(coarse, target, weight)
        l1_refined = weighted_l1(refined, target, weight)
        loss = self.config.l1_weight * (l1_coarse + l1_refined)
        logs = {"l1_coarse": float(l1_coarse.detach()), "l1_refined": float(l1_refined.detach())}
        if self.config.lpips_weight > 0:
            perceptual = self._perceptual(refined, target)
            loss = loss + self.config.lpips_weight * perceptual
            logs["lpips"] = float(perceptual.detach())
        if adversarial_on:
            d.requires_grad_(False)
            adversarial = generator_adversarial_loss(d(torch.cat((condition, refined), 1))[0])
            loss = loss + self.config.adversarial_weight * adversarial
            logs["g_adv"] = float(adversarial.detach())
        self._optimizers["g"].zero_grad(set_to_none=True)
        loss.backward()
        self._optimizers["g"].step()
        if adversarial_on:
            d.requires_grad_(True)
            real = d(torch.cat((condition, target), 1))[0]
            fake = d(torch.cat((condition, refined.detach()), 1))[0]
            loss_d = discriminator_loss(real, fake)
            self._optimizers["d"].zero_grad(set_to_none=True)
            loss_d.backward()
            self._optimizers["d"].step()
            logs["d"] = float(loss_d.detach())
        return logs

    def samples(self, batch: PairBatch) -> torch.Tensor:
        """`(4B, 3, H, W)`: per pair, source, target, coarse and refined images."""
        with torch.no_grad():
            coarse, refined = self.stages(PoseTransferInputs.from_pair(batch, self.config.size))
        return torch.stack((batch.source_image, batch.target_image, coarse, refined.clamp(-1, 1)), 1).flatten(0, 1)


def create_pg2(overrides: dict | None = None, device: torch.device | str = "cpu", cache_dir: Path | None = None) -> PG2:
    """PG2 with its default config updated by `overrides` (config fields by name)."""
    return PG2(config_with(PG2Config(), overrides), device, cache_dir)
