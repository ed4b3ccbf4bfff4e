"""Small operations on one triangle mesh topology: vertex normals, edges, smoothing."""

from __future__ import annotations

import torch

__all__ = ["vertex_normals", "mesh_edges", "smooth_on_mesh"]


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """`(B, V, 3)` unit area-weighted vertex normals of vertices `(B, V, 3)` with faces `(F, 3)`
    (counter-clockwise seen from outside, so the normals point out)."""
    batch, count = verts.shape[:2]
    corners = verts[:, faces]  # (B, F, 3, 3)
    face_normal = torch.linalg.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0], dim=-1)
    # one scatter over the flattened batch (index_add_ along dim 1 costs 2.5x as much on CPU)
    corner_index = (faces.T.reshape(1, -1) + count * torch.arange(batch, device=faces.device)[:, None]).reshape(-1)
    normals = verts.new_zeros(batch * count, 3).index_add_(0, corner_index, face_normal.repeat(1, 3, 1).reshape(-1, 3)).view(batch, count, 3)
    return normals / normals.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def mesh_edges(faces: torch.Tensor) -> torch.Tensor:
    """`(E, 2)` int64 undirected edges of faces `(F, 3)`, each once, smaller index first."""
    edges = torch.cat((faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]])).sort(dim=1).values
    return torch.unique(edges, dim=0)


def smooth_on_mesh(values: torch.Tensor, faces: torch.Tensor, iterations: int) -> torch.Tensor:
    """`(V, C)` per-vertex values averaged with their mesh neighbours (and themselves)
    `iterations` times."""
    edges = torch.cat((faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]))
    own = torch.arange(values.shape[0], device=faces.device)
    src = torch.cat((edges[:, 0], edges[:, 1], own))
    dst = torch.cat((edges[:, 1], edges[:, 0], own))
    degree = values.new_zeros(values.shape[0]).index_add_(0, dst, values.new_ones(dst.shape))
    for _ in range(iterations):
        values = values.new_zeros(values.shape).index_add_(0, dst, values[src]) / degree[:, None]
    return values
