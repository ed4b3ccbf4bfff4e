"""The one interface every generator follows, and the bundles the pipeline hands it.

Images are `(B, 3, H, W)` float in [-1, 1], RGB; masks `(B, 1, H, W)` in [0, 1]. Everything is
at the working resolution of the person crop (`H = W`, 256 by default), on one device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from warping.raster import Fragments


@dataclass
class SourceBundle:
    """The subject, prepared once from S source photos.

    images: `(S, 3, H, W)` the source crops. masks: `(S, 1, H, W)` their person masks.
    verts: `(S, V, 3)` image-space vertices of each source's fitted mesh (see bodymesh.camera).
    fragments: their rasterization, `face_id (S, H, W)`.
    background: `(1, 3, H, W)` the first source's background, person removed and inpainted.
    texture: `(1, 3, T, T)` the subject's UV texture, unwrapped from all sources and filled.
    """

    images: torch.Tensor
    masks: torch.Tensor
    verts: torch.Tensor
    fragments: Fragments
    background: torch.Tensor
    texture: torch.Tensor


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
    """

    verts: torch.Tensor
    fragments: Fragments
    uv: torch.Tensor
    grids: torch.Tensor
    weights: torch.Tensor
    background: torch.Tensor


class Generator(Protocol):
    """Synthesizes the subject in the target's pose."""

    name: str

    def generate(self, source: SourceBundle, target: TargetBundle) -> torch.Tensor:
        """`(1, 3, H, W)` in [-1, 1]: the target frame, composited over `target.background`."""
        ...
