"""Synthetic ground truth for the fitter: plausible random poses and shapes of a body model."""

from __future__ import annotations

import math

import torch

from bodymesh.body_model import BodyModel


def random_pose(model: BodyModel, batch: int, generator: torch.Generator, spread: float = 0.4, max_yaw: float = math.pi / 3) -> torch.Tensor:
    """`(batch, J, 3)` axis-angle poses: each joint drawn around rest, clamped to the model's
    joint limits; the body turned by up to `max_yaw` about its up axis.

    A joint's spread is `spread` radians per component for the freest joints (the smallest
    prior weight, the limbs) and shrinks as `1 / sqrt(weight)` for stiffer ones (spine, neck).
    """
    prior = model.pose_prior
    joints = len(model.joint_names)
    device = prior.weights.device
    free = prior.weights[prior.weights > 0].min()
    scale = spread * (free / prior.weights.clamp(min=float(free))).sqrt()
    components = torch.randn(batch, joints, 3, generator=generator).to(device) * scale[:, None]
    lower = prior.lower.clamp(min=-math.pi).expand_as(components)
    upper = prior.upper.clamp(max=math.pi).expand_as(components)
    components = torch.maximum(torch.minimum(components, upper), lower)
    pose = components if prior.frames is None else torch.einsum("jyx,bjy->bjx", prior.frames, components)
    yaw = (torch.rand(batch, generator=generator).to(device) * 2 - 1) * max_yaw
    pose[:, 0] = yaw[:, None] * torch.tensor(model.up_axis, device=device)
    return pose


def random_shape(model: BodyModel, batch: int, generator: torch.Generator, spread: float = 0.8) -> torch.Tensor:
    """`(batch, S)` shapes drawn around the average body."""
    return (torch.randn(batch, model.num_shape, generator=generator) * spread).to(model.faces.device)
