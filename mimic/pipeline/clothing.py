"""The clothed subject: per-vertex normal offsets of the fitted body, fitted to its person masks.

The naked body misses what it does not model (hair, loose clothes, dresses, shoes). Following
SMPL+D (Alldieck et al. 2018) with silhouette correspondences, each source view is rasterized,
and every pixel on the rendered silhouette's rim is given a target along the rim's outward
normal: out to the mask's edge when the mask goes on (half way when the march meets the mesh
again between the legs, as under a skirt: the other side fills the other half), in to the mask
when the mesh sticks out. The vertices of the rim's faces take that target through their
normals' image-plane direction; every view adds its rows for the vertices no earlier view's rim
holds that round (the first view, a user's main photo or the first source frame, sets the
clothes wherever it sees their edge; a later view adds what it alone shows, such as the back of
the hair, and a later view whose body fit is off cannot pull the first one's clothes off its
mask: two masks fitted at once by least squares met half way). One linear least-squares solve per
iteration (conjugate gradients, matrix-free) finds all offsets at once, with

- smoothness: the squared difference of the offsets across every mesh edge (so the front and
  back of a skirt, which no front view sees move, swell as its sides do: thickness in depth
  follows the width),
- a small pull towards zero (offsets only where the masks ask), and
- a step term that keeps each iteration near the last (vertices that left the rim keep theirs).

Afterwards, the legs' cloth at and above where it bridges the legs (a skirt, a dress) hangs from
the pelvis (`bodymesh.clothed_body`), with weights diffused over the mesh so the skirt moves as one
piece. Over legs standing together, which bridge nothing, a skirt or a coat is found by its hem,
and the legs' inner halves above it hang.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import roma
import torch

from bodymesh.body_model import BodyModel, zero_pose
from bodymesh.camera import to_image_space
from bodymesh.clothed_body import ClothedBody, pelvis_anchors
from bodymesh.mesh import mesh_edges, smooth_on_mesh, vertex_normals
from bodymesh.parts import PART_INDEX
from warping.raster import rasterize

__all__ = ["ClothesConfig", "fit_clothes", "silhouette_overlap"]

_LEG_PARTS = tuple(PART_INDEX[f"{side}_{part}"] for side in ("left", "right") for part in ("upper_leg", "lower_leg"))


@dataclass
class ClothesConfig:
    """Budgets and weights of the clothes fit (offsets in metres).

    iterations: rasterize-and-solve rounds. smoothness: weight of each edge's squared offset
    difference, relative to one rim row. zero: pull of every offset towards 0. step: pull
    towards the last round's offsets. min_offset, max_offset: the range of an offset (the body
    may shrink a little where it sticks out of the mask). min_facing: a rim vertex moves the
    silhouette only if its normal has at least this much of the rim's outward direction.
    small_gap: the widest gap between body parts other than the legs that the mask may close
    (wider ones between an arm and the body stay open).
    midline, bridge_offset, bridge_count: a leg vertex whose clothed point comes this close to
    the body's midline, by an offset of at least bridge_offset, bridges the legs; with at least
    bridge_count such vertices on a leg, the leg's cloth from the lowest of them up hangs from
    the pelvis.
    hem_offset, hem_drop: cloth that stands off the outer side of both legs by at least
    hem_offset (the 90th percentile of a height band) and ends above the ankle, where it drops to
    at most hem_drop x that (a skirt, a dress or a coat's hem over legs standing together):
    the legs' inner halves hang from the pelvis down to that hem.
    hang_spread: smoothing rounds that spread the hang weights over the mesh.
    """

    iterations: int = 8
    smoothness: float = 0.5
    zero: float = 0.02
    step: float = 0.3
    min_offset: float = -0.015
    max_offset: float = 0.3
    min_facing: float = 0.3
    small_gap: float = 0.06
    midline: float = 0.03
    bridge_offset: float = 0.045
    bridge_count: int = 20
    hem_offset: float = 0.03
    hem_drop: float = 0.4
    hang_spread: int = 24

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {self.iterations}")
        if not self.min_offset <= 0 <= self.max_offset:
            raise ValueError(f"need min_offset <= 0 <= max_offset, got {self.min_offset}, {self.max_offset}")


def silhouette_overlap(face_id: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IoU of rendered silhouettes and person masks, and the share of each mask left uncovered.

    Args:
        face_id: `(B, H, W)` rasterized face ids (-1 = background).
        masks: `(B, H, W)` person masks in [0, 1] (above 0.5 is the person).
    Returns:
        `(B,)` IoU and `(B,)` uncovered share, both in [0, 1] (NaN for an empty mask).
    """
    rendered, person = face_id >= 0, masks > 0.5
    inter = (rendered & person).flatten(1).sum(1).float()
    union = (rendered | person).flatten(1).sum(1).float()
    area = person.flatten(1).sum(1).float()
    return inter / union, 1 - inter / area


def fit_clothes(
    body: BodyModel,
    shape: torch.Tensor,
    poses: torch.Tensor,
    cams: torch.Tensor,
    masks: torch.Tensor,
    config: ClothesConfig | None = None,
) -> ClothedBody:
    """Fits the clothed subject to its source views.

    Args:
        body: the naked body model.
        shape: `(S,)` the subject's body shape.
        poses: `(N, J, 3)` the pose in each source view.
        cams: `(N, 3)` weak-perspective cameras of the views (canvas pixels).
        masks: `(N, H, W)` the person masks in [0, 1] of the views, the main view first (it
            sets the clothes on its silhouette's rim; later views add the rest).
        config: budgets and weights (ClothesConfig() when None).
    Returns:
        The ClothedBody of `body`, which renders over the masks in the source poses.
    """
    config = config or ClothesConfig()
    count, height, width = masks.shape
    if poses.shape[0] != count or cams.shape != (count, 3):
        raise ValueError(f"need one pose and camera (N, 3) per mask, got {tuple(poses.shape)}, {tuple(cams.shape)} for {count} masks")
    faces = body.faces
    with torch.no_grad():
        posed = body.forward(poses, shape[None].expand(count, -1)).vertices
        rest = body.forward(zero_pose(body, device=posed.device), shape[None]).vertices[0]
    normals = vertex_normals(posed, faces)
    image_normals = normals[..., :2] * normals.new_tensor([1.0, -1.0])  # (N, V, 2), pixel axes
    edges = mesh_edges(faces)
    leg_faces = torch.isin(body.part_labels[faces[:, 0]], torch.tensor(_LEG_PARTS, device=faces.device)).cpu().numpy()
    person = [m.cpu().numpy() > 0.5 for m in masks]
    offsets = posed.new_zeros(posed.shape[1])
    for _ in range(config.iterations):
        verts = to_image_space(posed + offsets[None, :, None] * normals, cams)
        face_id = rasterize(verts, faces, height, width).face_id.cpu().numpy()
        weight = offsets.new_zeros(offsets.shape)
        target = offsets.new_zeros(offsets.shape)
        claimed = torch.zeros(offsets.shape, dtype=torch.bool, device=offsets.device)  # vertices an earlier view set
        for view in range(count):
            legs = np.where(face_id[view] >= 0, leg_faces[np.maximum(face_id[view], 0)], False)
            scale = float(cams[view, 0])
            pixels, outward, push = _rim_targets(face_id[view] >= 0, legs, person[view], scale * config.max_offset, scale * config.small_gap)
            if not len(pixels):
                continue
            rows = faces[torch.from_numpy(face_id[view][pixels[:, 0], pixels[:, 1]]).to(faces.device)]  # (P, 3)
            direction = torch.from_numpy(outward).to(offsets)[:, None]  # (P, 1, 2)
            facing = (image_normals[view][rows] * direction).sum(-1)  # (P, 3)
            goal = torch.from_numpy(push).to(offsets)[:, None] / cams[view, 0]  # metres along the rim normal
            keep = (facing > config.min_facing) & ~claimed[rows]
            index, facing, goal = rows[keep], facing[keep], goal.expand_as(keep)[keep]
            weight.index_add_(0, index, facing**2)
            target.index_add_(0, index, facing * (facing * offsets[index] + goal))
            claimed[index] = True
        offsets = _solve(weight, target, offsets, edges, config).clamp(config.min_offset, config.max_offset)
    return _hang(body, rest, posed[0], offsets, normals[0], config)


def _rim_targets(
    rendered: np.ndarray, legs: np.ndarray, person: np.ndarray, reach: float, small_gap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rim pixels `(P, 2)` (row, column) of the rendered silhouette `(H, W)` bool, their outward
    unit normals `(P, 2)` (x right, y down) and how far, pixels, the rim should move along them
    (negative: inwards), marching at most `reach` pixels. A march that meets the mesh again
    fills the gap from leg to leg (`legs (H, W)` bool: rendered leg pixels), as under a skirt,
    and elsewhere only up to `small_gap` pixels (hair on the shoulders, an armpit): a mask that
    closes a wide gap between an arm and the body or the head is more often the mask's blur
    than cloth, and would swell the arm wherever it goes."""
    kernel = np.ones((3, 3), np.uint8)
    rim = rendered & ~cv2.erode(rendered.astype(np.uint8), kernel).astype(bool)
    soft = cv2.GaussianBlur(rendered.astype(np.float32), (0, 0), 1.5)
    gx, gy = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    rows, cols = np.nonzero(rim)
    normal = -np.stack((gx[rows, cols], gy[rows, cols]), axis=1)
    length = np.linalg.norm(normal, axis=1)
    good = length > 1e-3
    rows, cols, normal = rows[good], cols[good], normal[good] / length[good, None]
    height, width = rendered.shape
    push = np.zeros(len(rows), np.float32)

    inside = person[rows, cols]
    steps = np.arange(1, max(int(np.ceil(reach)), 1) + 1, dtype=np.float32)
    x = cols[inside, None] + 0.5 + steps[None] * normal[inside, :1]
    y = rows[inside, None] + 0.5 + steps[None] * normal[inside, 1:]
    on_image = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    xi, yi = np.clip(x.astype(int), 0, width - 1), np.clip(y.astype(int), 0, height - 1)
    in_person = person[yi, xi] & on_image
    in_mesh = rendered[yi, xi] & on_image
    stop = ~in_person | in_mesh
    first = np.where(stop.any(1), stop.argmax(1), len(steps) - 1)
    hit_mesh = in_mesh[np.arange(len(first)), first]
    leg_to_leg = legs[rows[inside], cols[inside]] & legs[yi[np.arange(len(first)), first], xi[np.arange(len(first)), first]]
    travelled = first.astype(np.float32)  # whole steps inside the uncovered mask
    gap = np.where(leg_to_leg | (travelled <= small_gap), (travelled + 1) / 2, 0.0)  # the two sides overlap a little
    push[inside] = np.where(hit_mesh, gap, travelled)

    outside = ~inside
    distance = cv2.distanceTransform((~person).astype(np.uint8), cv2.DIST_L2, 5)
    push[outside] = -np.minimum(distance[rows[outside], cols[outside]], reach)
    return np.stack((rows, cols), axis=1), normal.astype(np.float32), push


def _solve(weight: torch.Tensor, target: torch.Tensor, last: torch.Tensor, edges: torch.Tensor, config: ClothesConfig) -> torch.Tensor:
    """Minimises `sum_i (weight_i h_i^2 - 2 target_i h_i) + smoothness sum_edges (h_a - h_b)^2 +
    zero |h|^2 + step |h - last|^2` over `h (V,)` by Jacobi-preconditioned conjugate gradients."""
    a, b = edges[:, 0], edges[:, 1]
    degree = torch.zeros_like(weight).index_add_(0, edges.flatten(), torch.ones_like(edges.flatten(), dtype=weight.dtype))
    diagonal = weight + config.zero + config.step + config.smoothness * degree

    def apply(h: torch.Tensor) -> torch.Tensor:
        difference = h[a] - h[b]
        laplacian = torch.zeros_like(h).index_add_(0, a, difference).index_add_(0, b, -difference)
        return (weight + config.zero + config.step) * h + config.smoothness * laplacian

    rhs = target + config.step * last
    h = last.clone()
    residual = rhs - apply(h)
    z = residual / diagonal
    p = z.clone()
    rz = (residual * z).sum()
    for _ in range(300):
        ap = apply(p)
        alpha = rz / (p * ap).sum().clamp(min=1e-20)
        h = h + alpha * p
        residual = residual - alpha * ap
        if float(residual.norm()) < 1e-6 * float(rhs.norm().clamp(min=1e-12)):
            break
        z = residual / diagonal
        rz_new = (residual * z).sum()
        p = z + (rz_new / rz) * p
        rz = rz_new
    return h


def _hang(body: BodyModel, rest: torch.Tensor, posed: torch.Tensor, offsets: torch.Tensor, normals: torch.Tensor, config: ClothesConfig) -> ClothedBody:
    """The ClothedBody of fitted `offsets (V,)`, its hang weights found in the first view
    (`posed (V, 3)` base vertices, `normals (V, 3)`): the legs' cloth under a bridge between
    them, or above a hem that both legs show, hangs from the pelvis, weights spread over the mesh."""
    clothed = posed + offsets[:, None] * normals
    anchors = pelvis_anchors(rest, body.part_labels, PART_INDEX["torso"])
    rotation, translation = (t[0] for t in roma.rigid_points_registration(rest[None, anchors], posed[None, anchors]))
    in_pelvis = (clothed - translation) @ rotation  # the clothed points in the rest pelvis frame
    legs = torch.isin(body.part_labels, torch.tensor(_LEG_PARTS, device=offsets.device))
    side = torch.sign(rest[:, 0])
    # Cloth that moved to the midline bridges the legs (legs standing together reach it bare,
    # by a few vertices at most: trousers must not turn into a skirt when they part); cloth
    # that bridges them at some height bridges them everywhere above it too.
    bridging = legs & (side * in_pelvis[:, 0] < config.midline) & (offsets > config.bridge_offset)
    under = torch.zeros_like(legs)
    for sign in (-1.0, 1.0):
        leg = legs & (side == sign)
        heights = rest[bridging & leg, 1]
        if heights.numel() >= config.bridge_count:
            under |= leg & (rest[:, 1] >= torch.quantile(heights, 0.05))
    hang = (2 * smooth_on_mesh((under & (offsets > 0.005)).float()[:, None], body.faces, config.hang_spread)[:, 0]).clamp(0, 1)
    # Legs standing together under a skirt reach the midline bare, and bridge nothing: there
    # the cloth shows as a hem, standing off both legs' outer sides above it and not below.
    # Above the hem the inner sides hang (they close the skirt between the legs when they
    # part) and the outer sides follow the thighs (the legs push the skirt out).
    bands = [_leg_bands(rest, legs & (side == sign)) for sign in (-1.0, 1.0)]
    hems = [_hem_height(rest, offsets, leg_bands, sign, config) for leg_bands, sign in zip(bands, (-1.0, 1.0))]
    if None not in hems:
        above = (legs & (rest[:, 1] >= min(hems))).float()
        inner = sum(_inner_side(rest, leg_bands, sign) for leg_bands, sign in zip(bands, (-1.0, 1.0)))
        hem_hang = (2 * smooth_on_mesh(above[:, None], body.faces, config.hang_spread)[:, 0]).clamp(0, 1) * inner
        hang = torch.maximum(hang, hem_hang)
    hang = hang * legs
    return ClothedBody(body, offsets, hang, clothed, anchors, posed[anchors])


def _leg_bands(rest: torch.Tensor, leg: torch.Tensor, count: int = 10) -> list[torch.Tensor]:
    """`count` `(V,)` bool masks cutting `leg (V,)` bool into equal height bands of the rest body
    `rest (V, 3)`, from the hip down."""
    height = rest[:, 1]
    top, bottom = height[leg].max(), height[leg].min()
    edges = top - (top - bottom) * torch.arange(count + 1, device=rest.device) / count
    edges[-1] = bottom - 1.0  # the lowest vertex belongs to the last band
    return [leg & (height <= edges[band]) & (height > edges[band + 1]) for band in range(count)]


def _inner_side(rest: torch.Tensor, bands: list[torch.Tensor], sign: float) -> torch.Tensor:
    """`(V,)` in [0, 1]: 1 on a leg's inner half (towards the body's midline, front and back
    included), falling to 0 on its outer side, from each vertex's direction about its height
    band's centre in the rest body `rest (V, 3)`; 0 off the leg (`bands` from `_leg_bands`,
    `sign` its side)."""
    inner = rest.new_zeros(rest.shape[0])
    for band in bands:
        if not bool(band.any()):
            continue
        around = rest[band][:, [0, 2]] - rest[band][:, [0, 2]].mean(0)
        outward = sign * around[:, 0] / around.norm(dim=1).clamp(min=1e-6)
        inner[band] = (1 - outward).clamp(0, 1)
    return inner


def _hem_height(rest: torch.Tensor, offsets: torch.Tensor, bands: list[torch.Tensor], sign: float, config: ClothesConfig) -> float | None:
    """The rest height (metres) of the hem of cloth that stands off the outer side of a leg
    (its height `bands` from `_leg_bands`, `sign` its side of the body's x axis) and ends above
    the ankle, or None.

    Each band's outer offset is the 90th percentile of `offsets (V,)` on its outer half. A hem
    is a band whose outer offset is at least `config.hem_offset` and 0.7 x the largest above
    it, below which (after one band of transition, down to the band above the ankle) no outer
    offset exceeds `config.hem_drop` x that largest: a skirt or a coat, not trousers (they
    stand off down to the ankle) or shorts (they stand off less)."""
    outer = []
    for band in bands:
        outside = band & (sign * (rest[:, 0] - rest[band, 0].mean()) > 0)
        if not bool(outside.any()):
            return None
        outer.append(float(torch.quantile(offsets[outside], 0.9)))
    count = len(bands)
    for band in range(1, count - 3):
        peak = max(outer[: band + 1])
        if outer[band] >= max(config.hem_offset, 0.7 * peak) and max(outer[band + 2 : count - 1]) <= config.hem_drop * peak:
            return float(rest[bands[band + 1], 1].min())
    return None
