"""SMPLify-style fitting of a body model to one person's 2D keypoints under a weak-perspective camera.

Stages (as in SMPLify): (1) camera and global orientation against the torso, from two starts,
facing the camera and facing away, run as one batch (Adam); (2) all pose joints, shape and
camera, with priors annealed from strong to weak, by Levenberg-Marquardt at a few points of
the schedule (`bodymesh.levenberg`: 0.4 s where 100 Adam steps took 0.9, nearer the keypoints,
as near the 3D truth); (3) every limb tried mirrored in depth, kept where the energy is lower
(`flip_limbs_in_depth`); (4) where a person mask is given, a silhouette term pulls mesh
vertices that fall outside the mask back in (pose and camera; the shape held).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from bodymesh.body_model import BodyModel
from bodymesh.camera import camera_from_torso, project
from bodymesh.detect import Detection
from bodymesh.errors import NoPersonError
from bodymesh.keypoints import KEYPOINT_INDEX, TORSO_INDICES, person_height
from bodymesh.levenberg import Terms, minimize
from bodymesh.priors import (
    joint_limit_loss, pose_prior_loss, robust_keypoint_loss, shape_prior_loss, standing_weight, upright_loss, upright_residuals,
)
from bodymesh.silhouette import outside_distance

_ORIENTATION_KEYPOINTS = TORSO_INDICES + tuple(
    KEYPOINT_INDEX[n] for n in ("nose", "left_ear", "right_ear", "left_knee", "right_knee")
)


@dataclass
class FitConfig:
    """Weights and budgets of the fitter. Distances are in units of the person's height."""

    orientation_steps: int = 40  # Adam steps of the orientation stage, at learning_rate
    learning_rate: float = 0.04
    # The pose stage: Levenberg-Marquardt iterations (`bodymesh.levenberg`) at pose_stages
    # points of the annealing schedule, at most pose_stage_steps each (fewer once a step lowers
    # the energy by less than pose_tolerance of it); then the silhouette stage's iterations.
    pose_stages: int = 4
    pose_stage_steps: int = 6
    pose_tolerance: float = 1e-4
    silhouette_steps: int = 6
    # Every limb also tried mirrored in depth (`flip_limbs_in_depth`): iterations pulling it
    # there (at depth_target_weight per metre squared), then settling.
    depth_search: bool = True
    depth_target_weight: float = 1.0
    depth_ik_steps: int = 8
    depth_steps: int = 10
    robust_sigma: tuple[float, float] = (0.5, 0.08)  # annealed: start (almost L2), end
    pose_prior_weight: tuple[float, float] = (2e-3, 2e-4)  # annealed: start, end
    limit_weight: float = 0.1
    shape_prior_weight: float = 2e-4
    silhouette_weight: float = 0.05
    silhouette_vertex_stride: int = 4
    upright_weight: float = 2e-3  # people who stand in the image stand in depth (`priors.upright_loss`)
    # video: per-frame Levenberg-Marquardt iterations after the first frame (at most; a frame
    # stops once a step lowers its energy by less than video_tolerance of it: ~3 iterations,
    # `bodymesh.levenberg`), and the pull towards the previous frame. Too strong a pull leaves
    # fast limbs behind the detection (a visible lag): at 2e-3 the arms of a dancer were 1.5% of
    # her height off their keypoints, at 5e-4 1.2%; the smoother after the fit
    # (`bodymesh.smoothing`) takes the jitter.
    video_steps: int = 8
    video_tolerance: float = 1e-4
    temporal_weight: float = 5e-4
    tracking_sigma: float = 0.25  # wider than the photo's: fast limbs move far between frames
    refit_error: float = 0.05  # a tracked frame worse than this (x height) is fitted afresh
    side_swap_ratio: float = 0.5  # swapped sides this much closer to the last frame: a detector swap


