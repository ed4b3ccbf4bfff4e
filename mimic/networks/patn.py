"""PATN (Zhu et al., CVPR 2019, "Progressive Pose Attention Transfer for Person Image Generation").

- Two encoders: the image code from the condition image, the pose code from the condition's and
  the target's heatmaps concatenated (36 channels).
- A cascade of Pose-Attentional Transfer Blocks (`PATBlock`): the pose code's convolutions give
  an attention mask (sigmoid) that gates the image code's update, added to the image code
  (residual); the new pose code is the pose features concatenated with the new image code (so
  every block after the first reads 2C pose channels, as in the paper's code).
- A decoder from the last image code.
- Two discriminators: appearance (condition image | generated) and shape (target heatmaps |
  generated). Generator loss: both adversarial terms (summed; the paper's code multiplies them),
  L1, and the perceptual term. No pretrained VGG can be had here, so the perceptual term is the
  project's substitute (`mimic.networks.losses`): feature matching on the appearance
  discriminator plus SSIM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mimic.core.configs import config_with
from mimic.core.pairs import PairBatch
from mimic.networks.blocks import PatchDiscriminator, Upsample, conv_unit
from mimic.networks.losses import PerceptualLoss, discriminator_loss, feature_matching_loss, generator_adversarial_loss, ssim_loss, weighted_l1
from mimic.networks.pose_inputs import PoseTransferInputs
from mimic.networks.pose_maps import NUM_POSE_CHANNELS, pose_heatmaps

__all__ = ["PATNConfig", "PATBlock", "PATNGenerator", "PATN", "create_patn", "downsampling_encoder"]


@dataclass
class PATNConfig:
    """Everything that rebuilds PATN.

    size: side of the square canvas it works at, pixels. width: channels after the first
    convolution (the codes have 4x, after two stride-2 convolutions). blocks: PATBs in the
    cascade (the paper: 9). sigma: heatmap Gaussians' standard deviation, pixels at 256 (scaled
    with `size`). l1_weight, perceptual_weight: weights of L1 and of (feature matching + SSIM)
    against the two adversarial terms. lpips_weight: of the perceptual loss (LPIPS of the
    image to the target, `mimic.networks.losses.PerceptualLoss`; 0: none) with the `lpips_net`
    trunk ("alex" or "vgg"). adversarial_weight: of the adversarial terms; 0 leaves
    both discriminators unused and untrained, and the perceptual term SSIM alone (feature
    matching reads the appearance discriminator): reconstruction only, for personalization.
    lr, beta1: Adam's.
    """

    size: int = 128
    width: int = 32
    blocks: int = 5
    sigma: float = 6.0
    l1_weight: float = 10.0
    perceptual_weight: float = 2.0
    lpips_weight: float = 2.0
    lpips_net: str = "alex"
    adversarial_weight: float = 1.0
    lr: float = 2e-4
    beta1: float = 0.5

    def __post_init__(self) -> None:
        if self.size % 4:
            raise ValueError(f"size {self.size} must be divisible by 4")


class PATBlock(nn.Module):
    """One Pose-Attentional Transfer Block on codes of `channels` channels at constant `(H, W)`.

    `forward(image (B, C, H, W), pose (B, C or 2C, H, W))` -> the new image code
    `image + image_conv(image) * sigmoid(pose_conv(pose))` `(B, C, H, W)` and the new pose code
    `cat(pose_conv(pose), new image code)` `(B, 2C, H, W)`.
    """

    def __init__(self, channels: int, pose_channels: int) -> None:
        super().__init__()
        self.image_conv = nn.Sequential(conv_unit(channels, channels), conv_unit(channels, channels, activation="none"))
        self.pose_conv = nn.Sequential(conv_unit(pose_channels, channels), conv_unit(channels, channels, activation="none"))

    def attention(self, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pose features `(B, C, H, W)` and the attention mask `sigmoid` of them, in (0, 1)."""
        features = self.pose_conv(pose)
        return features, torch.sigmoid(features)

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, attention = self.attention(pose)
        image = image + self.image_conv(image) * attention
        return image, torch.cat((features, image), 1)


def downsampling_encoder(in_channels: int, width: int) -> nn.Sequential:
    """`(B, in, H, W) -> (B, 4 width, H/4, W/4)`: a 7x7 convolution, two stride-2 ones."""
    return nn.Sequential(conv_unit(in_channels, width, 7), conv_unit(width, 2 * width, 4, 2), conv_unit(2 * width, 4 * width, 4, 2))


