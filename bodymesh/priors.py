"""Pose and shape priors of the fitter, and its robust 2D data term."""

from __future__ import annotations

import torch

from bodymesh.body_model import PosePrior


def pose_prior_loss(pose: torch.Tensor, prior: PosePrior) -> torch.Tensor:
    """Weighted squared rotation angles: `pose (B, J, 3)` axis-angle -> `(B,)`."""
    return ((pose**2).sum(-1) * prior.weights).sum(-1)


def joint_limit_loss(pose: torch.Tensor, prior: PosePrior) -> torch.Tensor:
    """Squared excess of each axis-angle component beyond its soft limits, in each joint's
    limit frame: `pose (B, J, 3)` -> `(B,)` (zero inside the limits)."""
    components = pose if prior.frames is None else torch.einsum("jxy,bjy->bjx", prior.frames, pose)
    below = torch.relu(prior.lower - components)
    above = torch.relu(components - prior.upper)
    return (below**2 + above**2).sum((-1, -2))


def shape_prior_loss(shape: torch.Tensor) -> torch.Tensor:
    """Squared distance to the average body: `shape (B, S)` -> `(B,)`."""
    return (shape**2).sum(-1)


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
    squared = ((projected - detected[..., :2]) ** 2).sum(-1) / scale[:, None] ** 2
    robust = sigma**2 * squared / (sigma**2 + squared)
    return (detected[..., 2] * robust).mean(-1)
