"""The regression baseline of "Adversarial Synthesis of Human Pose from Text" (Zhang et al.,
GCPR 2020): fully connected networks on keypoint coordinates instead of heatmaps.

The generator maps the sentence embedding (standardised and compressed as in the heatmap
model, `TextCompressor`) and noise through an MLP to the 23 keypoints' `(u, v)` in the 64 x 64
frame; the critic is an MLP on the coordinates and the compressed text. Both are trained with
the same conditional WGAN-LP as the heatmap model: critic loss `D(fake, t) + a * D(real, wrong
t) - (1 + a) * D(real, t) + lambda * LP`, generator loss `-D(G(z, t), t) - D(G(z', t_i), t_i)`
with `t_i` an interpolation of two sentences. Every keypoint is always present (confidence 1):
the coordinates have no way to say "absent", which the heatmaps do by their peak.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bodymesh.heatmaps import heatmaps_to_keypoints, keypoints_to_heatmaps
from mimic.core.configs import config_with
from mimic.text2pose.data import FRAME, SIGMA, PoseTextBatch
from mimic.text2pose.model import CONFIDENCE_THRESHOLD, Text2Pose, TextCompressor, WGANTextConfig


@dataclass
class RegressionConfig(WGANTextConfig):
    """Everything that rebuilds the MLPs and their training (`WGANTextConfig`): width, depth of
    both MLPs (hidden units, hidden layers)."""

    noise_size: int = 64
    width: int = 512
    depth: int = 3


def _mlp(inputs: int, width: int, depth: int, outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(inputs, width), nn.LeakyReLU(0.2, True)]
        inputs = width
    return nn.Sequential(*layers, nn.Linear(inputs, outputs))


class CoordinateGenerator(nn.Module):
    """Noise `(B, noise_size)` and text `(B, text_size)` -> coordinates `(B, K, 2)` in [-1, 1]
    (the frame's edges; tanh)."""

    def __init__(self, config: RegressionConfig) -> None:
        super().__init__()
        self.compress = TextCompressor(config)
        self.main = _mlp(config.noise_size + config.text_compressed, config.width, config.depth, 2 * config.keypoints)

    def forward(self, noise: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        out = self.main(torch.cat((noise, self.compress(text)), 1))
        return torch.tanh(out).view(out.shape[0], -1, 2)


class CoordinateCritic(nn.Module):
    """Coordinates `(B, K, 2)` in [-1, 1] and text `(B, text_size)` -> `(B,)` critic scores."""

    def __init__(self, config: RegressionConfig) -> None:
        super().__init__()
        self.compress = TextCompressor(config)
        self.main = _mlp(2 * config.keypoints + config.text_compressed, config.width, config.depth, 1)

    def forward(self, coordinates: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.main(torch.cat((coordinates.flatten(1), self.compress(text)), 1))[:, 0]


def to_unit(keypoints: torch.Tensor) -> torch.Tensor:
    """`(B, K, 3)` pixels of the 64 x 64 frame -> `(B, K, 2)` in [-1, 1]."""
    return keypoints[..., :2] / FRAME * 2 - 1


def from_unit(coordinates: torch.Tensor) -> torch.Tensor:
    """`(B, K, 2)` in [-1, 1] -> `(B, K, 3)` pixels of the 64 x 64 frame + confidence 1."""
    pixels = (coordinates + 1) / 2 * FRAME
    return torch.cat((pixels, torch.ones_like(pixels[..., :1])), -1)


class Text2PoseRegression(Text2Pose):
    """The trainable regression baseline (`mimic train --generator text2pose-regression`): the
    heatmap model's conditional WGAN-LP training (`Text2Pose.train_step`) on coordinates, its
    networks "generator" (`CoordinateGenerator`) and "discriminator" (`CoordinateCritic`), its
    data (`PoseTextBatch`, whose heatmaps are read back to coordinates)."""

    name = "text2pose-regression"
    config: RegressionConfig

    def __init__(self, config: RegressionConfig | None = None, device: torch.device | str = "cpu") -> None:
        super().__init__(config or RegressionConfig(), device)

    def _networks(self) -> dict[str, nn.Module]:
        return {"generator": CoordinateGenerator(self.config), "discriminator": CoordinateCritic(self.config)}

    def _real(self, batch: PoseTextBatch) -> torch.Tensor:
        """`(B, K, 2)` the real poses' coordinates in [-1, 1]."""
        return to_unit(heatmaps_to_keypoints((batch.heatmaps + 1) / 2, CONFIDENCE_THRESHOLD))

    def pose_distance(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """`(B,)` mean L1 distance between generated and real coordinates `(B, K, 2)`, in
        frame units ([-1, 1] across)."""
        return (fake - real).abs().sum(-1).mean(1)

    def points(self, output: torch.Tensor) -> torch.Tensor:
        """`(B, K, 2)` the generated coordinates themselves, in [-1, 1]."""
        return output

    def keypoints(self, text: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """`(B, K, 3)` generated keypoints in the 64 x 64 frame (pixels) + confidence 1."""
        return from_unit(self.generate(text, noise))

    def heatmaps(self, text: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """`(B, K, 64, 64)` heatmaps in [0, 1] drawn at the generated keypoints."""
        return keypoints_to_heatmaps(self.keypoints(text, noise), FRAME, FRAME, SIGMA)


def create_text2pose_regression(
    overrides: dict | None = None, device: torch.device | str = "cpu", cache_dir: Path | None = None
) -> Text2PoseRegression:
    """The model with the default config updated by `overrides` (the registry's factory; it
    needs no one-time build, so `cache_dir` is unused)."""
    return Text2PoseRegression(config_with(RegressionConfig(), overrides), device)
