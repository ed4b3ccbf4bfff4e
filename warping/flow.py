"""The transformation flow of the Liquid Warping GAN: target pixel -> source pixel, visibility.

A rasterized pixel names a point of the body surface by `(face id, barycentrics)`, and that
name does not depend on the pose: the same face and weights applied to another mesh of the same
topology give the same surface point there. So for every pixel of the target rasterization,
`transfer_flow` finds where its surface point lies in a source image (the flow `T` of the
paper), whether the source camera actually sees that point there (it may be on the far side of
the body, or behind an arm), and how squarely it sees it. `combine_sources` turns the flows of
several sources of one person (a front and a back photo, ...) into the per-source grids and
blending weights of `mimic.core.bundles.TargetBundle`.

Image space is that of `bodymesh.camera` / `warping.raster`: `u` pixel column, `v` pixel row,
`d` depth in pixels (larger = farther); pixel `(i, j)` is centred at `(j + 0.5, i + 0.5)`.

Batching: one call handles `B` sources against one target (target fragments of batch 1 are
shared) or `B` (source, target) pairs; `combine_sources` takes the per-source flows (batch 1
each, or one flow of batch `S`) and stacks them.

Visibility (`Flow.visible`): the point `p` of a covered target pixel, at `(u, v, d)` in the
source, is visible when nothing of the source rasterization lies in front of it where a
bilinear sample at `(u, v)` would read. Concretely, for each of the four source pixels around
`(u, v)` (the footprint of bilinear sampling) whose bilinear weight exceeds `1e-3`, the tangent
plane of `p` (the plane of its face in the source mesh) is extrapolated to that pixel's centre
and compared with the source depth buffer there: the pixel occludes `p` when its depth is
smaller than the plane's by more than `depth_tolerance`. `p` is visible when it falls inside
the source image, at least one footprint pixel is covered (has a face) and none occludes it;
background pixels never occlude. Why this test:
- Extrapolating `p`'s own plane (rather than comparing with the raw depth of the neighbouring
  pixel) removes the depth slope: near the silhouette a 1-pixel step along a grazing surface
  changes depth by tens of pixels, which any fixed tolerance would call an occlusion. A convex
  surface lies behind its tangent planes, so a point never occludes itself (curved body parts
  stay visible right up to their silhouette), and the far side of a limb, whose plane slopes
  the other way, is correctly hidden even at the rim.
- Checking the whole footprint rather than the nearest pixel only makes `visible` mean "a
  bilinear sample of the source at `grid` reads this surface (or background at a silhouette),
  never an occluder in front of it": a band of at most one source pixel along occlusion
  boundaries is marked hidden, so arm colours do not bleed onto the torso behind them.
- Face-id tests ("the source pixel holds the same face or a neighbour") fail on meshes whose
  faces are smaller than a pixel, where most faces own no pixel at all.

Background target pixels get the grid value `BACKGROUND_GRID` (-2, outside the image: a warp
with `padding="zeros"` reads zeros there), `visible` False and `facing` 0.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F

from warping.checks import check_shape, describe
from warping.raster import Fragments, check_faces, interpolate
from warping.sampler import pixels_to_grid

__all__ = ["Flow", "surface_points", "transfer_flow", "view_agreement", "combine_sources", "BACKGROUND_GRID"]

# Grid value of target pixels that show no surface: outside [-1, 1] on both axes.
BACKGROUND_GRID = -2.0
# Footprint pixels with a smaller bilinear weight do not count (they do not change a sample).
_MIN_WEIGHT = 1e-3


class Flow(NamedTuple):
    """Where each target pixel's surface point is in a source image, and how well it is seen.

    grid: `(B, H, W, 2)` grid_sample coordinates (align_corners=False) of the point in the
        source image, for every covered target pixel (hidden ones included);
        `BACKGROUND_GRID` on target background.
    visible: `(B, H, W)` bool: the target pixel is covered and the source sees its point (see
        the module docstring for the test).
    facing: `(B, H, W)` in [0, 1]: `|n_d| / |n|` of the point's face normal in source image
        space, 1 for a face seen head-on, 0 edge-on; 0 where not `visible`.
    """

    grid: torch.Tensor
    visible: torch.Tensor
    facing: torch.Tensor


def surface_points(fragments: Fragments, verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """The position, on another mesh of the same topology, of the point seen at each pixel.

    Args:
        fragments: a rasterization (`face_id (B, H, W)`, `bary (B, H, W, 3)`) of any mesh with
            faces `faces`.
        verts: `(B, V, 3)` (or `(1, V, 3)`, shared by the batch) floating vertices of the mesh
            to read positions on, in any space (image space gives `(u, v, d)`).
        faces: `(F, 3)` integer vertex indices, the topology of both meshes.
    Returns:
        `(B, H, W, 3)` in `verts`' dtype: the barycentric combination of the seen face's
        vertices in `verts`; zeros on background.
    """
    _check_fragments(fragments, "fragments")
    batch = fragments.face_id.shape[0]
    check_shape(verts, "B V 3", "verts", floating=True)
    if verts.shape[0] not in (1, batch):
        raise ValueError(f"verts has batch {verts.shape[0]} but fragments {batch}")
    faces = check_faces(faces, verts)
    values = verts[0] if verts.shape[0] == 1 else verts
    return interpolate(fragments, values, faces)


def transfer_flow(
    target: Fragments,
    source_verts: torch.Tensor,
    source: Fragments,
    faces: torch.Tensor,
    source_size: tuple[int, int] | None = None,
    depth_tolerance: float = 2.0,
) -> Flow:
    """The flow from target pixels to source pixels, with visibility and facing.

    Args:
        target: rasterization of the target mesh(es), `face_id (Bt, H, W)` with `Bt` = 1
            (shared by every source) or `B`.
        source_verts: `(B, V, 3)` floating image-space vertices `(u, v, d)` of the source
            mesh(es), same topology as the target.
        source: rasterization of `source_verts`, `face_id (B, Hf, Wf)`, `depth (B, Hf, Wf)`.
        faces: `(F, 3)` integer vertex indices shared by both meshes.
        source_size: `(H, W)` of the source image in whose pixel units `source_verts` are
            given; sets the grid's normalization. Default: the source fragments' size. When it
            differs, `source` must be the rasterization of `source_verts` with `u` scaled by
            `Wf / W` and `v` by `Hf / H`, depth unchanged (e.g. a cheaper visibility map).
        depth_tolerance: how far (depth pixels of `source_verts`, >= 0) a surface may lie in
            front of a point's tangent plane before it counts as occluding it. The default 2
            is about 1% of a 256-pixel-tall body (about 1.3 cm).
    Returns:
        `Flow(grid (B, H, W, 2), visible (B, H, W) bool, facing (B, H, W))` on `source_verts`'
        device, floats in its dtype. `grid` is differentiable with respect to `source_verts`.
    """
    _check_fragments(target, "target")
    _check_fragments(source, "source")
    check_shape(source_verts, "B V 3", "source_verts", floating=True)
    batch, num_verts = source_verts.shape[:2]
    if source.face_id.shape[0] != batch:
        raise ValueError(f"source fragments have batch {source.face_id.shape[0]} but source_verts {batch}")
    if target.face_id.shape[0] not in (1, batch):
        raise ValueError(f"target fragments have batch {target.face_id.shape[0]}, expected 1 or {batch}")
    for name, frags in (("target", target), ("source", source)):
        if frags.face_id.device != source_verts.device:
            raise ValueError(
                f"{name} fragments are on {frags.face_id.device} but source_verts on {source_verts.device}"
            )
    faces = check_faces(faces, source_verts)
    if not isinstance(depth_tolerance, (int, float)) or not depth_tolerance >= 0:
        raise ValueError(f"depth_tolerance must be a number >= 0, got {depth_tolerance!r}")
    frag_h, frag_w = source.face_id.shape[1:]
    src_h, src_w = (frag_h, frag_w) if source_size is None else source_size
    if any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in (src_h, src_w)):
        raise ValueError(f"source_size must be (H, W) positive ints, got {source_size!r}")

    device, dtype = source_verts.device, source_verts.dtype
    height, width = target.face_id.shape[1:]
    face_id = target.face_id.expand(batch, height, width).reshape(-1)
    pixel = (face_id >= 0).nonzero().squeeze(1)  # (N,) covered target pixels, flat
    b = pixel // (height * width)
    corner = faces.index_select(0, face_id.index_select(0, pixel)) + (b * num_verts).unsqueeze(1)
    # (3, N, 3): corner, pixel, coordinate (u, v, d) of the seen face in the source mesh.
    tri = source_verts.reshape(-1, 3).index_select(0, corner.t().reshape(-1)).view(3, -1, 3)
    bary = target.bary.expand(batch, height, width, 3).reshape(-1, 3).index_select(0, pixel).to(dtype)
    point = tri[0] * bary[:, 0:1] + tri[1] * bary[:, 1:2] + tri[2] * bary[:, 2:3]  # (N, 3)

    e1, e2 = (tri[1] - tri[0]).unbind(1), (tri[2] - tri[0]).unbind(1)
    n_u = e1[1] * e2[2] - e1[2] * e2[1]  # the face normal e1 x e2
    n_v = e1[2] * e2[0] - e1[0] * e2[2]
    n_d = e1[0] * e2[1] - e1[1] * e2[0]
    length = (n_u * n_u + n_v * n_v + n_d * n_d).sqrt()
    flat = n_d.abs() <= length * 1e-9  # edge-on (or degenerate) in the source: no plane in d
    facing = torch.where(length > 0, n_d.abs() / length.clamp(min=torch.finfo(dtype).tiny), 0.0)
    safe_d = torch.where(flat, 1.0, n_d)
    slope_u = torch.where(flat, 0.0, -n_u / safe_d)  # the tangent plane: d = d_p + slope . dp
    slope_v = torch.where(flat, 0.0, -n_v / safe_d)

    # The footprint of a bilinear sample at the point, in the fragments' pixel grid.
    scale_u, scale_v = frag_w / src_w, frag_h / src_h
    fu, fv = point[:, 0] * scale_u - 0.5, point[:, 1] * scale_v - 0.5
    j0, i0 = fu.detach().floor(), fv.detach().floor()
    tu, tv = (fu - j0).detach(), (fv - i0).detach()
    offset = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], device=device, dtype=dtype)  # di, dj
    ii = i0.unsqueeze(1) + offset[:, 0]  # (N, 4)
    jj = j0.unsqueeze(1) + offset[:, 1]
    weight = torch.where(offset[:, 0] > 0, tv.unsqueeze(1), 1.0 - tv.unsqueeze(1)) * torch.where(
        offset[:, 1] > 0, tu.unsqueeze(1), 1.0 - tu.unsqueeze(1)
    )
    usable = (weight > _MIN_WEIGHT) & (ii >= 0) & (ii < frag_h) & (jj >= 0) & (jj < frag_w)
    row, col = ii.clamp(0, frag_h - 1).long(), jj.clamp(0, frag_w - 1).long()
    index = (b.unsqueeze(1) * frag_h + row) * frag_w + col
    seen = source.depth.reshape(-1).index_select(0, index.view(-1)).view(-1, 4).to(dtype)
    covered = usable & (source.face_id.reshape(-1).index_select(0, index.view(-1)).view(-1, 4) >= 0)
    # p's tangent plane at the footprint pixel centres, in source_verts' pixel units.
    du = (jj - fu.detach().unsqueeze(1)) / scale_u  # pixel centre jj + 0.5 minus fu + 0.5
    dv = (ii - fv.detach().unsqueeze(1)) / scale_v
    plane = point[:, 2:3].detach() + slope_u.detach().unsqueeze(1) * du + slope_v.detach().unsqueeze(1) * dv
    occluded = (covered & (seen < plane - depth_tolerance)).any(1)
    inside = (point[:, 0] >= 0) & (point[:, 0] <= src_w) & (point[:, 1] >= 0) & (point[:, 1] <= src_h)
    visible = inside & covered.any(1) & ~occluded

    total = batch * height * width
    grid = torch.full((total, 2), BACKGROUND_GRID, device=device, dtype=dtype)
    grid = grid.index_copy(0, pixel, pixels_to_grid(point[:, :2], src_h, src_w))
    visible_map = torch.zeros(total, device=device, dtype=torch.bool).index_copy_(0, pixel, visible)
    facing_map = torch.zeros(total, device=device, dtype=dtype).index_copy_(
        0, pixel, torch.where(visible, facing.detach(), 0.0)
    )
    return Flow(
        grid.view(batch, height, width, 2),
        visible_map.view(batch, height, width),
        facing_map.view(batch, height, width),
    )


def view_agreement(target_verts: torch.Tensor, source_verts: torch.Tensor, faces: torch.Tensor, face_id: torch.Tensor) -> torch.Tensor:
    """How alike each source sees each target pixel's surface as the target view does.

    Per face, the rotation that carries the face's frame (first edge, normal) in a source's
    image space onto its frame in the target's; the cosine of the angle between the two
    cameras' viewing directions in the face's own frame is that rotation's depth-depth entry
    (the angle penalty of view-dependent texturing, as in Buehler et al.'s Unstructured
    Lumigraph): 1 where a source saw the face from where the target sees it (the same view of
    it, at any pose), lower the more the view of it turned, -1 from the opposite side.

    Args:
        target_verts: `(1, V, 3)` image-space vertices of the target. source_verts: `(S, V, 3)`.
        faces: `(F, 3)` vertex indices. face_id: `(1, H, W)` the target's rasterization (-1 off
            the mesh).
    Returns:
        `(S, H, W)` cosines in [-1, 1] at every covered target pixel, 1 off the mesh.
    """
    check_shape(target_verts, "1 V 3", "target_verts", floating=True)
    check_shape(source_verts, "S V 3", "source_verts", floating=True, sizes={"V": target_verts.shape[1]})

    def depth_row(verts: torch.Tensor) -> torch.Tensor:
        """`(B, F, 3)`: the depth components of each face's frame (edge, normal x edge, normal)."""
        corners = verts[:, faces]  # (B, F, 3, 3)
        edge = corners[:, :, 1] - corners[:, :, 0]
        normal = torch.linalg.cross(edge, corners[:, :, 2] - corners[:, :, 0])
        edge = F.normalize(edge, dim=-1)
        normal = F.normalize(normal, dim=-1)
        side = torch.linalg.cross(normal, edge)
        return torch.stack((edge[..., 2], side[..., 2], normal[..., 2]), -1)

    cosine = (depth_row(source_verts) * depth_row(target_verts)).sum(-1).clamp(-1.0, 1.0)  # (S, F)
    covered = face_id[0] >= 0
    return torch.where(covered, cosine[:, face_id[0].clamp(min=0)], 1.0)


