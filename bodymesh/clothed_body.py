"""`ClothedBody`: a body model wearing one subject's hair and clothes, behind the BodyModel protocol.

Every vertex of the base body is pushed out along its posed normal by its own offset (metres;
negative pulls it in). The offsets live on the body's surface, so they move with the skeleton
like the skin under them: hair stays on the head, a sleeve on its arm, a trouser leg on its leg.

Cloth that bridges the legs or hangs away from them (a skirt, a dress, a coat's hem) would tear
apart if each side followed its own thigh. Those vertices "hang" from the pelvis instead: a
vertex of hang weight `w` in [0, 1] sits at `(1 - w)` x its skinned position + `w` x its
position in the pose it was fitted in, carried rigidly by the pelvis. The pelvis motion is the
rigid fit (Kabsch) of the lower torso's vertices from that pose to the current one.

Topology, UVs, part labels, joints and keypoints are the base body's. The offsets and the hung
positions belong to the shape the clothes were fitted on (the subject's); other shapes get the
same offsets.
"""

from __future__ import annotations

import roma
import torch

from bodymesh.body_model import BodyModel, BodyOutput, PosePrior, Skinning
from bodymesh.mesh import vertex_normals

__all__ = ["ClothedBody", "pelvis_anchors"]


def pelvis_anchors(rest_vertices: torch.Tensor, part_labels: torch.Tensor, torso: int) -> torch.Tensor:
    """`(A,)` int64 indices of the lower-torso vertices that move (almost) rigidly with the
    pelvis: torso vertices from 5 cm below to 8 cm above the pelvis in the rest body
    `rest_vertices (V, 3)` (model frame, metres)."""
    height = rest_vertices[:, 1]
    chosen = (part_labels == torso) & (height > -0.05) & (height < 0.08)
    return chosen.nonzero()[:, 0]


class ClothedBody(torch.nn.Module):
    """A base body model with per-vertex normal offsets and pelvis-hung cloth.

    Args:
        base: the naked body model.
        offsets: `(V,)` metres along each vertex's outward normal.
        hang: `(V,)` in [0, 1], how much each vertex hangs from the pelvis (0: skinned).
        hung: `(V, 3)` metres, model frame: each vertex where it hangs, in the pose the clothes
            were fitted in (only rows with `hang > 0` are read).
        anchors: `(A,)` indices of the pelvis vertices (`pelvis_anchors`).
        anchor_points: `(A, 3)` those vertices in the pose the clothes were fitted in.
    """

    def __init__(
        self,
        base: BodyModel,
        offsets: torch.Tensor,
        hang: torch.Tensor,
        hung: torch.Tensor,
        anchors: torch.Tensor,
        anchor_points: torch.Tensor,
    ) -> None:
        super().__init__()
        count = base.num_vertices
        if offsets.shape != (count,) or hang.shape != (count,) or hung.shape != (count, 3):
            raise ValueError(
                f"offsets, hang and hung must be ({count},), ({count},), ({count}, 3); "
                f"got {tuple(offsets.shape)}, {tuple(hang.shape)}, {tuple(hung.shape)}"
            )
        if anchors.dim() != 1 or anchor_points.shape != (anchors.shape[0], 3) or anchors.shape[0] < 3:
            raise ValueError(f"need at least 3 anchors with (A, 3) points, got {tuple(anchors.shape)} and {tuple(anchor_points.shape)}")
        self.base = base
        self.name = f"{base.name}, clothed"
        device = base.faces.device
        self.register_buffer("offsets", offsets.detach().float().to(device))
        self.register_buffer("hang", hang.detach().float().clamp(0, 1).to(device))
        self.register_buffer("hung", hung.detach().float().to(device))
        self.register_buffer("anchors", anchors.detach().long().to(device))
        self.register_buffer("anchor_points", anchor_points.detach().float().to(device))

    joint_names = property(lambda self: self.base.joint_names)
    num_shape = property(lambda self: self.base.num_shape)
    faces = property(lambda self: self.base.faces)
    uv_coords = property(lambda self: self.base.uv_coords)
    uv_faces = property(lambda self: self.base.uv_faces)
    part_labels = property(lambda self: self.base.part_labels)
    up_axis = property(lambda self: self.base.up_axis)

    @property
    def pose_prior(self) -> PosePrior:
        return self.base.pose_prior

    @property
    def num_vertices(self) -> int:
        return self.base.num_vertices

    def to(self, *args, **kwargs) -> "ClothedBody":
        """Moves the base body and the clothes like `torch.nn.Module.to`; returns self."""
        super().to(*args, **kwargs)
        self.base.to(*args, **kwargs)
        return self

    def dress(self, vertices: torch.Tensor) -> torch.Tensor:
        """The clothed surface `(B, V, 3)` over posed base vertices `(B, V, 3)` (model frame)."""
        clothed = vertices + self.offsets[:, None] * vertex_normals(vertices, self.base.faces)
        if not bool((self.hang > 0).any()):
            return clothed
        rotation, translation = roma.rigid_points_registration(
            self.anchor_points.expand(vertices.shape[0], -1, -1), vertices[:, self.anchors]
        )
        carried = self.hung @ rotation.transpose(-1, -2) + translation[:, None]
        return torch.lerp(clothed, carried, self.hang[:, None])

    def forward(self, pose: torch.Tensor, shape: torch.Tensor) -> BodyOutput:
        """`pose (B, J, 3)`, `shape (B, S)` -> the clothed vertices, and the base body's joints
        and keypoints (metres, model frame)."""
        output = self.base.forward(pose, shape)
        return BodyOutput(self.dress(output.vertices), output.joints, output.keypoints)

    def keypoints(self, pose: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """`(B, K, 3)` the base body's keypoints (clothes move no joint)."""
        return self.base.keypoints(pose, shape)

    def posed_vertices(self, pose: torch.Tensor, shape: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """`(B, N, 3)` the clothed vertices `index (N,)` (the surface is dressed whole: its
        normals and hung cloth need every vertex)."""
        return self.forward(pose, shape).vertices[:, index]

    def skinning(self, pose: torch.Tensor, shape: torch.Tensor) -> Skinning:
        """The base body's skeleton and weights (`BodyModel.skinning`) carrying the clothed
        surface at rest: linear blend skinning that approximates `forward` (what glTF and
        Blender store). The offsets ride on the skinned surface; a hung vertex takes the root
        bone's weight in proportion to its hang, so cloth that hangs from the pelvis follows it."""
        base = self.base.skinning(pose, shape)
        rest = self.dress(base.rest_vertices[None])[0]
        root = torch.zeros_like(base.weights)
        root[:, base.parents.index(-1)] = 1.0
        return base._replace(rest_vertices=rest, weights=torch.lerp(base.weights, root, self.hang[:, None].to(base.weights)))
