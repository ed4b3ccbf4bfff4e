"""Levenberg-Marquardt steps of the fitters' energies (`bodymesh.fit`, `bodymesh.fit_video`).

The energy is the robust keypoint term, the pose prior, the joint limits, the shape prior and,
as the fit asks, the pull towards a previous frame's pose and camera, the upright prior and the
silhouette term. All but the first are sums of squares, and iteratively reweighted least
squares makes the first one too (each keypoint weighted by the Geman-McClure term's slope at
its distance, `bodymesh.priors.robust_keypoint_weights`). Damped Gauss-Newton steps on that
(Levenberg-Marquardt), each kept only where the true energy falls, converge from the previous
frame in about three iterations, where L-BFGS took eight to twenty energy evaluations
(`benchmarks/fit.py`, dance: 16 ms a frame instead of 46, and 0.83% of the person's height
from the detections instead of 1.29%), and fit a photo's pose and shape in about twenty where
Adam took a hundred steps. Jacobians are taken by forward differences, all columns in one
batched call of the body's keypoint chain (torch.func's Jacobians cost five times as long on
CPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from bodymesh.body_model import BodyModel
from bodymesh.camera import project
from bodymesh.priors import joint_limit_excess, limit_frames, robust_keypoint_weights
from bodymesh.silhouette import distance_at

if TYPE_CHECKING:
    from bodymesh.fit import CameraParameters, FitObjective

STEP = 1e-3  # forward-difference step, radians, camera and shape parameters
MAX_DAMPING = 1e4  # a step this damped that still raises the energy ends the iterations


@dataclass(frozen=True)
class Terms:
    """What one call of `minimize` fits, and with which weights.

    sigma: the robust keypoint term's scale (person heights). pose_prior_weight: the pose
    prior's weight (joint limits and shape prior: the objective's config). temporal_weight: the
    pull towards the starting parameters (a tracked frame's previous fit; 0: none). upright:
    the objective's upright prior on. outside: `(1, 1, H, W)` distance map of the person mask
    (`bodymesh.silhouette.outside_distance`) for the silhouette term at `silhouette_weight` over
    every `silhouette_stride`-th vertex, or None. fit_shape: the shape moves too (its columns
    go through the body's full chain; the silhouette term then is not allowed). targets:
    `(K, 3)` model-frame points (metres) the model's keypoints are pulled to, each by its
    weight in `target_weights (K,)` (0: not pulled), or None.
    """

    sigma: float
    pose_prior_weight: float
    temporal_weight: float = 0.0
    upright: bool = False
    outside: torch.Tensor | None = None
    silhouette_weight: float = 0.0
    silhouette_stride: int = 8
    fit_shape: bool = False
    targets: torch.Tensor | None = None
    target_weights: torch.Tensor | None = None


def minimize(
    model: BodyModel,
    objective: "FitObjective",
    pose: torch.Tensor,
    shape: torch.Tensor,
    camera: "CameraParameters",
    terms: Terms,
    steps: int,
    tolerance: float,
) -> int:
    """Moves `pose (1, J, 3)`, `camera`'s parameters and, with `terms.fit_shape`, `shape (1, S)`
    (all in place) from where they are to the minimum of the energy of `objective`'s keypoints
    and `terms`. Stops after `steps` iterations, or once an accepted step lowers the energy by
    less than `tolerance` of it. Returns the iterations taken."""
    if terms.fit_shape and terms.outside is not None:
        raise ValueError("the silhouette term is fitted with the shape held")
    config = objective.config
    prior = model.pose_prior
    joints = pose.shape[1]
    parts = [pose.detach().reshape(-1), camera.log_scale.detach(), camera.shift.detach().reshape(-1)]
    if terms.fit_shape:
        parts.append(shape.detach().reshape(-1))
    start = torch.cat(parts)
    count = start.shape[0]
    posed_count = 3 * joints + 3
    detected, height = objective.detected[0], objective.height[:1]
    silhouette = terms.outside is not None and terms.silhouette_weight > 0
    if silhouette:
        index = torch.arange(0, model.num_vertices, terms.silhouette_stride, device=start.device)
        silhouette_scale = (terms.silhouette_weight / index.shape[0]) ** 0.5

    def unpack(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        x = x.reshape(-1, count)
        shapes = x[:, posed_count:] if terms.fit_shape else shape.detach()
        return x[:, : 3 * joints].reshape(-1, joints, 3), x[:, 3 * joints], x[:, 3 * joints + 1 : posed_count], shapes

    def evaluate(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters `(B, count)` -> projected keypoints `(B, K, 2)` and the residuals `(B, R)`
        of the terms that are plain sums of squares beyond the priors (upright, silhouette)."""
        poses, log_scale, shift, shapes = unpack(x)
        cam = camera.at(log_scale, shift)
        keypoints = _keypoints(model, poses, shapes)
        residuals = [keypoints.new_zeros(keypoints.shape[0], 0)]
        if terms.upright:
            residuals.append(objective.upright_residuals(keypoints))
        if terms.targets is not None:
            residuals.append((terms.target_weights.sqrt()[:, None] * (keypoints - terms.targets)).flatten(1))
        if silhouette:
            vertices = model.posed_vertices(poses, shapes, index)
            residuals.append(silhouette_scale * distance_at(project(vertices, cam), terms.outside))
        return project(keypoints, cam), torch.cat(residuals, dim=1)

    def energy(x: torch.Tensor, evaluated: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        pixels, residuals = evaluated
        poses, _, _, shapes = unpack(x)
        data = objective.pixel_data(pixels, terms.sigma)
        priors = objective.priors(poses, shapes, terms.pose_prior_weight)
        return (data + priors)[0] + terms.temporal_weight * ((x - start) ** 2).sum() + (residuals[0] ** 2).sum()

    # The priors' curvature: the pose prior's and the shape prior's (both diagonal), the pull.
    prior_diagonal = start.new_zeros(count)
    prior_diagonal[: 3 * joints] = (terms.pose_prior_weight * prior.weights).repeat_interleave(3)
    prior_diagonal[posed_count:] = config.shape_prior_weight
    frames = limit_frames(prior)
    pose_rows = torch.arange(3 * joints, device=start.device).reshape(joints, 3)
    limit_blocks = (pose_rows[:, :, None], pose_rows[:, None, :])  # each joint's 3x3 block of the Hessian
    x, damping, taken = start.clone(), 1e-3, 0
    with torch.no_grad():
        current = energy(x, evaluate(x))
        for taken in range(1, steps + 1):
            batch = x.repeat(count + 1, 1)
            batch[1:] += STEP * torch.eye(count, dtype=x.dtype, device=x.device)
            pixels, residuals = evaluate(batch)  # (1 + count, K, 2), (1 + count, R)
            jacobian = ((pixels[1:] - pixels[:1]) / STEP).permute(1, 2, 0) / height  # (K, 2, count)
            residual = (pixels[0] - detected[:, :2]) / height  # (K, 2)
            weights = robust_keypoint_weights(pixels[:1], detected[None], height, terms.sigma)[0]  # (K,)
            residual_jacobian = (residuals[1:] - residuals[:1]) / STEP  # (count, R)
            hessian = (
                torch.einsum("k,kip,kiq->pq", weights, jacobian, jacobian)
                + residual_jacobian @ residual_jacobian.T
                + torch.diag(prior_diagonal + terms.temporal_weight)
            )
            gradient = (
                torch.einsum("k,kip,ki->p", weights, jacobian, residual)
                + residual_jacobian @ residuals[0]
                + prior_diagonal * x
                + terms.temporal_weight * (x - start)
            )
            excess = joint_limit_excess(unpack(x)[0], prior)[0]  # (J, 3)
            active = frames * (excess != 0)[..., None]  # the limit frames' rows of the components beyond a limit
            hessian.index_put_(limit_blocks, config.limit_weight * torch.einsum("jxy,jxz->jyz", active, active), accumulate=True)
            gradient[: 3 * joints] += config.limit_weight * torch.einsum("jxy,jx->jy", active, excess).reshape(-1)
            while True:
                step = torch.linalg.solve(hessian + damping * torch.diag(hessian.diagonal() + 1e-9), -gradient)
                trial = x + step
                value = energy(trial, evaluate(trial))
                if value <= current:
                    damping = max(damping / 3, 1e-7)
                    break
                damping *= 4
                if damping > MAX_DAMPING:
                    break
            if value > current:
                break
            decrease, x, current = float(current - value), trial, value
            if decrease <= tolerance * float(current):
                break
        poses, log_scale, shift, shapes = unpack(x)
        pose.copy_(poses)
        camera.log_scale.copy_(log_scale)
        camera.shift.copy_(shift)
        if terms.fit_shape:
            shape.copy_(shapes)
    return taken


def _keypoints(model: BodyModel, poses: torch.Tensor, shapes: torch.Tensor) -> torch.Tensor:
    """`model.keypoints` of `poses (B, J, 3)` and `shapes (B or 1, S)`, the rows whose shape is
    the first row's taken as one batch of one shape (the body's reduced chain) and the rest as
    another: the Jacobian's pose columns share the shape, only its shape columns change it."""
    same = (shapes == shapes[:1]).all(-1)
    if bool(same.all()) or bool(same.sum() == 1):
        return model.keypoints(poses, shapes)
    shared = model.keypoints(poses[same], shapes[:1])
    keypoints = shared.new_empty(poses.shape[0], *shared.shape[1:])
    keypoints[same] = shared
    keypoints[~same] = model.keypoints(poses[~same], shapes[~same])
    return keypoints


def track_frame(model: BodyModel, objective: "FitObjective", pose: torch.Tensor, shape: torch.Tensor, camera: "CameraParameters") -> int:
    """A tracked video frame: moves `pose (1, J, 3)` and `camera`'s parameters (in place) from
    the previous frame's fit to the minimum of the tracking energy of `objective`'s keypoints
    with the clip's body `shape (1, S)`: the robust data term at the config's `tracking_sigma`,
    the priors at the final pose-prior weight and `temporal_weight` times the squared change of
    the pose and camera parameters. At most `video_steps` iterations, down to
    `video_tolerance`. Returns the iterations taken."""
    config = objective.config
    terms = Terms(sigma=config.tracking_sigma, pose_prior_weight=config.pose_prior_weight[1], temporal_weight=config.temporal_weight)
    return minimize(model, objective, pose, shape, camera, terms, config.video_steps, config.video_tolerance)