class PATNGenerator(nn.Module):
    """`forward(image (B, 3, H, W), poses (B, 36, H, W))` -> `(B, 3, H, W)` in [-1, 1]."""

    def __init__(self, width: int, blocks: int) -> None:
        super().__init__()
        code = 4 * width
        self.image_encoder = downsampling_encoder(3, width)
        self.pose_encoder = downsampling_encoder(2 * NUM_POSE_CHANNELS, width)
        self.blocks = nn.ModuleList(PATBlock(code, code if i == 0 else 2 * code) for i in range(blocks))
        self.decoder = nn.Sequential(
            Upsample(code, 2 * width), Upsample(2 * width, width), nn.Conv2d(width, 3, 7, 1, 3), nn.Tanh()
        )

    def forward(self, image: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
        image_code, pose_code = self.image_encoder(image), self.pose_encoder(poses)
        for block in self.blocks:
            image_code, pose_code = block(image_code, pose_code)
        return self.decoder(image_code)


class PATN:
    """PATN as a Trainable (`mimic train --generator patn`) and a `PoseTransferModel`.

    nets: "g" (the generator), "d_appearance" (condition image | image), "d_shape" (target
    heatmaps | image). cache_dir: where the perceptual loss's LPIPS weights are kept (None:
    mimic's default).
    """

    name = "patn"

    def __init__(self, config: PATNConfig, device: torch.device | str = "cpu", cache_dir: Path | None = None) -> None:
        self.config = config
        c = config
        self._perceptual = PerceptualLoss(c.lpips_net, cache_dir)
        self.nets: dict[str, nn.Module] = {
            "g": PATNGenerator(c.width, c.blocks),
            "d_appearance": PatchDiscriminator(6, 2 * c.width),
            "d_shape": PatchDiscriminator(3 + NUM_POSE_CHANNELS, 2 * c.width),
        }
        for net in self.nets.values():
            net.to(device)
        discriminators = [*self.nets["d_appearance"].parameters(), *self.nets["d_shape"].parameters()]
        self._optimizers = {
            "g": torch.optim.Adam(self.nets["g"].parameters(), c.lr, betas=(c.beta1, 0.999)),
            "d": torch.optim.Adam(discriminators, c.lr, betas=(c.beta1, 0.999)),
        }

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def _heatmaps(self, inputs: PoseTransferInputs) -> tuple[torch.Tensor, torch.Tensor]:
        sigma = self.config.sigma * self.config.size / 256
        return pose_heatmaps(inputs.source_keypoints, inputs.size, sigma), pose_heatmaps(inputs.target_keypoints, inputs.size, sigma)

    def transfer(self, inputs: PoseTransferInputs) -> tuple[torch.Tensor, None]:
        """The generated image `(B, 3, H, W)` in [-1, 1]; PATN predicts no person mask."""
        source_heat, target_heat = self._heatmaps(inputs)
        return self.nets["g"](inputs.source_image, torch.cat((source_heat, target_heat), 1)), None

    def train_step(self, batch: PairBatch, step: int) -> dict[str, float]:
        """One generator step (2 adversarial + L1 + feature matching + SSIM + LPIPS), one of
        both Ds; with `adversarial_weight` 0, L1 + SSIM + LPIPS and no D step."""
        inputs = PoseTransferInputs.from_pair(batch, self.config.size)
        source_heat, target_heat = self._heatmaps(inputs)
        condition, target = batch.source_image, batch.target_image
        appearance, shape = self.nets["d_appearance"], self.nets["d_shape"]
        c = self.config
        adversarial_on = c.adversarial_weight > 0
        fake = self.nets["g"](condition, torch.cat((source_heat, target_heat), 1))
        l1 = weighted_l1(fake, target)
        perceptual = ssim_loss(fake, target)
        logs = {"l1": float(l1.detach())}
        loss = c.l1_weight * l1
        if c.lpips_weight > 0:
            lpips = self._perceptual(fake, target)
            loss = loss + c.lpips_weight * lpips
            logs["lpips"] = float(lpips.detach())
        if adversarial_on:
            for d in (appearance, shape):
                d.requires_grad_(False)
            score_app, fake_features = appearance(torch.cat((condition, fake), 1))
            score_shape = shape(torch.cat((target_heat, fake), 1))[0]
            with torch.no_grad():
                real_features = appearance(torch.cat((condition, target), 1))[1]
            adversarial = generator_adversarial_loss(score_app) + generator_adversarial_loss(score_shape)
            perceptual = perceptual + feature_matching_loss(real_features, fake_features)
            loss = loss + c.adversarial_weight * adversarial
            logs["g_adv"] = float(adversarial.detach())
        loss = loss + c.perceptual_weight * perceptual
        logs["perceptual"] = float(perceptual.detach())
        self._optimizers["g"].zero_grad(set_to_none=True)
        loss.backward()
        self._optimizers["g"].step()
        if adversarial_on:
            for d in (appearance, shape):
                d.requires_grad_(True)
            fake = fake.detach()
            loss_app = discriminator_loss(appearance(torch.cat((condition, target), 1))[0], appearance(torch.cat((condition, fake), 1))[0])
            loss_shape = discriminator_loss(shape(torch.cat((target_heat, target), 1))[0], shape(torch.cat((target_heat, fake), 1))[0])
            self._optimizers["d"].zero_grad(set_to_none=True)
            (loss_app + loss_shape).backward()
            self._optimizers["d"].step()
            logs.update({"d_appearance": float(loss_app.detach()), "d_shape": float(loss_shape.detach())})
        return logs

    def samples(self, batch: PairBatch) -> torch.Tensor:
        """`(3B, 3, H, W)`: per pair, source, target and generated images."""
        with torch.no_grad():
            fake = self.transfer(PoseTransferInputs.from_pair(batch, self.config.size))[0]
        return torch.stack((batch.source_image, batch.target_image, fake), 1).flatten(0, 1)


def create_patn(overrides: dict | None = None, device: torch.device | str = "cpu", cache_dir: Path | None = None) -> PATN:
    """PATN with its default config updated by `overrides` (config fields by name)."""
    return PATN(config_with(PATNConfig(), overrides), device, cache_dir)
