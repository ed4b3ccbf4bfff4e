"""Per-pixel surface coordinates of rasterized meshes: UV maps, correspondence and part maps,
face visibility."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from warping.raster import Fragments, interpolate, rasterize

if TYPE_CHECKING:
    from warping.topology import MeshTopology, TexturedMesh


def uv_map(fragments: Fragments, topology: "TexturedMesh") -> torch.Tensor:
    """Texture coordinates of the surface point seen at every pixel.

    Args:
        fragments: rasterization of `B` meshes of `topology`, `face_id (B, H, W)`, `bary (B, H, W, 3)`.
        topology: the mesh's `uv_coords (T, 2)` in [0, 1] (v up, as in OBJ files) and `uv_faces
            (F, 3)` (a `MeshTopology`, or a body model: both have them).
    Returns:
        `(B, H, W, 2)` uv in [0, 1]; zeros on background.
    """
    face_id = fragments.face_id
    if topology.uv_coords is None or topology.uv_faces is None:
        raise ValueError("the mesh has no texture coordinates (uv_coords, uv_faces)")
    uv_coords, uv_faces = topology.uv_coords.to(face_id.device), topology.uv_faces.to(face_id.device)
    covered = face_id >= 0  # only these pixels: the person covers a fraction of the canvas
    corners = uv_coords[uv_faces[face_id[covered]]]  # (N, 3, 2)
    uv = uv_coords.new_zeros(*face_id.shape, 2)
    uv[covered] = torch.einsum("nc,ncx->nx", fragments.bary[covered].to(corners.dtype), corners)
    return uv


def visible_faces(fragments: Fragments, num_faces: int) -> torch.Tensor:
    """`(B, F)` bool: faces that own at least one pixel of the rasterization."""
    batch = fragments.face_id.shape[0]
    visible = torch.zeros(batch, num_faces + 1, dtype=torch.bool, device=fragments.face_id.device)
    index = (fragments.face_id.reshape(batch, -1) + 1).clamp(min=0)
    visible.scatter_(1, index, True)
    return visible[:, 1:]


def face_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """`(B, F, 3)` unnormalised face normals `(v1 - v0) x (v2 - v0)` of `verts (B, V, 3)`; their
    length is twice the face's area. In image space (see bodymesh.camera) an outward face
    turned towards the camera has a negative depth component."""
    corners = verts[:, faces]  # (B, F, 3, 3)
    return torch.linalg.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0], dim=-1)


def vertex_codes(rest_vertices: torch.Tensor) -> torch.Tensor:
    """`(V, 3)` in [-1, 1]: each vertex's rest-pose position `(V, 3)` scaled per axis to the
    body's bounding box, the fixed colour that names a surface point in correspondence maps
    (it tells left from right, front from back and head from feet, with no UV seams)."""
    low = rest_vertices.amin(0)
    high = rest_vertices.amax(0)
    return (rest_vertices - low) / (high - low).clamp(min=1e-8) * 2.0 - 1.0


def correspondence_map(fragments: Fragments, codes: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """The correspondence map of a rasterization, as networks take it.

    Args:
        fragments: `face_id (B, H, W)`, `bary (B, H, W, 3)`.
        codes: `(V, 3)` per-vertex codes in [-1, 1] (`vertex_codes`).
        faces: `(F, 3)` the rasterized faces.
    Returns:
        `(B, 4, H, W)`: the interpolated code (zeros on background) and the coverage in {0, 1}.
    """
    code = interpolate(fragments, codes, faces).permute(0, 3, 1, 2)
    covered = (fragments.face_id >= 0)[:, None].to(code.dtype)
    return torch.cat((code, covered), 1)


def part_map(fragments: Fragments, part_labels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """`(B, H, W)` int64 body-part label (`bodymesh.parts`) of the surface seen at each pixel, -1
    on background; a face takes the label of its first vertex.

    Args:
        fragments: `face_id (B, H, W)`. part_labels: `(V,)` int64. faces: `(F, 3)`.
    """
    face_parts = part_labels[faces[:, 0]]
    face_id = fragments.face_id
    return torch.where(face_id >= 0, face_parts[face_id.clamp(min=0)], face_id.new_full((), -1))


def mesh_maps(verts: torch.Tensor, topology: "MeshTopology", size: int) -> tuple[Fragments, torch.Tensor, torch.Tensor]:
    """Rasterizes image-space meshes `verts (B, V, 3)` of `topology` on a `size` square: the
    fragments, the correspondence map `(B, 4, H, W)` (`correspondence_map` of its codes) and
    the part map `(B, H, W)` (`part_map` of its part labels)."""
    topology = topology.to(verts.device)
    fragments = rasterize(verts, topology.faces, size, size)
    return fragments, correspondence_map(fragments, topology.codes, topology.faces), part_map(fragments, topology.part_labels, topology.faces)
