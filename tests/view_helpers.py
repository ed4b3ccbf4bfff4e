"""Synthetic subjects for the view and swap tests: bodies rendered with flat per-part colours
on a small canvas, fitted exactly."""

import torch

from bodymesh.fit import BodyFit
from mimic.core.tensors import to_image
from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.pipeline.imitator import Imitator, ImitatorConfig
from mimic.tasks.swap import texel_parts
from mimic.training.synthetic_person import procedural_background, render_person
from warping.texture import pad_islands

SIZE = 128


def palette(count: int, seed: int) -> torch.Tensor:
    """`(count, 3)` distinct colours in [-1, 1] (levels -0.9, -0.3, 0.3, 0.9 per channel)."""
    levels = torch.tensor([-0.9, -0.3, 0.3, 0.9])
    grid = torch.cartesian_prod(levels, levels, levels)
    return grid[torch.randperm(len(grid), generator=torch.Generator().manual_seed(seed))[:count]]


def part_texture(imitator: Imitator, colours: torch.Tensor) -> torch.Tensor:
    """`(1, 3, T, T)`: every texel the colour of its body part (`colours (NUM_PARTS, 3)`)."""
    parts = texel_parts(imitator)
    texture = colours[parts.clamp(min=0)].permute(0, 3, 1, 2)
    return pad_islands(texture, (parts >= 0)[:, None], 4)


def nearest_colour(image: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
    """`(H, W)` index of the colour of `colours (C, 3)` nearest each pixel of `(1, 3, H, W)`."""
    return torch.cdist(image[0].permute(1, 2, 0).reshape(-1, 3), colours).argmin(1).view(image.shape[-2:])


def camera(scale: float = 52.0) -> torch.Tensor:
    """`(1, 3)`: the body centred on the canvas (pelvis on the middle column)."""
    return torch.tensor([[scale, SIZE / 2, SIZE / 2 + 4.0]])


def synthetic_subject(imitator, textures, poses, shape, cams, seed=0):
    """A subject from renders of the body (no shading) in `poses` with `textures`, fitted exactly."""
    body = imitator.body
    background = procedural_background(SIZE, SIZE, seed=seed)
    crops, masks, fits = [], [], []
    with torch.no_grad():
        for texture, pose, cam in zip(textures, poses, cams):
            image, mask = render_person(body, pose, shape, cam, texture, background, SIZE, SIZE, shading=False)
            crops.append(to_image(image))
            masks.append(mask[0, 0].numpy())
            keypoints = torch.zeros(23, 3)
            fits.append(BodyFit(pose[0], shape[0], cam[0], keypoints, keypoints[:, :2]))
        return imitator.subject(crops, masks, fits)


def view_imitator(body) -> Imitator:
    """The warp-only pipeline on the small canvas, hard-edged (colours stay exact)."""
    return Imitator(body, WarpOnlyGenerator(feather=0.0), ImitatorConfig(size=SIZE, texture_size=128))