def combine_sources(
    flows: Flow | Sequence[Flow],
    sharpness: float = 4.0,
    agreement: torch.Tensor | None = None,
    agreement_sharpness: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-source grids and blending weights for one target seen by several sources.

    Every target pixel takes its texture from the sources that see its point, weighted by
    `facing ** sharpness` (the most frontal source dominates, seams between sources still
    blend) and, given `agreement`, by `((1 + agreement) / 2) ** agreement_sharpness` (the
    source whose view of the point is nearest the target's dominates: `view_agreement`),
    normalized to sum to 1 over the sources wherever at least one sees it. A source that sees
    a point edge-on (facing 0) still gets the whole weight when it is the only one.

    Args:
        flows: the `transfer_flow` results of the `S` sources against the same target: a
            sequence of flows of batch 1 (or any batch; they are concatenated), or one flow of
            batch `S`.
        sharpness: the exponent on `facing` (>= 0; 0 averages the seeing sources evenly).
        agreement: `(S, H, W)` in [-1, 1], `view_agreement`'s cosines; None: not used.
        agreement_sharpness: its exponent (>= 0).
    Returns:
        `grids (S, H, W, 2)` (the flows' grids, stacked) and `weights (S, H, W)` in the
        facings' dtype: in [0, 1], 0 where a source does not see the point, summing to 1 over
        the sources where any source sees it and 0 everywhere else.
    """
    if isinstance(flows, Flow):
        flows = [flows]
    flows = list(flows)
    if not flows or not all(isinstance(f, Flow) for f in flows):
        raise ValueError("flows must be a Flow or a non-empty sequence of Flow")
    size = flows[0].grid.shape[1:3]
    if any(f.grid.shape[1:3] != size or f.visible.shape != f.grid.shape[:3] for f in flows):
        raise ValueError(
            "every flow must be of the same target size, got "
            + ", ".join(str(tuple(f.grid.shape)) for f in flows)
        )
    for name, value in (("sharpness", sharpness), ("agreement_sharpness", agreement_sharpness)):
        if not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    grids = torch.cat([f.grid for f in flows])
    visible = torch.cat([f.visible for f in flows])
    facing = torch.cat([f.facing for f in flows])
    tiny = torch.finfo(facing.dtype).tiny
    # facing ** sharpness normalized, in log space: no underflow for any sharpness.
    logit = sharpness * facing.clamp(min=tiny).log()
    if agreement is not None and agreement_sharpness > 0:
        logit = logit + agreement_sharpness * ((1.0 + agreement.to(facing.dtype)) / 2).clamp(min=tiny).log()
    logit = torch.where(visible, logit, float("-inf"))
    seen = visible.any(0, keepdim=True)
    weights = torch.softmax(torch.where(seen, logit, 0.0), dim=0)
    return grids, torch.where(seen & visible, weights, 0.0)


def _check_fragments(fragments: Fragments, name: str) -> None:
    face_id = getattr(fragments, "face_id", None)
    bary = getattr(fragments, "bary", None)
    depth = getattr(fragments, "depth", None)
    if (
        not isinstance(face_id, torch.Tensor)
        or face_id.dim() != 3
        or face_id.dtype != torch.int64
        or not isinstance(bary, torch.Tensor)
        or bary.shape != (*face_id.shape, 3)
        or not isinstance(depth, torch.Tensor)
        or depth.shape != face_id.shape
    ):
        raise ValueError(
            f"{name} must be Fragments with int64 face_id (B, H, W), bary (B, H, W, 3) and "
            f"depth (B, H, W), got {describe(face_id)}, {describe(bary)}, {describe(depth)}"
        )

