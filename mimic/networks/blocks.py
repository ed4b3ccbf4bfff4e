"""Building blocks shared by the networks of mimic (LWGAN, PG2, PATN, SPT): convolution units,
residual blocks, resampling, and the patch discriminator.

Feature maps are `(B, C, H, W)`; every block keeps the input's device and dtype.
"""

from __future__ import annotations

import torch
from torch import nn

NORMS = ("instance", "batch", "none")
ACTIVATIONS = ("relu", "lrelu", "tanh", "none")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {kind!r}")


def _activation(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if kind == "tanh":
        return nn.Tanh()
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {kind!r}")


def conv_unit(
    in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, norm: str = "instance", activation: str = "relu"
) -> nn.Sequential:
    """Convolution (padding `(kernel - 1) // 2`: an odd kernel keeps H and W, `stride` 2 halves
    them) -> normalisation -> activation."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride, (kernel - 1) // 2, bias=norm == "none"),
        _norm(norm, out_channels),
        _activation(activation),
    )


class ResidualBlock(nn.Module):
    """`x + conv(act(conv(x)))` at constant `(B, C, H, W)`."""

    def __init__(self, channels: int, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(conv_unit(channels, channels, norm=norm), conv_unit(channels, channels, norm=norm, activation="none"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2 then a `conv_unit`: `(B, C_in, H, W) -> (B, C_out, 2H, 2W)` (no
    checkerboard artefacts of transposed convolutions)."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "instance", activation: str = "relu") -> None:
        super().__init__()
        self.conv = conv_unit(in_channels, out_channels, norm=norm, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator (Isola et al. 2017): a real/fake score per overlapping patch, and
    its intermediate features for the feature-matching loss.

    Args:
        in_channels: channels of its input (image plus any condition, concatenated).
        width: channels of the first layer, doubled per layer up to 8x.
        layers: stride-2 layers; the receptive field grows with them (3: 70 px patches).
    """

    def __init__(self, in_channels: int, width: int = 64, layers: int = 3, norm: str = "instance") -> None:
        super().__init__()
        blocks = [conv_unit(in_channels, width, 4, 2, norm="none", activation="lrelu")]
        channels = width
        for i in range(1, layers):
            out = width * min(2**i, 8)
            blocks.append(conv_unit(channels, out, 4, 2, norm=norm, activation="lrelu"))
            channels = out
        blocks.append(conv_unit(channels, channels, 4, 1, norm=norm, activation="lrelu"))
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(channels, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """`x (B, in_channels, H, W)` -> scores `(B, 1, H / 2**layers, W / 2**layers)` (raw,
        no sigmoid) and the feature map of every block."""
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return self.head(x), features
