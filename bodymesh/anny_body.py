"""`AnnyBody`: the open Anny body model (Apache-2.0, data in its wheel) behind the BodyModel protocol.

Anny's frame is z up, the face towards -y, the person's left towards +x; we rotate it into the
project's model frame (y up, face towards +z) and put the pelvis at the origin.

Pose: the 20 main body bones below, axis-angle in Anny's "local-ref" parameterization (each
bone's rotation about its head, in world-aligned Anny axes at rest). Fingers, toes, twist
bones and the face stay at rest. Shape: the six Anny phenotypes (gender, age, muscle, weight,
height, proportions), each `sigmoid(shape)` so that zero is Anny's mid value 0.5.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import anny
import roma
import torch

from bodymesh.anny_data import BuildReport, load_anny
from bodymesh.body_model import BodyOutput, PosePrior, Skinning
from bodymesh.keypoints import KEYPOINT_NAMES
from bodymesh.parts import PART_INDEX

POSED_BONES: tuple[str, ...] = (
    "root",
    "spine05",
    "spine03",
    "spine01",
    "neck01",
    "head",
    "shoulder01.L",
    "upperarm01.L",
    "lowerarm01.L",
    "wrist.L",
    "shoulder01.R",
    "upperarm01.R",
    "lowerarm01.R",
    "wrist.R",
    "upperleg01.L",
    "lowerleg01.L",
    "foot.L",
    "upperleg01.R",
    "lowerleg01.R",
    "foot.R",
)

# Anny (x, y, z) -> model frame (x, z, -y): a rotation (determinant +1), so windings are kept.
_ANNY_TO_MODEL = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0))


def _bone_part(bone: str) -> str:
    """Body part of the vertices a bone carries most."""
    side = "left" if bone.endswith(".L") else "right"
    for prefixes, part in (
        (("neck", "head", "eye"), "head"),
        (("shoulder", "upperarm"), f"{side}_upper_arm"),
        (("lowerarm",), f"{side}_lower_arm"),
        (("wrist", "finger", "metacarpal"), f"{side}_hand"),
        (("upperleg",), f"{side}_upper_leg"),
        (("lowerleg",), f"{side}_lower_leg"),
        (("foot", "toe"), f"{side}_foot"),
    ):
        if bone.startswith(prefixes):
            return part
    return "torso"


def _hinge_frame(axis: tuple[float, float, float]) -> torch.Tensor:
    """`(3, 3)` rotation whose first row is the unit hinge `axis`."""
    first = torch.tensor(axis, dtype=torch.float32)
    first = first / first.norm()
    helper = torch.tensor([0.0, 1.0, 0.0]) if abs(float(first[1])) < 0.9 else torch.tensor([1.0, 0.0, 0.0])
    second = torch.linalg.cross(first, helper)
    second = second / second.norm()
    third = torch.linalg.cross(first, second)
    return torch.stack((first, second, third))


def _anny_pose_prior() -> PosePrior:
    """Weights and soft limits of the posed bones, in Anny's pose axes (x left, y back, z up).

    Knees flex about +x; elbows flex about the axis normal to upper and lower arm at rest
    (Anny's rest is an A-pose with slightly bent elbows), so their limits use a hinge frame.
    """
    inf = math.inf
    spec: dict[str, tuple[float, tuple[float, float, float], tuple[float, float, float]]] = {
        "root": (0.0, (-inf,) * 3, (inf,) * 3),
        "spine05": (2.0, (-0.6, -0.4, -0.6), (0.6, 0.4, 0.6)),
        "spine03": (2.0, (-0.6, -0.4, -0.6), (0.6, 0.4, 0.6)),
        "spine01": (2.0, (-0.6, -0.4, -0.6), (0.6, 0.4, 0.6)),
        "neck01": (1.0, (-0.8, -0.6, -1.0), (0.8, 0.6, 1.0)),
        "head": (1.0, (-0.8, -0.6, -1.0), (0.8, 0.6, 1.0)),
        "shoulder01.L": (4.0, (-0.4, -0.4, -0.4), (0.4, 0.4, 0.4)),
        "shoulder01.R": (4.0, (-0.4, -0.4, -0.4), (0.4, 0.4, 0.4)),
        "upperarm01.L": (0.2, (-inf,) * 3, (inf,) * 3),
        "upperarm01.R": (0.2, (-inf,) * 3, (inf,) * 3),
        "lowerarm01.L": (0.2, (-0.15, -0.3, -0.3), (2.6, 0.3, 0.3)),
        "lowerarm01.R": (0.2, (-0.15, -0.3, -0.3), (2.6, 0.3, 0.3)),
        "wrist.L": (1.0, (-1.2, -1.2, -1.2), (1.2, 1.2, 1.2)),
        "wrist.R": (1.0, (-1.2, -1.2, -1.2), (1.2, 1.2, 1.2)),
        "upperleg01.L": (0.2, (-2.2, -0.8, -1.0), (1.2, 0.8, 1.0)),
        "upperleg01.R": (0.2, (-2.2, -0.8, -1.0), (1.2, 0.8, 1.0)),
        "lowerleg01.L": (0.2, (-0.1, -0.2, -0.2), (2.6, 0.2, 0.2)),
        "lowerleg01.R": (0.2, (-0.1, -0.2, -0.2), (2.6, 0.2, 0.2)),
        "foot.L": (1.0, (-0.8, -0.5, -0.5), (0.8, 0.5, 0.5)),
        "foot.R": (1.0, (-0.8, -0.5, -0.5), (0.8, 0.5, 0.5)),
    }
    frames = torch.eye(3).repeat(len(POSED_BONES), 1, 1)
    frames[POSED_BONES.index("lowerarm01.L")] = _hinge_frame((-0.76, -0.06, -0.65))
    frames[POSED_BONES.index("lowerarm01.R")] = _hinge_frame((-0.76, 0.06, 0.65))
    return PosePrior(
        weights=torch.tensor([spec[b][0] for b in POSED_BONES]),
        lower=torch.tensor([spec[b][1] for b in POSED_BONES]),
        upper=torch.tensor([spec[b][2] for b in POSED_BONES]),
        frames=frames,
    )


class AnnyBody(torch.nn.Module):
    """The Anny body model (13,718 vertices, 27,420 triangles, 104 bones, UVs) as a BodyModel.

    Build it with `AnnyBody.load(cache_dir)`; the first call in a cache folder builds Anny's data
    there (~2 min).
    """

    name = "anny"
    joint_names = POSED_BONES
    up_axis = (0.0, 0.0, 1.0)

    def __init__(self, model: anny.Anny) -> None:
        super().__init__()
        model = model.to(torch.float32)
        self.anny = model
        self.num_shape = len(model.phenotype_labels)
        bone_index = {label: i for i, label in enumerate(model.bone_labels)}
        self.register_buffer("posed_bones", torch.tensor([bone_index[b] for b in POSED_BONES]))
        self.register_buffer("anny_to_model", torch.tensor(_ANNY_TO_MODEL))
        self.register_buffer("faces", model.faces.to(torch.int64).clone())
        self.register_buffer("uv_coords", model.texture_coordinates.to(torch.float32).clone())
        self.register_buffer("uv_faces", model.face_texture_coordinate_indices.to(torch.int64).clone())
        skinning = torch.zeros(model.template_vertices.shape[0], len(model.bone_labels))
        skinning.scatter_add_(1, model.vertex_bone_indices.long(), model.vertex_bone_weights.float())
        bone_parts = torch.tensor([PART_INDEX[_bone_part(b)] for b in model.bone_labels])
        self.register_buffer("part_labels", bone_parts[skinning.argmax(1)])
        regressor = anny.KeypointsRegressor.coco(model, labels=list(KEYPOINT_NAMES))
        self.register_buffer("keypoint_weights", regressor.regression_weights.float().clone())
        basis = _keypoint_bone_basis(self.keypoint_weights, skinning, model.template_vertices, model.blendshapes)
        self.register_buffer("keypoint_basis_template", basis[0])
        self.register_buffer("keypoint_basis_blend", basis[1])
        self.register_buffer("keypoint_bone_weights", basis[2])
        self.pose_prior = _anny_pose_prior()
        if model.bone_orientation != "cached" or model.rest_orientation_refiner is not None:
            raise ValueError("AnnyBody expects Anny's default rig (cached bone orientations)")
        # Skeletons of the last few shapes: a video run alternates between the driver's and the
        # subject's shape every frame, and a one-entry cache missed twice a frame.
        self._rest_cache = _ShapeCache()
        self._reduced_cache = _ShapeCache()
        self._vertex_cache = _ShapeCache()
        # Each bone's nearest posed ancestor (or itself), as an index into POSED_BONES, and the
        # reduced chain: each posed bone's nearest posed ancestor (-1 for the root), by depth.
        position = {int(b): i for i, b in enumerate(self.posed_bones)}
        owner = []
        for bone in range(len(model.bone_labels)):
            while bone not in position:
                bone = model.bone_parents[bone]
            owner.append(position[bone])
        self.register_buffer("_owner", torch.tensor(owner), persistent=False)
        self._reduced_parents = [-1] + [owner[model.bone_parents[int(b)]] for b in self.posed_bones[1:]]
        depth = [0] * len(POSED_BONES)
        for a in range(1, len(POSED_BONES)):
            depth[a] = depth[self._reduced_parents[a]] + 1
        self._reduced_levels = [[a for a in range(len(POSED_BONES)) if depth[a] == d] for d in range(max(depth) + 1)]

    @classmethod
    def load(cls, cache_dir: Path, report: BuildReport | None = None) -> "AnnyBody":
        """Loads Anny from `cache_dir` (building it there the first time, ~2 min, told to
        `report`)."""
        return cls(load_anny(cache_dir, report))

    @property
    def num_vertices(self) -> int:
        return int(self.part_labels.shape[0])

    def to(self, *args, **kwargs) -> "AnnyBody":
        """Moves buffers (and the pose prior) like `torch.nn.Module.to`; returns self."""
        super().to(*args, **kwargs)
        self.pose_prior = self.pose_prior.to(self.faces.device)
        return self

    def _check(self, pose: torch.Tensor, shape: torch.Tensor) -> None:
        if pose.dim() != 3 or pose.shape[1:] != (len(POSED_BONES), 3):
            raise ValueError(f"pose must be (B, {len(POSED_BONES)}, 3), got {tuple(pose.shape)}")
        if shape.dim() != 2 or shape.shape[1] != self.num_shape or shape.shape[0] not in (1, pose.shape[0]):
            raise ValueError(f"shape must be (B={pose.shape[0]} or 1, {self.num_shape}), got {tuple(shape.shape)}")

    def _deltas(self, pose: torch.Tensor) -> torch.Tensor:
        """`(B, 20, 3)` axis-angle -> `(B, 104, 4, 4)` Anny delta transforms (identity elsewhere)."""
        batch = pose.shape[0]
        deltas = torch.eye(4, dtype=pose.dtype, device=pose.device).repeat(batch, len(self.anny.bone_labels), 1, 1)
        rotations = roma.rotvec_to_rotmat(pose)
        deltas[:, self.posed_bones, :3, :3] = rotations
        return deltas

    def _coefficients(self, shape: torch.Tensor) -> torch.Tensor:
        phenotypes = torch.sigmoid(shape)
        empty = shape.new_zeros(shape.shape[0], 0)
        return self.anny._get_phenotype_blendshape_coefficients(phenotypes, empty, empty)

    def _to_model_frame(self, points: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
        return (points - root[:, None]) @ self.anny_to_model.T

    def forward(self, pose: torch.Tensor, shape: torch.Tensor) -> BodyOutput:
        """`pose (B, 20, 3)` axis-angle, `shape (B, 6)` -> vertices `(B, 13718, 3)`, joints
        `(B, 20, 3)`, keypoints `(B, 23, 3)`, metres in the model frame.

        One shape that needs no gradient (every row equal: a clip's body, a subject) is posed
        through the 20-bone chain of `keypoints`, each vertex a fixed mix of those 20 transforms
        (same values to float precision, a quarter of the time); any other goes through Anny."""
        self._check(pose, shape)
        if self._one_fixed_shape(shape):
            return self._forward_reduced(pose, shape[:1])
        out = self.anny(pose_parameters=self._deltas(pose), phenotype_kwargs=torch.sigmoid(shape))
        root = out["bone_poses"][:, 0, :3, 3]
        vertices = self._to_model_frame(out["vertices"], root)
        joints = self._to_model_frame(out["bone_poses"][:, self.posed_bones, :3, 3], root)
        keypoints = torch.einsum("kv,bvd->bkd", self.keypoint_weights, vertices)
        return BodyOutput(vertices, joints, keypoints)

    def skinning(self, pose: torch.Tensor, shape: torch.Tensor) -> Skinning:
        """All 104 Anny bones and their skinning (up to 9 bones a vertex) for one `shape (1, 6)`
        in `pose (B, 20, 3)`; skinning the rest vertices reproduces `forward`'s vertices (Anny is
        plain linear blend skinning). Transforms map Anny's bone frames into the model frame."""
        self._check(pose, shape)
        if shape.shape[0] != 1:
            raise ValueError(f"skinning takes one shape (1, {self.num_shape}), got {tuple(shape.shape)}")
        with torch.no_grad():
            out = self.anny(pose_parameters=self._deltas(pose), phenotype_kwargs=torch.sigmoid(shape))
        rest_bones, posed_bones = out["rest_bone_poses"][0], out["bone_poses"]
        weights = torch.zeros(self.num_vertices, len(self.anny.bone_labels), dtype=rest_bones.dtype, device=rest_bones.device)
        weights.scatter_add_(1, self.anny.vertex_bone_indices.long(), self.anny.vertex_bone_weights.to(weights))

        def to_model(transforms: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
            frame = torch.eye(4, dtype=transforms.dtype, device=transforms.device).repeat(root.shape[0], 1, 1)
            frame[:, :3, :3] = self.anny_to_model
            frame[:, :3, 3] = -root @ self.anny_to_model.T
            return frame[:, None] @ transforms

        rest_root = rest_bones[None, 0, :3, 3]
        return Skinning(
            rest_vertices=self._to_model_frame(out["rest_vertices"], rest_root)[0],
            weights=weights,
            parents=tuple(int(p) for p in self.anny.bone_parents),
            bone_names=tuple(self.anny.bone_labels),
            rest_bones=to_model(rest_bones[None], rest_root)[0],
            posed_bones=to_model(posed_bones, posed_bones[:, 0, :3, 3]),
        )

    def keypoints(self, pose: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """`(B, 23, 3)` keypoints without skinning the mesh: skinning is linear, so each keypoint
        is a fixed, shape-linear mix of the bone transforms (precomputed at construction).

        For one shape that needs no gradient (video fitting holds one shape for a whole clip;
        every row equal counts as one),
        the skeleton is also reduced to the 20 posed bones: the bones in between are never posed,
        so each moves rigidly with its nearest posed ancestor, and the keypoints become mixes of
        20 transforms found by a 20-bone chain (same values, a fraction of the work)."""
        self._check(pose, shape)
        if not self._one_fixed_shape(shape) or not self._reduces(pose, shape):
            return self._keypoints_full(pose, shape)
        links, mixes, _ = self._reduced_skeleton(shape[:1])
        return self._mixed(self._reduced_chain(pose, links), mixes)

    @staticmethod
    def _one_fixed_shape(shape: torch.Tensor) -> bool:
        """Whether `shape (B, S)` is one shape that needs no gradient (every row equal): the
        case the 20-bone chain serves."""
        return not shape.requires_grad and bool((shape == shape[:1]).all())

    def _reduces(self, pose: torch.Tensor, shape: torch.Tensor) -> bool:
        """Whether one shape's keypoints in `pose (B, J, 3)` are cheaper through the reduced
        chain: once its skeleton is cached, or for more than one pose (building the reduced
        skeleton costs about two passes of the full chain)."""
        return pose.shape[0] > 1 or self._reduced_cache.get(shape[:1]) is not None

    def posed_vertices(self, pose: torch.Tensor, shape: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """`(B, N, 3)` the vertices `index (N,)` of `forward(pose, shape)`; one shape without
        gradient skins only those, through the 20-bone chain (`_forward_reduced`)."""
        self._check(pose, shape)
        if not self._one_fixed_shape(shape):
            return self.forward(pose, shape).vertices[:, index]
        links, _, _ = self._reduced_skeleton(shape[:1])
        return self._mixed(self._reduced_chain(pose, links), self._vertex_mixes(shape[:1])[index])

    def _mixed(self, poses: torch.Tensor, mixes: torch.Tensor) -> torch.Tensor:
        """`(B, N, 3)` model-frame points `sum_a Y_a m_na` of the bones' `Y_a` in `poses
        (B, 20, 4, 4)` (`_reduced_chain`) and the points' mixes `(N, 20, 4)`."""
        return torch.einsum("baxd,vad->bvx", poses[:, :, :3, :], mixes) @ self.anny_to_model.T

    def _reduced_chain(self, pose: torch.Tensor, links: torch.Tensor) -> torch.Tensor:
        """`(B, 20, 4, 4)` the posed bones' `Y_a` (`_reduced_skeleton`) in `pose (B, 20, 3)`."""
        rotations = roma.rotvec_to_rotmat(pose)  # (B, 20, 3, 3)
        # Z_a D_a, D_a = [[R_a, 0], [0, 1]]: the rotation turns Z_a's first three columns
        local = torch.cat((links[..., :3] @ rotations, links[..., 3:].expand(*rotations.shape[:2], 4, 1)), dim=-1)
        chain = torch.empty_like(local)
        chain[:, 0] = local[:, 0]
        for level in self._reduced_levels[1:]:  # each level's bones below their parents' (posed first)
            chain[:, level] = chain[:, [self._reduced_parents[a] for a in level]] @ local[:, level]
        return chain

    def _forward_reduced(self, pose: torch.Tensor, shape: torch.Tensor) -> BodyOutput:
        """`forward` of one `shape (1, S)` without gradient: linear blend skinning by Anny's up
        to 9 bones a vertex, each bone moving rigidly with its posed owner, makes every vertex
        `sum_a Y_a m_va` with mixes `m (V, 20, 4)` fixed for the shape (`_vertex_mixes`)."""
        links, _, _ = self._reduced_skeleton(shape)
        poses = self._reduced_chain(pose, links)
        vertices = self._mixed(poses, self._vertex_mixes(shape))
        joints = poses[:, :, :3, 3] @ self.anny_to_model.T
        keypoints = torch.einsum("kv,bvd->bkd", self.keypoint_weights, vertices)
        return BodyOutput(vertices, joints, keypoints)

    def _keypoints_full(self, pose: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """`keypoints` through Anny's whole 104-bone chain (any shapes, gradients to the shape)."""
        rest_poses, offsets = self._rest_skeleton(shape)
        transforms, poses = self.anny.get_bone_transforms(self._deltas(pose), rest_poses)
        anny_keypoints = torch.einsum("bjxd,bkjd->bkx", transforms[:, :, :3, :3], offsets) + torch.einsum(
            "bjx,kj->bkx", transforms[:, :, :3, 3], self.keypoint_bone_weights
        )
        return self._to_model_frame(anny_keypoints, poses[:, 0, :3, 3])

    def _reduced_skeleton(self, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The 20-bone skeleton of one shape `(1, S)` (cached by the shape's values).

        Anny's local-ref chain gives each posed bone `a` the pose `W_a = Y_a U_a`, with
        `Y_a = Y_a' Z_a D_a` (`a'` its nearest posed ancestor, `D_a` its rotation, `U_a` its
        reference orientation, `Z_a` a constant of the shape); every other bone `j` owned by `a`
        moves as `W_j = W_a C_aj`. Both constants are read off the chain at rest (all `D = I`).
        Returns `Z (20, 4, 4)`, the keypoint mixes `e (K, 20, 4)` (keypoint k = sum_a Y_a e_ka) and
        each bone's rest-to-owner carry `(104, 4, 4)` (a point p skinned by bone j alone is
        `Y_a carry_j p`).
        """
        cached = self._reduced_cache.get(shape)
        if cached is not None:
            return cached
        with torch.no_grad():
            rest_poses, offsets = self._rest_skeleton(shape)
            identity = torch.eye(4, dtype=rest_poses.dtype, device=rest_poses.device).expand_as(rest_poses)
            rest_world = self.anny.get_bone_transforms(identity, rest_poses)[1][0]  # W0 (104, 4, 4)
            reference = torch.eye(4, dtype=rest_poses.dtype, device=rest_poses.device).repeat(len(self._owner), 1, 1)
            reference[:, :3, :3] = self.anny.reference_bone_orientations
            posed = self.posed_bones
            rest_y = rest_world[posed] @ reference[posed].transpose(-1, -2)  # Y0_a = W0_a U_a^-1
            above = torch.stack([rest_y[p] if p >= 0 else torch.eye(4, dtype=rest_y.dtype, device=rest_y.device) for p in self._reduced_parents])
            links = torch.linalg.inv(above) @ rest_y
            owner_world = rest_world[posed][self._owner]  # W0 of each bone's owner (104, 4, 4)
            carry = reference[posed][self._owner] @ torch.linalg.inv(owner_world) @ rest_world @ torch.linalg.inv(rest_poses[0])
            weighted = torch.cat((offsets[0], self.keypoint_bone_weights[..., None]), dim=-1)  # (K, 104, 4)
            per_bone = torch.einsum("jxy,kjy->kjx", carry, weighted)
            mixes = torch.zeros(per_bone.shape[0], len(POSED_BONES), 4, dtype=per_bone.dtype, device=per_bone.device)
            mixes.index_add_(1, self._owner, per_bone)
        self._reduced_cache.put(shape, (links, mixes, carry))
        return links, mixes, carry

    def _vertex_mixes(self, shape: torch.Tensor) -> torch.Tensor:
        """`(V, 20, 4)` each rest vertex of one shape `(1, S)` as a mix of the posed bones'
        transforms `Y_a` (`_forward_reduced`), cached by the shape's values."""
        cached = self._vertex_cache.get(shape)
        if cached is not None:
            return cached[0]
        with torch.no_grad():
            _, _, carry = self._reduced_skeleton(shape)
            rest = self.anny(pose_parameters=self._deltas(shape.new_zeros(1, len(POSED_BONES), 3)), phenotype_kwargs=torch.sigmoid(shape))
            points = torch.cat((rest["rest_vertices"][0], shape.new_ones(self.num_vertices, 1)), dim=-1)  # (V, 4)
            bones, weights = self.anny.vertex_bone_indices.long(), self.anny.vertex_bone_weights.to(points)  # (V, 9)
            per_bone = torch.einsum("vsxy,vs,vy->vsx", carry[bones], weights, points)
            mixes = points.new_zeros(self.num_vertices, len(POSED_BONES), 4)
            mixes.scatter_add_(1, self._owner[bones][..., None].expand(-1, -1, 4), per_bone)
        self._vertex_cache.put(shape, (mixes,))
        return mixes

    def _rest_skeleton(self, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rest bone poses `(B, 104, 4, 4)` and keypoint offsets `(B, K, 104, 3)` of `shape`."""
        cached = None if shape.requires_grad else self._rest_cache.get(shape)
        if cached is not None:
            return cached
        coefficients = self._coefficients(shape)
        model = self.anny
        heads = model.template_bone_heads + torch.einsum("bn,njd->bjd", coefficients, model.bone_heads_blendshapes)
        # Anny's "cached" bone orientation: the special Procrustes rotation of a matrix linear in
        # the coefficients (anny.models.rigged_model._get_cached_rest_model, without the vertices).
        orientation = roma.special_procrustes(
            model.bone_template_orientation_matrices
            + torch.einsum("bn,njxy->bjxy", coefficients, model.bone_orientation_blendshapes)
        )
        rest_poses = roma.Rigid(linear=orientation, translation=heads).to_homogeneous()
        offsets = self.keypoint_basis_template + torch.einsum("bn,nkjd->bkjd", coefficients, self.keypoint_basis_blend)
        if not shape.requires_grad:
            self._rest_cache.put(shape, (rest_poses, offsets))
        return rest_poses, offsets


class _ShapeCache:
    """What was computed for the last `size` shapes, keyed by the shape's values (device, dtype,
    size and bytes), so a new tensor holding the same shape hits and a freed one's reused
    storage never does. Thread-safe: a video's fit and its rendering pose the body on two
    threads."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._entries: dict[tuple, tuple] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(shape: torch.Tensor) -> tuple:
        return (shape.device, shape.dtype, tuple(shape.shape), shape.detach().cpu().numpy().tobytes())

    def get(self, shape: torch.Tensor) -> tuple | None:
        """The value stored for `shape`'s values, or None."""
        key = self._key(shape)
        with self._lock:
            value = self._entries.pop(key, None)
            if value is not None:
                self._entries[key] = value  # most recently used last
        return value

    def put(self, shape: torch.Tensor, value: tuple) -> None:
        """Stores `value` for `shape`'s values, dropping the least recently used beyond `size`."""
        key = self._key(shape)
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.pop(next(iter(self._entries)))


def _keypoint_bone_basis(
    keypoint_weights: torch.Tensor,
    skinning: torch.Tensor,
    template: torch.Tensor,
    blendshapes: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keypoints as fixed mixes of bone transforms.

    With linear blend skinning `v_i = sum_j s_ij (R_j r_i + t_j)` and keypoints
    `k = sum_i W_ki v_i`, each keypoint is `sum_j (R_j a_kj + t_j b_kj)`, where
    `a_kj = sum_i W_ki s_ij r_i` and `b_kj = sum_i W_ki s_ij`; the rest vertices `r_i` are linear
    in the blendshape coefficients, and so is `a_kj`. Each keypoint reads a few hundred vertices,
    so the sums run over each keypoint's own support.

    Args:
        keypoint_weights: `(K, V)` regressor. skinning: `(V, J)` dense skinning weights.
        template: `(V, 3)` rest vertices. blendshapes: `(N, V, 3)` rest-vertex offsets.
    Returns:
        `a` of the template `(K, J, 3)`, `a` of each blendshape `(N, K, J, 3)`, `b` `(K, J)`.
    """
    template = template.to(torch.float32)
    blendshapes = blendshapes.to(torch.float32)
    a_template, a_blend, b = [], [], []
    for weights in keypoint_weights:
        support = weights.nonzero()[:, 0]
        mix = weights[support, None] * skinning[support]  # (S, J)
        a_template.append(mix.T @ template[support])
        a_blend.append(torch.einsum("sj,nsd->njd", mix, blendshapes[:, support]))
        b.append(mix.sum(0))
    return torch.stack(a_template), torch.stack(a_blend, dim=1), torch.stack(b)
