"""The attentional Liquid Warping GAN (Liu et al., "Liquid Warping GAN with Attention", TPAMI
2021): three streams and Attentional Liquid Warping Blocks.

- background stream: the background with the person's hole masked out, plus the hole mask ->
  the inpainted background (kept as given outside the hole).
- source identity stream: a source image + its correspondence map -> its reconstruction. Its
  features at 1/2, 1/4 and 1/8 of the canvas are what the transfer stream borrows.
- transfer stream: the warp-only frame (the sources warped to the target pose,
  visibility-weighted, the subject's UV texture where no source sees, the background off the
  body, with `mimic.generators.warp_only`'s soft edge), the sources' visibility, the target's
  correspondence map and the background -> an RGB image and a blending mask. Its decoder
  fuses, at 1/8, 1/4 and 1/2, every source's features warped by that source's flow, with an
  `AttentionalLWB`.

Output: `image = body * mask * generated + (1 - body * mask) * warped` (`warped`: that warp-only
frame over the background stream's output; `body`: the target's body mask, the mesh's coverage
grown by a few pixels so that hair and loose clothes have room; the network draws nowhere
else). With the mask shut the output is exactly the warp-only frame: the network refines what
the no-network warp draws (`mimic.generators.warp_only` shows the same sources and texture) rather
than drawing the unseen body from nothing. With several sources, `warped` in the output weighs
them by the finest block's attention instead of by visibility alone (`fusion="attention"`, the
default; with one source the two are the same): the learned fusion picks, where more than one
source sees a pixel, the one to show. Images are `(B, 3, H, W)` in [-1, 1]; H and W divisible
by 8.

Sources: `S` per target, any number in training (`mimic.core.pairs.PairBatch.sources`) and
inference. Flows are `grids (B, S, H, W, 2)` in grid_sample coordinates (align_corners=False)
with `visibility (B, S, 1, H, W)` in [0, 1] (0: the source does not see that target pixel's
surface point).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from mimic.networks.blocks import NORMS, ResidualBlock, Upsample, conv_unit
from warping.composite import DEFAULT_FEATHER, feathered_over

__all__ = [
    "LWGANConfig",
    "LWGAN",
    "LWGANOutput",
    "AttentionalLWB",
    "SourceFeatures",
    "resample_flow",
    "warp_sources",
    "body_mask",
]

_LEVELS = 3  # stride-2 steps: the bottleneck is at 1/8 of the canvas
FUSIONS = ("attention", "visibility")


@dataclass
class LWGANConfig:
    """Rebuilds an `LWGAN` exactly.

    width: channels at 1/2 resolution; 2x, 4x at 1/4, 1/8. The default (16) runs
        the per-frame streams at >= 3 frames/s at 256x256 on 2 CPU cores; `gpu()` is wider.
    res_blocks: residual blocks at the bottleneck of the source and transfer streams.
    background_width: the background stream's `width`.
    norm: normalisation of the convolution units (`mimic.networks.blocks.NORMS`).
    body_dilation: how far the composite reaches past the mesh's silhouette, as a fraction
        of the canvas side (room for hair and loose clothes the body model lacks).
    feather: pixels, the soft edge of the warp-only frame's silhouette
        (`warping.composite.feathered_over`, as `mimic.generators.warp_only` draws it).
    fusion: how the Attentional Liquid Warping Blocks weigh the sources: "attention" (learned
        query . key plus log visibility) or "visibility" (log visibility alone: plain
        visibility weighting, the ablation of the learned part).
    """

    width: int = 16
    res_blocks: int = 2
    background_width: int = 16
    norm: str = "instance"
    body_dilation: float = 0.02
    feather: float = DEFAULT_FEATHER
    fusion: str = "attention"

    def __post_init__(self) -> None:
        if self.width < 2 or self.background_width < 2:
            raise ValueError(f"widths must be >= 2, got {self.width} and {self.background_width}")
        if self.res_blocks < 0:
            raise ValueError(f"res_blocks must be >= 0, got {self.res_blocks}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if not 0 <= self.body_dilation < 0.25:
            raise ValueError(f"body_dilation must be in [0, 0.25), got {self.body_dilation}")
        if self.feather < 0:
            raise ValueError(f"feather must be >= 0, got {self.feather}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")

    @classmethod
    def gpu(cls) -> "LWGANConfig":
        """The larger configuration for training and running on a GPU."""
        return cls(width=64, res_blocks=6, background_width=32)


def resample_flow(grids: torch.Tensor, visibility: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A flow at a coarser scale (a decoder level).

    Args:
        grids: `(N, H, W, 2)` grid_sample coordinates (resolution independent).
        visibility: `(N, 1, H, W)` in [0, 1].
        size: `(h, w)`, each dividing `H`, `W`.
    Returns:
        `grids (N, h, w, 2)`, the visibility-weighted mean of the grid over each cell (so the
        values of unseen pixels, e.g. the flow's background code -2, never mix in), and
        `visibility (N, 1, h, w)`, its mean over the cell.
    """
    height, width = grids.shape[1:3]
    h, w = size
    if (height, width) == (h, w):
        return grids, visibility
    if height % h or width % w:
        raise ValueError(f"size {size} must divide the flow's {(height, width)}")
    kernel = (height // h, width // w)
    vis = F.avg_pool2d(visibility, kernel)
    moved = F.avg_pool2d(grids.permute(0, 3, 1, 2) * visibility, kernel) / vis.clamp(min=1e-6)
    return moved.permute(0, 2, 3, 1), vis


def warp_sources(images: torch.Tensor, person: torch.Tensor, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each source's person pixels moved to the target (premultiplied bilinear sampling: no
    background bleeds in at the source's silhouette).

    Args:
        images: `(N, C, Hs, Ws)` sources (images or feature maps).
        person: `(N, 1, Hs, Ws)` in [0, 1]: which source pixels are the person.
        grids: `(N, H, W, 2)` where each target pixel reads.
    Returns:
        `warped (N, C, H, W)` (zero where nothing was read) and `read (N, 1, H, W)` in [0, 1]:
        how much person the bilinear sample found.
    """
    sampled = F.grid_sample(torch.cat((images * person, person), 1), grids, mode="bilinear", padding_mode="zeros", align_corners=False)
    read = sampled[:, -1:]
    return sampled[:, :-1] / read.clamp(min=1e-6) * (read > 1e-3).to(read.dtype), read


def body_mask(coverage: torch.Tensor, dilation: float) -> torch.Tensor:
    """Where the composite shows the transfer stream: `coverage (B, 1, H, W)` (the target mesh)
    grown by about `dilation * H` pixels, with a soft edge of about 2 pixels (the growing runs
    at half resolution, separably, and is upsampled bilinearly); `(B, 1, H, W)` in [0, 1]."""
    half = F.avg_pool2d(coverage, 2)
    radius = round(dilation * half.shape[-2])
    if radius > 0:
        half = F.max_pool2d(half, (2 * radius + 1, 1), 1, (radius, 0))
        half = F.max_pool2d(half, (1, 2 * radius + 1), 1, (0, radius))
    return F.interpolate(half, scale_factor=2.0, mode="bilinear", align_corners=False)


class AttentionalLWB(nn.Module):
    """Attentional Liquid Warping Block: fuses the features of `S` sources into the transfer
    stream at one scale.

    Every source's features are warped by its flow (resampled to this scale); a key and a
    value are projected from them, a query from the transfer stream's features; at each pixel
    the sources are weighted by `softmax_s(q . k_s / sqrt(C) + log visibility_s)`: a source
    that does not see the pixel gets no weight, and the weights sum to 1 over the sources
    wherever one sees it (0 where none does). The weighted values are projected and added to
    the transfer features.

    Args:
        channels: of the transfer stream's features (the query) and of the output.
        source_channels: of the source stream's features at this scale.
        learned: False leaves out `q . k` (weights by visibility alone; the projections stay,
            so the same weights load either way).
    """

    def __init__(self, channels: int, source_channels: int, learned: bool = True) -> None:
        super().__init__()
        self.learned = learned
        self.query = nn.Conv2d(channels, channels, 1)
        self.key = nn.Conv2d(source_channels, channels, 1)
        self.value = nn.Conv2d(source_channels, channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(
        self, x: torch.Tensor, source: torch.Tensor, grids: torch.Tensor, visibility: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            x: `(B, C, h, w)` transfer-stream features.
            source: `(B * S, Cs, hs, ws)` source-stream features, sources of one target
                consecutive.
            grids: `(B, S, H, W, 2)` the flows at full resolution (`H, W` multiples of `h, w`).
            visibility: `(B, S, 1, H, W)` in [0, 1].
        Returns:
            `(B, C, h, w)` the fused features and the attention `(B, S, 1, h, w)`.
        """
        batch, channels, h, w = x.shape
        count = grids.shape[1]
        if source.shape[0] != batch * count:
            raise ValueError(f"source features have batch {source.shape[0]}, expected {batch} x {count} sources")
        grid, vis = resample_flow(grids.flatten(0, 1), visibility.flatten(0, 1), (h, w))
        warped = F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        value = self.value(warped).view(batch, count, channels, h, w)
        logit = vis.view(batch, count, 1, h, w).clamp(min=1e-12).log()
        if self.learned:
            key = self.key(warped).view(batch, count, channels, h, w)
            logit = logit + (self.query(x).unsqueeze(1) * key).sum(2, keepdim=True) / math.sqrt(channels)
        seen = vis.view(batch, count, 1, h, w) > 1e-6
        logit = torch.where(seen, logit, torch.finfo(logit.dtype).min)
        attention = torch.softmax(logit, dim=1) * seen.any(1, keepdim=True).to(logit.dtype)
        attention = torch.where(seen, attention, 0.0)
        fused = (attention * value).sum(1)
        return x + self.out(fused), attention


class _Encoder(nn.Module):
    """`(B, in, H, W)` -> features at 1/2, 1/4, 1/8 with `width * (1, 2, 4)` channels (the
    streams work at half resolution and below: full-resolution detail comes from the warped
    sources through the blending mask)."""

    def __init__(self, in_channels: int, width: int, norm: str) -> None:
        super().__init__()
        self.down = nn.ModuleList(
            conv_unit(in_channels if i == 0 else width * 2 ** (i - 1), width * 2**i, 3, 2, norm=norm) for i in range(_LEVELS)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.down:
            x = block(x)
            features.append(x)
        return features


class _Decoder(nn.Module):
    """From the bottleneck at 1/8 up to 1/2 with additive skips of the encoder's features;
    `fuse(level, x)` runs at 1/8 (level 0), 1/4 (1) and 1/2 (2)."""

    def __init__(self, width: int, norm: str) -> None:
        super().__init__()
        self.up = nn.ModuleList(Upsample(width * 2 ** (_LEVELS - 1 - i), width * 2 ** (_LEVELS - 2 - i), norm=norm) for i in range(_LEVELS - 1))

    def forward(
        self, x: torch.Tensor, skips: list[torch.Tensor], fuse: Callable[[int, torch.Tensor], torch.Tensor] | None = None
    ) -> torch.Tensor:
        if fuse is not None:
            x = fuse(0, x)
        for i, up in enumerate(self.up):
            x = up(x) + skips[_LEVELS - 2 - i]
            if fuse is not None:
                x = fuse(i + 1, x)
        return x


def _head(width: int, out_channels: int) -> nn.Module:
    """A 3x3 convolution from the decoder's `width` channels at 1/2, upsampled (bilinear) to
    full resolution."""
    return nn.Sequential(nn.Conv2d(width, out_channels, 3, 1, 1), nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False))


class SourceFeatures(NamedTuple):
    """The source stream's features of `N` sources, coarsest first: `(N, 4w, H/8, W/8)`,
    `(N, 2w, H/4, W/4)`, `(N, w, H/2, W/2)`; and the sources' person masks `(N, 1, H, W)`."""

    levels: tuple[torch.Tensor, ...]
    person: torch.Tensor


class LWGANOutput(NamedTuple):
    """What the transfer stream gives, all `(B, C, H, W)`.

    image: the final frame (3 ch). generated: the transfer stream's RGB (3). mask: its
    blending mask (1), 1 = generated. warped: what the mask blends with (3), the warp-only
    frame: the visibility-weighted warp of the sources where some source sees the pixel, the
    subject's texture (`fill`) on the rest of the body, the background off the target mesh.
    known: where `warped` shows what the sources or the background hold (1; 0 on the texture).
    body: where the network may draw (1). attention: per AttLWB level,
    `(B, S, 1, h, w)`.
    """

    image: torch.Tensor
    generated: torch.Tensor
    mask: torch.Tensor
    warped: torch.Tensor
    known: torch.Tensor
    body: torch.Tensor
    attention: tuple[torch.Tensor, ...]


class LWGAN(nn.Module):
    """The three-stream generator; see the module docstring."""

    def __init__(self, config: LWGANConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or LWGANConfig()
        width, norm = config.width, config.norm
        bg = config.background_width
        # background stream: masked background (3) + hole (1)
        self.bg_encoder = _Encoder(4, bg, norm)
        self.bg_res = nn.Sequential(*(ResidualBlock(bg * 4, norm) for _ in range(max(1, config.res_blocks))))
        self.bg_decoder = _Decoder(bg, norm)
        self.bg_head = _head(bg, 3)
        # source identity stream: image (3) + correspondence map (4)
        self.src_encoder = _Encoder(7, width, norm)
        self.src_res = nn.Sequential(*(ResidualBlock(width * 4, norm) for _ in range(config.res_blocks)))
        self.src_decoder = _Decoder(width, norm)
        self.src_head = _head(width, 3)
        # transfer stream: warped (3) + seen (1) + target correspondence (4) + background (3)
        self.tsf_encoder = _Encoder(11, width, norm)
        self.tsf_res = nn.Sequential(*(ResidualBlock(width * 4, norm) for _ in range(config.res_blocks)))
        self.tsf_decoder = _Decoder(width, norm)
        learned = config.fusion == "attention"
        self.attlwb = nn.ModuleList(
            AttentionalLWB(width * 2 ** (_LEVELS - 1 - i), width * 2 ** (_LEVELS - 1 - i), learned) for i in range(_LEVELS)
        )
        self.tsf_head = _head(width, 4)
        # The blending mask starts nearly shut (sigmoid(-3) = 0.05): untrained, the network
        # draws close to the warp-only frame and learns where to draw instead.
        nn.init.constant_(self.tsf_head[0].bias[3:], -3.0)

    def background(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Background stream: `image (B, 3, H, W)` with `hole (B, 1, H, W)` in [0, 1] to fill
        (its pixels are ignored) -> `(B, 3, H, W)`: `image` outside the hole, inpainted in it."""
        kept = image * (1.0 - hole)
        features = self.bg_encoder(torch.cat((kept, hole), 1))
        filled = torch.tanh(self.bg_head(self.bg_decoder(self.bg_res(features[-1]), features)))
        return kept + hole * filled

    def encode_sources(self, images: torch.Tensor, correspondence: torch.Tensor, person: torch.Tensor) -> tuple[SourceFeatures, torch.Tensor]:
        """Source identity stream on `N` sources.

        Args:
            images: `(N, 3, H, W)`. correspondence: `(N, 4, H, W)` their correspondence maps.
            person: `(N, 1, H, W)` in [0, 1] their person masks (kept for warping).
        Returns:
            the features the transfer stream warps, and the reconstruction `(N, 3, H, W)`.
        """
        features = self.src_encoder(torch.cat((images, correspondence), 1))
        bottleneck = self.src_res(features[-1])
        reconstruction = torch.tanh(self.src_head(self.src_decoder(bottleneck, features)))
        return SourceFeatures((bottleneck, features[1], features[0]), person), reconstruction

    def transfer(
        self,
        sources: SourceFeatures,
        images: torch.Tensor,
        grids: torch.Tensor,
        visibility: torch.Tensor,
        correspondence: torch.Tensor,
        background: torch.Tensor,
        fill: torch.Tensor,
    ) -> LWGANOutput:
        """Transfer stream: the subject in `B` target poses, drawn over the warp-only frame
        (the network starts from what the warp shows and learns where to draw instead).

        Args:
            sources: `encode_sources` of the `B * S` sources (sources of a target consecutive).
            images: `(B * S, 3, H, W)` the source images.
            grids: `(B, S, H, W, 2)` per target pixel, where it reads in each source.
            visibility: `(B, S, 1, H, W)` in [0, 1].
            correspondence: `(B, 4, H, W)` the targets' correspondence maps (channel 3: the
                mesh's coverage).
            background: `(B, 3, H, W)` the background stream's output.
            fill: `(B, 3, H, W)` the subject's UV texture at each target body pixel (what the
                warp shows where no source sees).
        """
        batch, count, height, width = grids.shape[:4]
        if height % 2**_LEVELS or width % 2**_LEVELS:
            raise ValueError(f"H and W must be multiples of {2**_LEVELS}, got {height} x {width}")
        if visibility.shape != (batch, count, 1, height, width):
            raise ValueError(f"visibility must be {(batch, count, 1, height, width)}, got {tuple(visibility.shape)}")
        warped, read = warp_sources(images, sources.person, grids.flatten(0, 1))
        weight = visibility.flatten(0, 1) * (read > 1e-3).to(read.dtype)
        weight = weight.view(batch, count, 1, height, width)
        seen = weight.sum(1).clamp(max=1.0)
        views = warped.view(batch, count, 3, height, width)
        warped = (views * weight).sum(1) / weight.sum(1).clamp(min=1e-6)
        # The warp-only frame: the sources where seen, the texture on the rest of the body, the
        # background off it, with the warp-only generator's soft edge; `known` leaves out the
        # texture (the mask is free to replace it).
        coverage = correspondence[:, 3:]
        known = seen + (1.0 - seen) * (1.0 - coverage)
        base = feathered_over(seen * warped + (1.0 - seen) * fill, coverage, background, self.config.feather)
        features = self.tsf_encoder(torch.cat((base, seen, correspondence, background), 1))
        attention: list[torch.Tensor] = []

        def fuse(level: int, x: torch.Tensor) -> torch.Tensor:
            x, weights = self.attlwb[level](x, sources.levels[level], grids, weight)
            attention.append(weights)
            return x

        x = self.tsf_decoder(self.tsf_res(features[-1]), features, fuse)
        head = self.tsf_head(x)
        generated, mask = torch.tanh(head[:, :3]), torch.sigmoid(head[:, 3:])
        if count > 1 and self.config.fusion == "attention":
            # The warp-only frame again, the sources now weighed by the finest block's attention
            # (at 1/2, upsampled; visibility where it gives none): the learned fusion chooses
            # between sources that both see a pixel, where visibility weighting averages them.
            finest = F.interpolate(attention[-1].flatten(0, 1), size=(height, width), mode="bilinear", align_corners=False)
            chosen = weight * finest.view(batch, count, 1, height, width).clamp(min=1e-3)
            fused = (views * chosen).sum(1) / chosen.sum(1).clamp(min=1e-6)
            base = feathered_over(seen * fused + (1.0 - seen) * fill, coverage, background, self.config.feather)
        body = body_mask(coverage, self.config.body_dilation)
        image = base + body * mask * (generated - base)
        return LWGANOutput(image, generated, mask, base, known, body, tuple(attention))

    def forward(
        self,
        source_image: torch.Tensor,
        source_person: torch.Tensor,
        source_correspondence: torch.Tensor,
        grids: torch.Tensor,
        visibility: torch.Tensor,
        target_correspondence: torch.Tensor,
        plate: torch.Tensor,
        hole: torch.Tensor,
        fill: torch.Tensor,
    ) -> tuple[LWGANOutput, torch.Tensor, torch.Tensor]:
        """All three streams at once (training): `B` targets with `S` sources each.

        Args:
            source_image: `(B * S, 3, H, W)`. source_person: `(B * S, 1, H, W)` in [0, 1].
            source_correspondence: `(B * S, 4, H, W)`.
            grids: `(B, S, H, W, 2)`. visibility: `(B, S, 1, H, W)`.
            target_correspondence: `(B, 4, H, W)`.
            plate: `(B, 3, H, W)` the background; hole: `(B, 1, H, W)` the part of it to fill.
            fill: `(B, 3, H, W)` the subject's texture on the target's body (`transfer`).
        Returns:
            the transfer stream's output, the sources' reconstructions `(B * S, 3, H, W)` and
            the background stream's output `(B, 3, H, W)`.
        """
        background = self.background(plate, hole)
        features, reconstruction = self.encode_sources(source_image, source_correspondence, source_person)
        output = self.transfer(features, source_image, grids, visibility, target_correspondence, background, fill)
        return output, reconstruction, background
