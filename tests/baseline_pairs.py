"""Toy training pairs for the 2D baselines' tests: a two-colour stick person (PG2's pose mask
filled: shirt above the hips, trousers below) over a plain background, its arms down in the
source and raised in the target. The target image is a fixed function of the target pose and
the source's colours, so a generator can learn it in a few steps."""

from __future__ import annotations

import torch

from bodymesh.keypoints import KEYPOINT_INDEX, NUM_KEYPOINTS
from bodymesh.parts import PART_INDEX
from mimic.core.pairs import PairBatch
from mimic.networks.pose_maps import pose_mask

_STANDING = {
    "nose": (0.5, 0.12), "left_eye": (0.52, 0.1), "right_eye": (0.48, 0.1), "left_ear": (0.55, 0.11), "right_ear": (0.45, 0.11),
    "left_shoulder": (0.6, 0.25), "right_shoulder": (0.4, 0.25), "left_elbow": (0.65, 0.4), "right_elbow": (0.35, 0.4),
    "left_wrist": (0.67, 0.52), "right_wrist": (0.33, 0.52), "left_hip": (0.56, 0.52), "right_hip": (0.44, 0.52),
    "left_knee": (0.57, 0.7), "right_knee": (0.43, 0.7), "left_ankle": (0.57, 0.88), "right_ankle": (0.43, 0.88),
    "left_big_toe": (0.6, 0.92), "left_small_toe": (0.62, 0.91), "left_heel": (0.56, 0.9),
    "right_big_toe": (0.4, 0.92), "right_small_toe": (0.38, 0.91), "right_heel": (0.44, 0.9),
}
_ARMS_UP = {"left_elbow": (0.7, 0.18), "left_wrist": (0.75, 0.08), "right_elbow": (0.3, 0.18), "right_wrist": (0.25, 0.08)}


def toy_keypoints(size: int, arms_up: bool, shift: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """`(1, 23, 3)` keypoints (pixels of a `size` square, confidence 1) of the toy person."""
    points = torch.zeros(1, NUM_KEYPOINTS, 3)
    for name, (u, v) in {**_STANDING, **(_ARMS_UP if arms_up else {})}.items():
        points[0, KEYPOINT_INDEX[name]] = torch.tensor([(u + shift[0]) * size, (v + shift[1]) * size, 1.0])
    return points


def _render(keypoints: torch.Tensor, size: int, shirt: torch.Tensor, trousers: torch.Tensor, background: torch.Tensor):
    """Image `(1, 3, S, S)`, mask `(1, 1, S, S)` and parts `(1, S, S)` of the toy person."""
    mask = pose_mask(keypoints, size, radius=size / 32, dilate=3, erode=1)
    rows = (torch.arange(size) + 0.5)[:, None].expand(size, size)
    hip = float(keypoints[0, KEYPOINT_INDEX["left_hip"], 1])
    neck = float(keypoints[0, KEYPOINT_INDEX["left_shoulder"], 1])
    upper = (rows < hip).float()[None, None]
    colour = upper * shirt[None, :, None, None] + (1 - upper) * trousers[None, :, None, None]
    image = mask * colour + (1 - mask) * background[None, :, None, None]
    part = torch.where(rows < neck, PART_INDEX["head"], torch.where(rows < hip, PART_INDEX["torso"], PART_INDEX["left_upper_leg"]))
    parts = torch.where(mask[:, 0] > 0, part[None], torch.full_like(part[None], -1))
    return image, mask, parts


def toy_pairs(count: int = 2, size: int = 32, seed: int = 0) -> PairBatch:
    """`count` toy pairs (different colours and placements) on a `size` square canvas."""
    generator = torch.Generator().manual_seed(seed)
    pairs = []
    for _ in range(count):
        shirt, trousers, background = (torch.rand(3, generator=generator) * 2 - 1 for _ in range(3))
        shift = tuple(float(v) for v in (torch.rand(2, generator=generator) - 0.5) * 0.1)
        source_kp, target_kp = toy_keypoints(size, False), toy_keypoints(size, True, shift)
        source = _render(source_kp, size, shirt, trousers, background)
        target = _render(target_kp, size, shirt, trousers, background)
        pairs.append((source, target, source_kp, target_kp, background))
    cat = lambda items: torch.cat(list(items))  # noqa: E731
    return PairBatch(
        source_image=cat(p[0][0] for p in pairs),
        source_mask=cat(p[0][1] for p in pairs),
        source_correspondence=torch.zeros(count, 4, size, size),
        source_parts=cat(p[0][2] for p in pairs),
        source_keypoints=cat(p[2] for p in pairs),
        target_image=cat(p[1][0] for p in pairs),
        target_mask=cat(p[1][1] for p in pairs),
        target_correspondence=torch.zeros(count, 4, size, size),
        target_parts=cat(p[1][2] for p in pairs),
        target_keypoints=cat(p[3] for p in pairs),
        grid=torch.zeros(count, size, size, 2),
        visibility=torch.zeros(count, 1, size, size),
        fill=torch.zeros(count, 3, size, size),
        background=cat(p[4][None, :, None, None].expand(1, 3, size, size) for p in pairs),
    )


def toy_bundles(pairs: PairBatch, index: int, size: int):
    """The pipeline's `(SourceBundle, TargetBundle)` of pair `index`, upsampled to a `size` canvas
    (the fields a 2D baseline does not read are empty placeholders of the right shapes)."""
    import torch.nn.functional as F

    from mimic.core.bundles import SourceBundle, TargetBundle
    from warping.raster import Fragments

    pair = pairs[index]
    scale = size / pair.size

    def up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(size, size), mode="nearest")

    def labels(x: torch.Tensor) -> torch.Tensor:
        return up(x[:, None].float())[:, 0].long()

    def keypoints(x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x[..., :2] * scale, x[..., 2:]), -1)

    def fragments(parts: torch.Tensor) -> Fragments:
        return Fragments(parts, torch.zeros(*parts.shape, 3), torch.zeros(parts.shape))

    source_parts, target_parts = labels(pair.source_parts), labels(pair.target_parts)
    source = SourceBundle(
        up(pair.source_image), up(pair.source_mask), torch.zeros(1, 3, 3), fragments(source_parts), up(pair.background),
        torch.zeros(1, 3, 8, 8), torch.zeros(1, 4, size, size), source_parts, keypoints(pair.source_keypoints),
    )
    target = TargetBundle(
        torch.zeros(1, 3, 3), fragments(target_parts), torch.zeros(1, size, size, 2), torch.zeros(1, size, size, 2),
        torch.ones(1, size, size), up(pair.background), torch.zeros(1, 4, size, size), target_parts, keypoints(pair.target_keypoints),
    )
    return source, target
