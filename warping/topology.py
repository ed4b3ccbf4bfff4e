"""What every mesh of one body model shares, whatever its pose: the record warping's functions
take instead of loose `faces, uv_coords, uv_faces, part_labels` (as pytorch3d's `Meshes`
carries a mesh's faces and textures together)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from warping.checks import check_shape
from warping.correspondence import vertex_codes

__all__ = ["MeshTopology", "TexturedMesh"]


class TexturedMesh(Protocol):
    """A body model's fixed parts (bodymesh's `BodyModel` has them)."""

    faces: torch.Tensor
    uv_coords: torch.Tensor | None
    uv_faces: torch.Tensor | None
    part_labels: torch.Tensor


@dataclass(frozen=True, eq=False)
class MeshTopology:
    """faces: `(F, 3)` int64 vertex indices, counter-clockwise seen from outside.
    uv_coords: `(T, 2)` texture coordinates in [0, 1], v up. uv_faces: `(F, 3)` int64 indices
    into `uv_coords`, one row per face. part_labels: `(V,)` int64 body-part labels
    (`bodymesh.parts`). codes: `(V, 3)` in [-1, 1], the correspondence-map colour of each vertex
    (`warping.correspondence.vertex_codes` of the rest pose)."""

    faces: torch.Tensor
    uv_coords: torch.Tensor
    uv_faces: torch.Tensor
    part_labels: torch.Tensor
    codes: torch.Tensor

    def __post_init__(self) -> None:
        sizes = check_shape(self.faces, "F 3", "faces", floating=False)
        check_shape(self.uv_coords, "T 2", "uv_coords", floating=True)
        check_shape(self.uv_faces, "F 3", "uv_faces", floating=False, sizes=sizes)
        sizes = check_shape(self.part_labels, "V", "part_labels", floating=False)
        check_shape(self.codes, "V 3", "codes", floating=True, sizes=sizes)

    @classmethod
    def of(cls, mesh: TexturedMesh, rest_vertices: torch.Tensor) -> "MeshTopology":
        """The topology of a body model `mesh` (it must have UVs), codes from its rest-pose
        vertices `(V, 3)`."""
        if mesh.uv_coords is None or mesh.uv_faces is None:
            raise ValueError("the mesh has no texture coordinates (uv_coords, uv_faces)")
        return cls(mesh.faces, mesh.uv_coords, mesh.uv_faces, mesh.part_labels, vertex_codes(rest_vertices))

    def to(self, device: torch.device | str) -> "MeshTopology":
        """The same topology with every tensor on `device`."""
        return MeshTopology(*(t.to(device) for t in (self.faces, self.uv_coords, self.uv_faces, self.part_labels, self.codes)))