@dataclass
class BodyFit:
    """A fitted body in one image.

    pose: `(J, 3)` axis-angle. shape: `(S,)`. cam: `(3,)` weak-perspective `(s, tx, ty)`
    (pixels per metre, pixels, pixels). keypoints: `(K, 3)` the detection it was fitted to
    (pixels + confidence). projected: `(K, 2)` the fitted model's keypoints in pixels.
    found: False when the frame had no person and the fit was carried over from an earlier one.
    """

    pose: torch.Tensor
    shape: torch.Tensor
    cam: torch.Tensor
    keypoints: torch.Tensor
    projected: torch.Tensor
    found: bool = True
    losses: dict[str, float] = field(default_factory=dict)

    def keypoint_error(self, min_confidence: float = 0.3) -> float:
        """Mean pixel distance between fitted and detected confident keypoints."""
        confident = self.keypoints[:, 2] >= min_confidence
        return float((self.projected[confident] - self.keypoints[confident, :2]).norm(dim=-1).mean())


class CameraParameters(torch.nn.Module):
    """Weak-perspective camera optimised as a log-scale and a translation in person heights."""

    def __init__(self, initial: torch.Tensor, height: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("initial", initial.detach().clone())
        self.register_buffer("height", height.detach().clone())
        self.log_scale = torch.nn.Parameter(torch.zeros_like(initial[:, 0]))
        self.shift = torch.nn.Parameter(torch.zeros_like(initial[:, 1:]))

    def forward(self) -> torch.Tensor:
        return self.at(self.log_scale, self.shift)

    def at(self, log_scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """`(B, 3)` cameras at parameters `log_scale (B,)`, `shift (B, 2)` (any `B` when this
        holds one camera) instead of the module's own."""
        scale = self.initial[:, 0] * log_scale.exp()
        translation = self.initial[:, 1:] + shift * self.height[:, None]
        return torch.cat((scale[:, None], translation), dim=1)


class FitObjective:
    """The fitting energy of one person, for a batch of parameter hypotheses."""

    def __init__(self, model: BodyModel, detected: torch.Tensor, config: FitConfig) -> None:
        self.model = model
        self.detected = detected
        self.config = config
        heights = [person_height(d.detach().cpu().numpy()) for d in detected]
        self.height = detected.new_tensor([max(h, 1.0) for h in heights])
        self.standing = standing_weight(detected)

    def data(
        self, keypoints: torch.Tensor, cam: torch.Tensor, sigma: float, subset: tuple[int, ...] | None = None
    ) -> torch.Tensor:
        """`(B,)` robust keypoint distance of model keypoints `(B, K, 3)` seen by cameras `(B, 3)`."""
        return self.pixel_data(project(keypoints, cam), sigma, subset)

    def pixel_data(self, projected: torch.Tensor, sigma: float, subset: tuple[int, ...] | None = None) -> torch.Tensor:
        """`(B,)` robust keypoint distance of projected model keypoints `(B, K, 2)` pixels."""
        detected = self.detected.expand(projected.shape[0], -1, -1)
        if subset is not None:
            projected, detected = projected[:, list(subset)], detected[:, list(subset)]
        return robust_keypoint_loss(projected, detected, self.height.expand(projected.shape[0]), sigma)

    def priors(self, pose: torch.Tensor, shape: torch.Tensor, pose_weight: float) -> torch.Tensor:
        prior = self.model.pose_prior
        return (
            pose_weight * pose_prior_loss(pose, prior)
            + self.config.limit_weight * joint_limit_loss(pose, prior)
            + self.config.shape_prior_weight * shape_prior_loss(shape)
        )

    def upright(self, keypoints: torch.Tensor) -> torch.Tensor:
        """`(B,)` the upright prior of model keypoints `(B, K, 3)`, on people who stand in the image."""
        return self.config.upright_weight * self.standing * upright_loss(keypoints)

    def upright_residuals(self, keypoints: torch.Tensor) -> torch.Tensor:
        """`(B, 3)` the residuals whose sum of squares is `upright` (one person: the objective's first)."""
        return (self.config.upright_weight * self.standing[:1]).sqrt()[:, None] * upright_residuals(keypoints)


def _initial_state(model: BodyModel, detected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two starts (facing the camera, facing away): pose `(2, J, 3)`, shape `(2, S)`, cam `(2, 3)`."""
    device = detected.device
    pose = torch.zeros(2, len(model.joint_names), 3, device=device)
    pose[1, 0] = math.pi * torch.tensor(model.up_axis, device=device)
    shape = torch.zeros(2, model.num_shape, device=device)
    with torch.no_grad():
        rest = model.keypoints(pose, shape)
    cam = camera_from_torso(detected.expand(2, -1, -1), rest, TORSO_INDICES)
    return pose, shape, cam


def fit_keypoints(
    model: BodyModel,
    keypoints: torch.Tensor,
    mask: np.ndarray | None = None,
    config: FitConfig | None = None,
    shape: torch.Tensor | None = None,
) -> BodyFit:
    """Fits pose, shape and camera to one person's keypoints.

    Args:
        model: a body model (its tensors on the device the fit runs on).
        keypoints: `(K, 3)` detected pixels + confidence, project order, on that device.
        mask: `(H, W)` person probability in [0, 1] of the image, or None.
        config: weights and budgets (FitConfig() when None).
        shape: `(S,)` a known shape to keep (not optimised); None: fit the shape too.
    Returns:
        The fit. Raises NoPersonError when too few keypoints are confident to fit anything.
    """
    config = config or FitConfig()
    detected = keypoints[None].float()
    if int((detected[0, list(TORSO_INDICES), 2] > 0.1).sum()) < 3:
        raise NoPersonError("too few body keypoints were found to fit a body")
    objective = FitObjective(model, detected, config)

    pose0, shape0, cam0 = _initial_state(model, detected)
    fixed_shape = shape is not None
    if fixed_shape:
        shape0 = shape.detach()[None].expand(2, -1)
    root = torch.nn.Parameter(pose0[:, :1].clone())
    camera = CameraParameters(cam0, objective.height.expand(2))
    optimizer = torch.optim.Adam([root, *camera.parameters()], lr=config.learning_rate)
    for _ in range(config.orientation_steps):
        optimizer.zero_grad()
        pose = torch.cat((root, pose0[:, 1:]), dim=1)
        posed = model.keypoints(pose, shape0)
        loss = objective.data(posed, camera(), config.robust_sigma[0], _ORIENTATION_KEYPOINTS) + objective.upright(posed)
        loss.sum().backward()
        optimizer.step()
    best = int(loss.argmin())

    pose = torch.cat((root[best : best + 1], pose0[best : best + 1, 1:]), dim=1).detach()
    shape = shape0[best : best + 1].clone()
    camera = CameraParameters(camera()[best : best + 1], objective.height)
    upright = config.upright_weight > 0
    for progress in np.linspace(0.0, 1.0, config.pose_stages):
        weight, sigma = (start * (end / start) ** progress for start, end in (config.pose_prior_weight, config.robust_sigma))
        terms = Terms(sigma=sigma, pose_prior_weight=weight, upright=upright, fit_shape=not fixed_shape)
        minimize(model, objective, pose, shape, camera, terms, config.pose_stage_steps, config.pose_tolerance)

    if config.depth_search:
        flip_limbs_in_depth(model, objective, pose, shape, camera)

    if mask is not None and config.silhouette_steps > 0:
        terms = Terms(
            sigma=config.robust_sigma[1],
            pose_prior_weight=config.pose_prior_weight[1],
            upright=upright,
            outside=outside_distance(mask, float(objective.height[0]), keypoints.device),
            silhouette_weight=config.silhouette_weight,
            silhouette_stride=config.silhouette_vertex_stride,
        )
        minimize(model, objective, pose, shape, camera, terms, config.silhouette_steps, config.pose_tolerance)

    return finish_fit(model, objective, pose, shape, camera(), config)


# Each limb's keypoints, from the joint it hangs from: shoulder, elbow, wrist; hip, knee, foot.
_LIMBS = tuple(
    tuple(KEYPOINT_INDEX[f"{side}_{name}"] for name in names)
    for side in ("left", "right")
    for names in (("shoulder", "elbow", "wrist"), ("hip", "knee", "ankle", "big_toe", "small_toe", "heel"))
)


def _final_energy(model: BodyModel, objective: FitObjective, pose: torch.Tensor, shape: torch.Tensor, camera: CameraParameters) -> float:
    """The fit's energy at the end of the schedule (data, priors, upright) of `pose (1, J, 3)`,
    `shape (1, S)` and `camera`."""
    config = objective.config
    with torch.no_grad():
        keypoints = model.keypoints(pose, shape)
        data = objective.data(keypoints, camera(), config.robust_sigma[1])
        return float((data + objective.priors(pose, shape, config.pose_prior_weight[1]) + objective.upright(keypoints))[0])


def flip_limbs_in_depth(model: BodyModel, objective: FitObjective, pose: torch.Tensor, shape: torch.Tensor, camera: CameraParameters) -> int:
    """Tries every limb mirrored in depth about the joint it hangs from and keeps each mirror
    that lowers the energy; moves `pose (1, J, 3)` and `camera` in place (the shape held).
    Returns the limbs flipped.

    Under a weak-perspective camera an arm reaching towards the camera and one reaching away
    project alike, and descent from the rest pose settles in whichever basin is nearer, often
    the wrong one; the priors (pose prior, joint limits, upright) tell the two apart, but only
    by comparing both minima. A mirror is reached by pulling the limb's keypoints to their
    mirrored depths (`depth_ik_steps` iterations), then settled on the plain energy
    (`depth_steps`), as the current fit is before it is compared. On synthetic truth this takes
    the joints' PA-MPJPE from 60.7 to 55.2 mm (`benchmarks/fit.py`, 60 samples, 2 threads)."""
    config = objective.config
    terms = Terms(sigma=config.robust_sigma[1], pose_prior_weight=config.pose_prior_weight[1], upright=config.upright_weight > 0)
    minimize(model, objective, pose, shape, camera, terms, config.depth_steps, config.pose_tolerance)
    best, flipped = _final_energy(model, objective, pose, shape, camera), 0
    for limb in _LIMBS:
        root, moved = limb[0], list(limb[1:])
        with torch.no_grad():
            target = model.keypoints(pose, shape)[0]
        target[moved, 2] = 2 * target[root, 2] - target[moved, 2]
        weights = torch.zeros(target.shape[0], device=target.device)
        weights[list(limb)] = config.depth_target_weight
        trial_pose, trial_camera = pose.clone(), copy.deepcopy(camera)
        pulled = replace(terms, targets=target, target_weights=weights)
        minimize(model, objective, trial_pose, shape, trial_camera, pulled, config.depth_ik_steps, 0.0)
        minimize(model, objective, trial_pose, shape, trial_camera, terms, config.depth_steps, config.pose_tolerance)
        value = _final_energy(model, objective, trial_pose, shape, trial_camera)
        if value < best:
            best, flipped = value, flipped + 1
            pose.copy_(trial_pose)
            camera.load_state_dict(trial_camera.state_dict())
    return flipped


def finish_fit(
    model: BodyModel, objective: FitObjective, pose: torch.Tensor, shape: torch.Tensor, cam: torch.Tensor, config: FitConfig
) -> BodyFit:
    """The BodyFit of the first hypothesis of a batch of parameters, with its final losses."""
    with torch.no_grad():
        keypoints = model.keypoints(pose, shape)
        data = objective.data(keypoints, cam, config.robust_sigma[1])
        priors = objective.priors(pose, shape, config.pose_prior_weight[1])
        return BodyFit(
            pose=pose[0].detach().clone(),
            shape=shape[0].detach().clone(),
            cam=cam[0].detach().clone(),
            keypoints=objective.detected[0].clone(),
            projected=project(keypoints, cam)[0],
            losses={"data": float(data[0]), "priors": float(priors[0])},
        )


def fit_detection(model: BodyModel, detection: Detection | None, config: FitConfig | None = None, device: torch.device | str = "cpu") -> BodyFit:
    """Fits one detected person (keypoints + mask); None (nobody detected) raises NoPersonError."""
    if detection is None:
        raise NoPersonError("no person found")
    keypoints = torch.from_numpy(detection.keypoints).to(device)
    return fit_keypoints(model, keypoints, detection.mask, config)
