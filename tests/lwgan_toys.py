"""A hand-made training pair for the LWGAN tests: a textured blob moved by a known shift, so the
flow, visibility and correspondences are exact without a body model."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mimic.core.pairs import PairBatch
from mimic.networks.lwgan import LWGANConfig
from warping.sampler import identity_grid

TINY = LWGANConfig(width=4, res_blocks=1, background_width=4)
"""The smallest LWGAN the tests train."""

def toy_pair(size: int = 32, batch: int = 1, shift: int = 4, seed: int = 0) -> PairBatch:
    """`batch` pairs on a `size` canvas: an ellipse "person" with a smooth random texture over a
    plain background (source), and the same person moved `shift` pixels right and down
    (target). Correspondence codes are the person's own coordinates, so they move with it."""
    generator = torch.Generator().manual_seed(seed)
    texture = F.interpolate(torch.rand(batch, 3, 6, 6, generator=generator) * 2 - 1, size=(size, size), mode="bilinear", align_corners=False)
    axis = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    y, x = torch.meshgrid(axis, axis, indexing="ij")

    def person(dx: float, dy: float) -> tuple[torch.Tensor, torch.Tensor]:
        inside = (((x - dx) / 0.45) ** 2 + ((y - dy) / 0.7) ** 2 <= 1).float()[None, None].expand(batch, 1, -1, -1)
        code = torch.stack((x - dx, y - dy, (x - dx) * (y - dy)))[None].expand(batch, -1, -1, -1)
        return inside, torch.cat((code * inside, inside), 1)

    step = 2.0 * shift / size
    source_mask, source_correspondence = person(0.0, 0.0)
    target_mask, target_correspondence = person(step, step)
    background = torch.linspace(-0.6, 0.2, size)[None, None, :, None].expand(batch, 3, size, size).contiguous()
    grid = identity_grid(batch, size, size) - step
    source_image = source_mask * texture + (1 - source_mask) * background
    target_image = F.grid_sample(source_image * source_mask, grid, align_corners=False) + (1 - target_mask) * background
    parts = lambda m: torch.where(m[:, 0] > 0, 0, -1).long()  # noqa: E731
    keypoints = torch.full((batch, 23, 3), size / 2.0)
    keypoints[..., 2] = 1.0
    return PairBatch(
        source_image=source_image, source_mask=source_mask, source_correspondence=source_correspondence,
        source_parts=parts(source_mask), source_keypoints=keypoints,
        target_image=target_image, target_mask=target_mask, target_correspondence=target_correspondence,
        target_parts=parts(target_mask), target_keypoints=keypoints + shift * torch.tensor([1.0, 1.0, 0.0]),
        grid=grid, visibility=target_mask.clone(), fill=target_mask * texture.mean((2, 3), keepdim=True), background=background,
    )
