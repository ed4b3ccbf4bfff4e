"""The one interface every generator follows, and the bundles the pipeline hands it.

Images are `(B, 3, H, W)` float in [-1, 1], RGB; masks `(B, 1, H, W)` in [0, 1]. Everything is
at the working resolution of the person crop (`H = W`, 256 by default), on one device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from warping.correspondence import correspondence_map, part_map
from warping.raster import Fragments, rasterize


@dataclass
class SourceBundle:
    """The subject, prepared once from S source photos.

    images: `(S, 3, H, W)` the source crops. masks: `(S, 1, H, W)` their person masks.
    verts: `(S, V, 3)` image-space vertices of each source's fitted mesh (see bodymesh.camera).
    fragments: their rasterization, `face_id (S, H, W)`.
    background: `(1, 3, H, W)` the first source's background, person removed and inpainted.
    texture: `(1, 3, T, T)` the subject's UV texture, unwrapped from all sources and filled.
    correspondence: `(S, 4, H, W)` each source's correspondence map (`mesh_maps`).
    parts: `(S, H, W)` int64 body-part label of each pixel (`bodymesh.parts`), -1 off the body.
    keypoints: `(S, K, 3)` each source's fitted keypoints, pixels + confidence.
    """

    images: torch.Tensor
    masks: torch.Tensor
    verts: torch.Tensor
    fragments: Fragments
    background: torch.Tensor
    texture: torch.Tensor
    correspondence: torch.Tensor
    parts: torch.Tensor
    keypoints: torch.Tensor


@dataclass
class TargetBundle:
    """One target frame: the subject's mesh in the driver's pose and placement.

    verts: `(1, V, 3)` image-space vertices. fragments: their rasterization `(1, H, W)`.
    uv: `(1, H, W, 2)` texture coordinates of the surface seen at each pixel (0 on background).
    grids: `(S, H, W, 2)` per source, where each target pixel's surface point lies in that
        source (grid_sample coordinates, align_corners=False).
    weights: `(S, H, W)` how much each source contributes at each pixel: zero where the point
        is hidden in that source, summing to 1 over sources where any source sees it.
    background: `(1, 3, H, W)` the background to composite over.
    correspondence: `(1, 4, H, W)` the target's correspondence map (`mesh_maps`).
    parts: `(1, H, W)` int64 body-part labels, -1 off the body.
    keypoints: `(1, K, 3)` the target mesh's keypoints, pixels + confidence.
    """

    verts: torch.Tensor
    fragments: Fragments
    uv: torch.Tensor
    grids: torch.Tensor
    weights: torch.Tensor
    background: torch.Tensor
    correspondence: torch.Tensor
    parts: torch.Tensor
    keypoints: torch.Tensor


def mesh_maps(
    verts: torch.Tensor, faces: torch.Tensor, codes: torch.Tensor, part_labels: torch.Tensor, size: int
) -> tuple[Fragments, torch.Tensor, torch.Tensor]:
    """Rasterizes image-space meshes `verts (B, V, 3)` (faces `(F, 3)`) on a `size` square and
    returns the fragments, the correspondence map `(B, 4, H, W)` (per-vertex `codes (V, 3)`,
    see `warping.correspondence.vertex_codes`) and the part map `(B, H, W)` (`part_labels (V,)`)."""
    fragments = rasterize(verts, faces, size, size)
    return fragments, correspondence_map(fragments, codes, faces), part_map(fragments, part_labels, faces)


class Generator(Protocol):
    """Synthesizes the subject in the target's pose."""

    name: str

    def generate(self, source: SourceBundle, target: TargetBundle) -> torch.Tensor:
        """`(1, 3, H, W)` in [-1, 1]: the target frame, composited over `target.background`."""
        ...
