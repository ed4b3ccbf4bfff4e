"""The protocol every body model follows, and the frame its outputs live in.

Model frame (all body models): metres; x towards the image's right for a person facing the
camera (the person's left), y up, z towards the camera; the origin is the pelvis (the root
joint) for every pose and shape, so the weak-perspective camera alone places the body.

Pose: `(B, J, 3)` axis-angle per posed joint in the model's own pose frame; joint 0 is the
global orientation, a rotation about the pelvis. Shape: `(B, S)`, zero is the average body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import torch


class BodyOutput(NamedTuple):
    """What a body model's forward pass returns.

    vertices: `(B, V, 3)` metres, model frame.
    joints: `(B, J, 3)` metres, the posed joints in `joint_names` order.
    keypoints: `(B, K, 3)` metres, the project keypoint order (`bodymesh.keypoints`).
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    keypoints: torch.Tensor


class Skinning(NamedTuple):
    """A body of one shape as a skeleton and linear blend skinning (what glTF and Blender store).

    For every frame `b`, `sum_j weights[v, j] * posed_bones[b, j] @ inv(rest_bones[j]) @ [rest_vertices[v], 1]`
    are the posed vertices (exactly `forward(pose, shape).vertices` for Anny; SMPL's pose-corrective
    blend shapes are not part of it, see `bodymesh.smpl_body`).

    rest_vertices: `(V, 3)` metres, model frame, the rest pose of the shape.
    weights: `(V, N)` skinning weights of the N bones, rows summing to 1.
    parents: `(N,)` parent bone of each bone, -1 for the root (parents come before children).
    bone_names: the N bone names.
    rest_bones: `(N, 4, 4)` bone-to-model-frame transforms at rest (rigid).
    posed_bones: `(B, N, 4, 4)` the same transforms in each of the B poses (rigid).
    """

    rest_vertices: torch.Tensor
    weights: torch.Tensor
    parents: tuple[int, ...]
    bone_names: tuple[str, ...]
    rest_bones: torch.Tensor
    posed_bones: torch.Tensor


@dataclass(frozen=True)
class PosePrior:
    """Per-joint prior of a body model's pose parameters, used by the fitter.

    weights: `(J,)` weight of each joint's squared rotation angle (0 for the global orientation).
    lower, upper: `(J, 3)` soft limits of the axis-angle components, radians (±inf: no limit),
        read in each joint's limit frame.
    frames: `(J, 3, 3)` rotations whose rows are the axes of each joint's limit frame, in the
        model's pose axes (a hinge's first row is its axis); None: the pose axes themselves.
    """

    weights: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    frames: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "PosePrior":
        """The same prior with every tensor on `device`."""
        return PosePrior(
            self.weights.to(device),
            self.lower.to(device),
            self.upper.to(device),
            None if self.frames is None else self.frames.to(device),
        )


@runtime_checkable
class BodyModel(Protocol):
    """A parametric body: mesh topology, UVs, part labels and a differentiable forward pass."""

    name: str
    joint_names: tuple[str, ...]
    num_shape: int
    faces: torch.Tensor  # (F, 3) int64 vertex indices, counter-clockwise seen from outside
    uv_coords: torch.Tensor | None  # (T, 2) texture coordinates in [0, 1], v up
    uv_faces: torch.Tensor | None  # (F, 3) int64 indices into uv_coords
    part_labels: torch.Tensor  # (V,) int64 indices into bodymesh.parts.PART_NAMES
    pose_prior: PosePrior
    up_axis: tuple[float, float, float]  # rotating joint 0 about it turns the body around

    @property
    def num_vertices(self) -> int: ...

    def forward(self, pose: torch.Tensor, shape: torch.Tensor) -> BodyOutput:
        """`pose (B, J, 3)`, `shape (B, S)` -> vertices, joints and keypoints in the model frame."""
        ...

    def keypoints(self, pose: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """`(B, K, 3)` keypoints only; equal to `forward(pose, shape).keypoints`, possibly faster."""
        ...

    def posed_vertices(self, pose: torch.Tensor, shape: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """`(B, N, 3)` the vertices `index (N,)` only; equal to `forward(pose, shape).vertices[:, index]`, possibly faster."""
        ...

    def skinning(self, pose: torch.Tensor, shape: torch.Tensor) -> Skinning:
        """The skeleton and skinning of one `shape (1, S)` in the poses `pose (B, J, 3)`."""
        ...

    def to(self, device: torch.device | str) -> "BodyModel":
        """Moves every buffer to `device`; returns self."""
        ...


def zero_pose(model: BodyModel, batch: int = 1, device: torch.device | str = "cpu") -> torch.Tensor:
    """`(batch, J, 3)` rest pose of `model` (all rotations zero)."""
    return torch.zeros(batch, len(model.joint_names), 3, device=device)


def zero_shape(model: BodyModel, batch: int = 1, device: torch.device | str = "cpu") -> torch.Tensor:
    """`(batch, S)` average shape of `model`."""
    return torch.zeros(batch, model.num_shape, device=device)


def rest_vertices(model: BodyModel, shape: torch.Tensor | None = None) -> torch.Tensor:
    """`(V, 3)` metres, model frame: the vertices of `model` in its rest pose with `shape (S,)`
    (None: the average shape), without gradients, on the model's device."""
    device = model.faces.device
    shape = zero_shape(model, device=device) if shape is None else shape[None].to(device)
    with torch.no_grad():
        return model.forward(zero_pose(model, device=device), shape).vertices[0]
