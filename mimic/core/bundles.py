"""The one interface every generator follows, and the bundles the pipeline hands it (each checks
its own shapes when made; `check_bundles` that a source and a target go together).

Images are `(B, 3, H, W)` float in [-1, 1], RGB; masks `(B, 1, H, W)` in [0, 1]. Everything is
at the working resolution of the person crop (`H = W`, 256 by default), on one device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from warping.checks import check_shape
from warping.raster import Fragments

__all__ = ["SourceBundle", "TargetBundle", "Generator", "check_bundles"]


@dataclass
class SourceBundle:
    """The subject, prepared once from S source photos.

    images: `(S, 3, H, W)` the source crops. masks: `(S, 1, H, W)` their person masks.
    verts: `(S, V, 3)` image-space vertices of each source's fitted mesh (see bodymesh.camera).
    fragments: their rasterization, `face_id (S, H, W)`.
    background: `(1, 3, H, W)` the first source's background, person removed and inpainted.
    texture: `(1, 3, T, T)` the subject's UV texture, unwrapped from all sources and filled.
    correspondence: `(S, 4, H, W)` each source's correspondence map (`warping.correspondence.mesh_maps`).
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

    def __post_init__(self) -> None:
        sizes = check_shape(self.images, "S 3 H W", "SourceBundle.images", floating=True)
        check_shape(self.masks, "S 1 H W", "SourceBundle.masks", sizes=sizes)
        check_shape(self.verts, "S V 3", "SourceBundle.verts", floating=True, sizes=sizes)
        check_shape(self.fragments.face_id, "S H W", "SourceBundle.fragments.face_id", sizes=sizes)
        check_shape(self.background, "1 3 H W", "SourceBundle.background", floating=True, sizes=sizes)
        check_shape(self.texture, "1 3 T T", "SourceBundle.texture", floating=True)
        check_shape(self.correspondence, "S 4 H W", "SourceBundle.correspondence", sizes=sizes)
        check_shape(self.parts, "S H W", "SourceBundle.parts", floating=False, sizes=sizes)
        check_shape(self.keypoints, "S K 3", "SourceBundle.keypoints", sizes=sizes)


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
    correspondence: `(1, 4, H, W)` the target's correspondence map (`warping.correspondence.mesh_maps`).
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

    def __post_init__(self) -> None:
        sizes = check_shape(self.verts, "1 V 3", "TargetBundle.verts", floating=True)
        sizes = check_shape(self.fragments.face_id, "1 H W", "TargetBundle.fragments.face_id", sizes=sizes)
        check_shape(self.uv, "1 H W 2", "TargetBundle.uv", floating=True, sizes=sizes)
        check_shape(self.grids, "S H W 2", "TargetBundle.grids", floating=True, sizes=sizes)
        check_shape(self.weights, "S H W", "TargetBundle.weights", floating=True, sizes=sizes)
        check_shape(self.background, "1 3 H W", "TargetBundle.background", floating=True, sizes=sizes)
        check_shape(self.correspondence, "1 4 H W", "TargetBundle.correspondence", sizes=sizes)
        check_shape(self.parts, "1 H W", "TargetBundle.parts", floating=False, sizes=sizes)
        check_shape(self.keypoints, "1 K 3", "TargetBundle.keypoints", sizes=sizes)


def check_bundles(source: SourceBundle, target: TargetBundle) -> None:
    """ValueError unless `target` is on `source`'s canvas and has one grid and weight per source."""
    count, _, height, width = source.images.shape
    sizes = {"S": count, "H": height, "W": width}
    check_shape(target.grids, "S H W 2", "target.grids (one per source)", sizes=sizes)
    check_shape(target.weights, "S H W", "target.weights (one per source)", sizes=sizes)


class Generator(Protocol):
    """Synthesizes the subject in the target's pose."""

    name: str

    def generate(self, source: SourceBundle, target: TargetBundle) -> torch.Tensor:
        """`(1, 3, H, W)` in [-1, 1]: the target frame, composited over `target.background`."""
        ...
