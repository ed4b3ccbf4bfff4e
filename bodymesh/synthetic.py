"""Synthetic ground truth for the fitter: plausible random poses and shapes of a body model."""

from __future__ import annotations

import math

import torch

from bodymesh.body_model import BodyModel, BodyOutput
from bodymesh.camera import project
from bodymesh.keypoints import KEYPOINT_INDEX


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


def synthetic_detection(
    model: BodyModel, generator: torch.Generator, camera: torch.Tensor, noise_px: float = 2.0
) -> tuple[BodyOutput, torch.Tensor]:
    """A random body and its keypoints as a detector would give them.

    Args:
        camera: `(1, 3)` weak-perspective camera to project with.
        noise_px: standard deviation of the Gaussian noise added to each keypoint, pixels.
    Returns:
        The true body (batch 1) and `(K, 3)` noisy pixels + confidence (0 for the small toes,
        which BlazePose does not give, 1 elsewhere).
    """
    truth = model.forward(random_pose(model, 1, generator), random_shape(model, 1, generator))
    pixels = project(truth.keypoints, camera)[0]
    pixels = pixels + noise_px * torch.randn(pixels.shape, generator=generator).to(pixels.device)
    confidence = torch.ones(pixels.shape[0], 1, device=pixels.device)
    confidence[[KEYPOINT_INDEX["left_small_toe"], KEYPOINT_INDEX["right_small_toe"]]] = 0.0
    return truth, torch.cat([pixels, confidence], dim=1)


def procrustes_error(fitted: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean distance between `(N, 3)` point sets after the best similarity alignment of `fitted`
    onto `truth` (the PA-MPJPE of pose estimation), in the points' units."""
    fitted, truth = fitted.double(), truth.double()
    a, b = fitted - fitted.mean(0), truth - truth.mean(0)
    u, s, vt = torch.linalg.svd(a.T @ b)
    d = torch.diag(torch.tensor([1.0, 1.0, float(torch.sign(torch.det(u @ vt)))], dtype=torch.float64, device=a.device))
    scale = (s * torch.diag(d)).sum() / (a**2).sum()
    return float((scale * a @ (u @ d @ vt) - b).norm(dim=-1).mean())
