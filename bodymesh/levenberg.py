"""Levenberg-Marquardt steps of the video fitter's tracking energy (`bodymesh.fit_video`).

A tracked frame's energy is the robust keypoint term, the pose prior, the joint limits and the
pull towards the previous frame's pose and camera. All but the first are sums of squares, and
iteratively reweighted least squares makes the first one too (each keypoint weighted by the
Geman-McClure term's slope at its distance, `bodymesh.priors.robust_keypoint_weights`). Damped
Gauss-Newton steps on that (Levenberg-Marquardt), each kept only where the true energy falls,
converge from the previous frame in about three iterations, where L-BFGS took eight to twenty
energy evaluations (`benchmarks/fit.py`, dance: 16 ms a frame instead of 46, and 0.83% of the
person's height from the detections instead of 1.29%). The Jacobian of the projected keypoints is taken by forward
differences, all 63 columns in one batched call of the body's keypoint chain (torch.func's
Jacobians cost five times as long on CPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from bodymesh.body_model import BodyModel
from bodymesh.camera import project
from bodymesh.priors import joint_limit_excess, limit_frames, robust_keypoint_weights

if TYPE_CHECKING:
    from bodymesh.fit import CameraParameters, FitObjective

STEP = 1e-3  # forward-difference step, radians and camera parameters
MAX_DAMPING = 1e4  # a step this damped that still raises the energy ends the iterations


def track_frame(model: BodyModel, objective: "FitObjective", pose: torch.Tensor, shape: torch.Tensor, camera: "CameraParameters") -> int:
    """Moves `pose (1, J, 3)` and `camera`'s parameters (in place) from where they are, the
    previous frame's fit, to the minimum of the tracking energy of `objective`'s keypoints
    with the body of `shape (1, S)` (the clip's): the robust data term at the config's
    `tracking_sigma`, the objective's priors at the final pose-prior weight, and
    `temporal_weight` times the squared change of the pose and camera parameters. Stops after
    `video_steps` iterations, or once an accepted step lowers the energy by less than
    `video_tolerance` of it. Returns the iterations taken."""
    config = objective.config
    sigma, temporal_weight = config.tracking_sigma, config.temporal_weight
    prior = model.pose_prior
    joints = pose.shape[1]
    start = torch.cat((pose.detach().reshape(-1), camera.log_scale.detach(), camera.shift.detach().reshape(-1)))
    count = start.shape[0]
    detected, height = objective.detected[0], objective.height[:1]

    def unpack(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = x.reshape(-1, count)
        return x[:, : 3 * joints].reshape(-1, joints, 3), x[:, 3 * joints], x[:, 3 * joints + 1 :]

    def projected(x: torch.Tensor) -> torch.Tensor:
        poses, log_scale, shift = unpack(x)
        return project(model.keypoints(poses, shape), camera.at(log_scale, shift))

    def energy(x: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
        poses = unpack(x)[0]
        data = objective.pixel_data(pixels, sigma)
        return (data + objective.priors(poses, shape, config.pose_prior_weight[1]))[0] + temporal_weight * ((x - start) ** 2).sum()

    prior_diagonal = start.new_zeros(count)
    prior_diagonal[: 3 * joints] = (config.pose_prior_weight[1] * prior.weights).repeat_interleave(3)
    frames = limit_frames(prior)
    x, damping, taken = start.clone(), 1e-3, 0
    with torch.no_grad():
        current = energy(x, projected(x))
        for taken in range(1, config.video_steps + 1):
            batch = x.repeat(count + 1, 1)
            batch[1:] += STEP * torch.eye(count, dtype=x.dtype, device=x.device)
            pixels = projected(batch)  # (1 + count, K, 2)
            jacobian = ((pixels[1:] - pixels[:1]) / STEP).permute(1, 2, 0) / height  # (K, 2, count)
            residual = (pixels[0] - detected[:, :2]) / height  # (K, 2)
            weights = robust_keypoint_weights(pixels[:1], detected[None], height, sigma)[0]  # (K,)
            hessian = torch.einsum("k,kip,kiq->pq", weights, jacobian, jacobian) + torch.diag(prior_diagonal + temporal_weight)
            gradient = torch.einsum("k,kip,ki->p", weights, jacobian, residual) + prior_diagonal * x + temporal_weight * (x - start)
            excess = joint_limit_excess(unpack(x)[0], prior)[0]  # (J, 3)
            active = frames * (excess != 0)[..., None]  # the limit frames' rows of the components beyond a limit
            hessian[: 3 * joints, : 3 * joints] += config.limit_weight * torch.block_diag(*(a.T @ a for a in active))
            gradient[: 3 * joints] += config.limit_weight * torch.einsum("jxy,jx->jy", active, excess).reshape(-1)
            while True:
                step = torch.linalg.solve(hessian + damping * torch.diag(hessian.diagonal()), -gradient)
                trial = x + step
                value = energy(trial, projected(trial))
                if value <= current:
                    damping = max(damping / 3, 1e-7)
                    break
                damping *= 4
                if damping > MAX_DAMPING:
                    break
            if value > current:
                break
            decrease, x, current = float(current - value), trial, value
            if decrease <= config.video_tolerance * float(current):
                break
        poses, log_scale, shift = unpack(x)
        pose.copy_(poses)
        camera.log_scale.copy_(log_scale)
        camera.shift.copy_(shift)
    return taken
