"""Pose and shape priors of the fitter, and its robust 2D data term."""

from __future__ import annotations

import math

import torch

from bodymesh.body_model import PosePrior
from bodymesh.keypoints import KEYPOINT_INDEX

_PAIRS = {name: (KEYPOINT_INDEX[f"left_{name}"], KEYPOINT_INDEX[f"right_{name}"]) for name in ("shoulder", "hip", "ankle", "ear")}


def pose_prior_loss(pose: torch.Tensor, prior: PosePrior) -> torch.Tensor:
    """Weighted squared rotation angles: `pose (B, J, 3)` axis-angle -> `(B,)`."""
    return ((pose**2).sum(-1) * prior.weights).sum(-1)


def limit_frames(prior: PosePrior) -> torch.Tensor:
    """`(J, 3, 3)` the rotations taking each joint's axis-angle into its limit frame."""
    if prior.frames is not None:
        return prior.frames
    return torch.eye(3, dtype=prior.lower.dtype, device=prior.lower.device).expand(prior.lower.shape[0], 3, 3)


def joint_limit_excess(pose: torch.Tensor, prior: PosePrior) -> torch.Tensor:
    """`(B, J, 3)` how far each axis-angle component of `pose (B, J, 3)` lies beyond its soft
    limits, in each joint's limit frame (negative below the lower one, zero inside)."""
    components = torch.einsum("jxy,bjy->bjx", limit_frames(prior), pose)
    return torch.relu(components - prior.upper) - torch.relu(prior.lower - components)


def joint_limit_loss(pose: torch.Tensor, prior: PosePrior) -> torch.Tensor:
    """Squared excess of each axis-angle component beyond its soft limits, in each joint's
    limit frame: `pose (B, J, 3)` -> `(B,)` (zero inside the limits)."""
    return (joint_limit_excess(pose, prior) ** 2).sum((-1, -2))


def shape_prior_loss(shape: torch.Tensor) -> torch.Tensor:
    """Squared distance to the average body: `shape (B, S)` -> `(B,)`."""
    return (shape**2).sum(-1)


def _squared_distance(projected: torch.Tensor, detected: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """`(B, K)` squared distances of `projected (B, K, 2)` to `detected (B, K, 2+)`, in units of `scale (B,)`."""
    return ((projected - detected[..., :2]) ** 2).sum(-1) / scale[:, None] ** 2


def robust_keypoint_loss(
    projected: torch.Tensor, detected: torch.Tensor, scale: torch.Tensor, sigma: float
) -> torch.Tensor:
    """Confidence-weighted Geman-McClure distance between projected and detected keypoints.

    Args:
        projected: `(B, K, 2)` pixels. detected: `(B, K, 3)` pixels + confidence.
        scale: `(B,)` pixels that distances are divided by (the person's height), so the loss
            and `sigma` do not depend on image size.
        sigma: distance (in units of `scale`) beyond which a residual stops growing, so one
            wrong keypoint cannot drag the fit.
    Returns:
        `(B,)` mean over keypoints of `conf * sigma^2 r^2 / (sigma^2 + r^2)`, `r` = distance.
    """
    squared = _squared_distance(projected, detected, scale)
    robust = sigma**2 * squared / (sigma**2 + squared)
    return (detected[..., 2] * robust).mean(-1)


def robust_keypoint_weights(projected: torch.Tensor, detected: torch.Tensor, scale: torch.Tensor, sigma: float) -> torch.Tensor:
    """`(B, K)` the reweighting of `robust_keypoint_loss` (same arguments) at these distances:
    its slope in each keypoint's squared distance, so that near here the loss changes as
    `sum_k w_k |projected_k - detected_k|^2 / scale^2` does (iteratively reweighted least squares)."""
    squared = _squared_distance(projected, detected, scale)
    return detected[..., 2] * sigma**4 / (sigma**2 + squared) ** 2 / detected.shape[-2]


def _middle(points: torch.Tensor, name: str) -> torch.Tensor:
    left, right = _PAIRS[name]
    return (points[..., left, :] + points[..., right, :]) / 2


def standing_weight(detected: torch.Tensor, tolerance_deg: float = 25.0, min_confidence: float = 0.3) -> torch.Tensor:
    """How much a detected person looks like someone standing: 1 when, in the image, the torso
    (hips to shoulders) and the legs (ankles to hips) both point up within `tolerance_deg`,
    falling to 0 at twice that; 0 when a hip, shoulder or ankle is not confident.

    Args:
        detected: `(B, K, 3)` pixels (y down) + confidence.
    Returns:
        `(B,)` in [0, 1].
    """
    weight = torch.ones(detected.shape[0], dtype=detected.dtype, device=detected.device)
    for lower, upper in (("hip", "shoulder"), ("ankle", "hip")):
        up = _middle(detected[..., :2], upper) - _middle(detected[..., :2], lower)
        angle = torch.atan2(up[..., 0].abs(), -up[..., 1])  # 0: straight up in the image
        weight = weight * (2 - angle / math.radians(tolerance_deg)).clamp(0, 1)
    confident = detected[..., [*_PAIRS["hip"], *_PAIRS["shoulder"], *_PAIRS["ankle"]], 2].min(-1).values >= min_confidence
    return weight * confident


def upright_residuals(keypoints: torch.Tensor) -> torch.Tensor:
    """`(B, 3)` the sines of the lean in depth (towards or away from the camera) of the torso
    (hips to shoulders), the legs together (ankles to hips: the pelvis above the feet) and the
    neck (shoulders to ears, scaled to half weight in the squares) of model keypoints `(B, K, 3)`
    (model frame: y up, z towards the camera)."""
    residuals = []
    for lower, upper, weight in (("hip", "shoulder", 1.0), ("ankle", "hip", 1.0), ("shoulder", "ear", 0.5)):
        axis = _middle(keypoints, upper) - _middle(keypoints, lower)
        residuals.append(weight**0.5 * axis[..., 2] / (axis[..., 1:] ** 2).sum(-1).clamp(min=1e-8).sqrt())
    return torch.stack(residuals, dim=-1)


def upright_loss(keypoints: torch.Tensor) -> torch.Tensor:
    """`(B,)` the upright prior of model keypoints `(B, K, 3)`: the sum of the squared
    `upright_residuals`. A weak-perspective fit cannot see a lean in depth; a standing person
    has none."""
    return (upright_residuals(keypoints) ** 2).sum(-1)
