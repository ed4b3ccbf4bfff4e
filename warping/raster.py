"""Mesh rasterization: image-space triangles -> per-pixel face id, barycentrics and depth.

Coordinates are the image space of `bodymesh.camera`: `u` = pixel column, `v` = pixel row,
`d` = depth in the same pixel units, larger = farther (the nearest surface has the smallest
depth). Pixel `(row i, column j)` covers the square `[j, j+1] x [i, i+1]` and is sampled at its
centre `(u, v) = (j + 0.5, i + 0.5)`: a vertex at `u = 0` lies on the image's left edge and an
image of width `W` spans `0 <= u <= W`.

Rules: the projection is orthographic (weak perspective), so barycentrics are the 2D ones and
depth is interpolated linearly; front and back faces are both drawn (no culling); a pixel centre
on a triangle's edge or vertex counts as inside (shared edges leave no cracks); the z-buffer keeps
the smallest depth, ties going to the smallest face id (depths are compared in float32);
zero-area faces and faces with a non-finite vertex or area are skipped; faces partly off-screen are
clipped to the image.

Backends: "torch" (the default, also picked by "auto"), a vectorized PyTorch z-buffer that runs
on whatever device the inputs are on; "pytorch3d", `pytorch3d.renderer.mesh.rasterize_meshes`
when that package is importable (asked for by name only).

The torch backend has no Python loop over faces or pixels: faces are grouped by the size of their
pixel bounding box, each group tests a fixed window of pixel centres per face with edge functions,
and one `scatter_reduce(amin)` of packed (depth, face id) keys resolves visibility. Its cost grows
with the number of faces and the pixels their boxes cover (`benchmarks/raster.py`: about 8 ms at
256x256 and 10 ms at 512x512 for a 27k-face body-sized mesh on 2 CPU cores); image-filling
triangles are fine but slower (each covered pixel is one candidate).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from warping.checks import check_choice, check_positive_int, check_shape

__all__ = ["Fragments", "rasterize", "interpolate", "check_faces", "BACKENDS"]

BACKENDS = ("auto", "torch", "pytorch3d")

# Window sizes (pixels, square; powers of two from 1) of the face buckets: a face whose clipped
# pixel bounding box fits in k x k goes to the smallest such k; larger faces are cut into tiles
# of the last size.
_WINDOWS = tuple(2**k for k in range(6))
# Upper bound on candidate (face, pixel) pairs evaluated at once; bounds the working memory.
_MAX_CANDIDATES = 1 << 20
# A pixel centre is inside when each barycentric weight is >= -_EDGE_EPS (closes cracks that
# float rounding would open along shared edges; the weights are then clamped to [0, 1]).
_EDGE_EPS = 1e-6
# Faces whose doubled area (pixels^2) is at most this are degenerate and skipped.
_MIN_AREA2 = 1e-10
_NO_HIT = torch.iinfo(torch.int64).max


class Fragments(NamedTuple):
    """Per-pixel rasterization result.

    face_id: `(B, H, W)` int64 index into `faces` of the visible face, -1 on background.
    bary: `(B, H, W, 3)` barycentric weights of that face's three vertices at the pixel centre,
        in [0, 1], summing to 1; zeros on background.
    depth: `(B, H, W)` interpolated depth `d` (pixels, larger = farther); +inf on background.
    """

    face_id: torch.Tensor
    bary: torch.Tensor
    depth: torch.Tensor


def rasterize(
    verts: torch.Tensor,
    faces: torch.Tensor,
    height: int,
    width: int,
    backend: str = "auto",
) -> Fragments:
    """Rasterizes a batch of triangle meshes sharing one topology.

    Args:
        verts: `(B, V, 3)` float image-space vertices `(u, v, d)`: pixel column, pixel row,
            depth (pixels, larger = farther); see the module docstring for the pixel grid.
        faces: `(F, 3)` integer vertex indices in `[0, V)`; moved to `verts`' device if needed.
        height: image height `H` in pixels (> 0).
        width: image width `W` in pixels (> 0).
        backend: "auto" or "torch" (built-in, any device) or "pytorch3d" (needs pytorch3d).
    Returns:
        `Fragments(face_id (B,H,W) int64, bary (B,H,W,3), depth (B,H,W))` on `verts`' device,
        `bary` and `depth` in `verts`' dtype. With the torch backend `bary` and `depth` are
        differentiable with respect to `verts` (coverage and face ids are not).
    """
    faces = _check_inputs(verts, faces, height, width, backend)
    if backend == "pytorch3d":
        return _rasterize_pytorch3d(verts, faces, height, width)
    return _rasterize_torch(verts, faces, height, width)


def interpolate(fragments: Fragments, values: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Interpolates per-vertex attributes at every pixel with the fragments' barycentrics.

    Args:
        fragments: the result of `rasterize` for `B` meshes on an `H x W` image.
        values: `(B, V, C)` or `(V, C)` (shared by the batch) floating per-vertex attributes.
        faces: `(F, 3)` the faces given to `rasterize`.
    Returns:
        `(B, H, W, C)` interpolated attributes, zeros on background.
    """
    face_id, bary = fragments.face_id, fragments.bary
    if face_id.dim() != 3 or bary.shape != (*face_id.shape, 3):
        raise ValueError(
            "fragments must hold face_id (B, H, W) and bary (B, H, W, 3), got "
            f"{tuple(face_id.shape)} and {tuple(bary.shape)}"
        )
    batch = face_id.shape[0]
    if not values.is_floating_point() or values.dim() not in (2, 3) or (
        values.dim() == 3 and values.shape[0] != batch
    ):
        raise ValueError(
            f"values must be floating (B, V, C) with B = {batch} or (V, C), "
            f"got {values.dtype} {tuple(values.shape)}"
        )
    if faces.dim() != 2 or faces.shape[1] != 3 or faces.is_floating_point():
        raise ValueError(f"faces must be integer (F, 3), got {faces.dtype} {tuple(faces.shape)}")
    faces = faces.to(device=face_id.device, dtype=torch.int64)
    height, width = face_id.shape[1:]
    dtype = torch.promote_types(values.dtype, bary.dtype)
    table = values.reshape(-1, values.shape[-1])  # (V, C) or (B*V, C)
    flat_id = face_id.reshape(-1)
    pixel = (flat_id >= 0).nonzero().squeeze(1)
    corner = faces.index_select(0, flat_id.index_select(0, pixel))  # (P, 3)
    if values.dim() == 3:
        corner = corner + (pixel // (height * width) * values.shape[1]).unsqueeze(1)
    gathered = table.index_select(0, corner.view(-1)).view(-1, 3, table.shape[1]).to(dtype)
    weights = bary.reshape(-1, 3).index_select(0, pixel).to(dtype)
    out = table.new_zeros((face_id.numel(), table.shape[1]), dtype=dtype)
    out.index_copy_(0, pixel, (weights.unsqueeze(-1) * gathered).sum(1))
    return out.view(*face_id.shape, table.shape[1])


def _check_inputs(
    verts: torch.Tensor, faces: torch.Tensor, height: int, width: int, backend: str
) -> torch.Tensor:
    """Validates `rasterize`'s arguments; returns `faces` as int64 on `verts`' device."""
    check_shape(verts, "B V 3", "verts (u, v, d)", floating=True)
    check_positive_int(height, "height")
    check_positive_int(width, "width")
    check_choice(backend, BACKENDS, "backend")
    faces = check_faces(faces, verts)
    if faces.shape[0] >= 2**31:
        raise ValueError(f"at most 2**31 - 1 faces are supported, got {faces.shape[0]}")
    return faces


def check_faces(faces: torch.Tensor, verts: torch.Tensor) -> torch.Tensor:
    """Checks that `faces` is an integer `(F, 3)` tensor indexing the `V` vertices of `verts
    (B, V, 3)`; returns it as int64 on `verts`' device, or raises one ValueError."""
    if (
        not isinstance(faces, torch.Tensor)
        or faces.dim() != 2
        or faces.shape[1] != 3
        or faces.is_floating_point()
        or faces.is_complex()
    ):
        shape = tuple(faces.shape) if isinstance(faces, torch.Tensor) else type(faces).__name__
        raise ValueError(f"faces must be an integer (F, 3) tensor, got {shape}")
    faces = faces.to(device=verts.device, dtype=torch.int64)
    if faces.numel():
        low, high = (int(x) for x in torch.aminmax(faces))
        if low < 0 or high >= verts.shape[1]:
            raise ValueError(f"faces index vertices in [{low}, {high}] but verts has {verts.shape[1]}")
    return faces


def _rasterize_torch(
    verts: torch.Tensor, faces: torch.Tensor, height: int, width: int
) -> Fragments:
    """The built-in backend: bucketed candidate pixels + a scatter-min z-buffer."""
    with torch.no_grad():
        key = _zbuffer_keys(verts.detach(), faces, height, width)  # (B, H, W) int64
        # The keys' low half, sign-extended: a face id, or -1 for _NO_HIT.
        face_id = (key << 32).bitwise_right_shift_(32)
    bary, depth = _shade(verts, faces, face_id)
    return Fragments(face_id, bary, depth)


def _zbuffer_keys(
    verts: torch.Tensor, faces: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """Per pixel, the smallest `(depth, face id)` key over the faces covering its centre.

    A key holds the float32 depth's order-preserving int32 in its high half and the face id in
    its low half, so one `scatter_reduce(amin)` resolves depth and ties at once. Faces are put
    in buckets by the size of their clipped pixel bounding box; each bucket tests a fixed
    `k x k` window of pixel centres from the box's top-left corner (faces larger than the last
    window are cut into tiles of it). Windows may run past the box: the key buffer has a margin
    of `_WINDOWS[-1]` pixels on the right and bottom that is cropped away at the end.
    Returns `(B, H, W)` int64, `_NO_HIT` where no face covers the pixel centre.
    """
    device = verts.device
    batch, num_faces = verts.shape[0], faces.shape[0]
    pad = _WINDOWS[-1]
    hp, wp = height + pad, width + pad
    keys = torch.full((batch * hp * wp,), _NO_HIT, dtype=torch.int64, device=device)
    if batch > 0 and num_faces > 0:
        _draw(keys, verts.float(), faces, height, width, hp, wp)
    return keys.view(batch, hp, wp)[:, :height, :width]


def _draw(
    keys: torch.Tensor,
    verts: torch.Tensor,
    faces: torch.Tensor,
    height: int,
    width: int,
    hp: int,
    wp: int,
) -> None:
    """Scatter-mins every covered pixel's key into the padded `(B*hp*wp,)` buffer `keys`."""
    batch, num_faces = verts.shape[0], faces.shape[0]
    # (9, B*F) rows x0 x1 x2 y0 y1 y2 z0 z1 z2 (coordinate-major, then corner) of every face.
    # (A 2-D index_select: on CPU much faster than one along the last dim of a 3-D tensor.)
    coords = verts.permute(2, 0, 1).reshape(3 * batch, -1).index_select(1, faces.t().reshape(-1))
    corners = coords.view(3, batch, 3, num_faces).transpose(1, 2).reshape(9, batch * num_faces)
    box = _pixel_box(corners, height, width)
    i0, j0, i1, j1 = box.unbind(0)
    x0, x1, x2, y0, y1, y2 = corners[:6].unbind(0)
    area2 = ((x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)).abs_()  # doubled area
    keep = (j1 >= j0) & (i1 >= i0) & (area2 > _MIN_AREA2) & (area2 < float("inf"))
    keep &= corners[6:].sum(0).isfinite()  # u and v are finite where the area is
    index = keep.nonzero().squeeze(1)
    if index.numel() == 0:
        return
    box = box.index_select(1, index)
    # Bucket k holds the boxes of at most 2**k pixels a side: frexp's exponent of (side - 1).
    side = torch.maximum(box[2] - box[0], box[3] - box[1])
    bucket = torch.frexp(side).exponent.clamp_(max=len(_WINDOWS))
    counts = torch.bincount(bucket, minlength=len(_WINDOWS) + 1).tolist()
    order = torch.argsort(bucket, stable=True)
    index, box = index.index_select(0, order), box.index_select(1, order)  # grouped by bucket
    table = _coefficients(corners.index_select(1, index), box)
    # (2, n) int64: face id, flat index of the box's corner pixel in the padded buffer.
    corner_pixel = index // num_faces * (hp * wp) + box[0].long() * wp + box[1].long()
    ints = torch.stack((index % num_faces, corner_pixel))
    start = 0
    for k, count in enumerate(counts):
        if count:
            sl = slice(start, start + count)
            if k < len(_WINDOWS):
                _scatter_window(keys, table[:, sl], ints[:, sl], _WINDOWS[k], wp)
            else:
                sizes = (box[2:, sl] - box[:2, sl]).long() + 1
                tiles = _tile(table[:, sl], ints[:, sl], sizes, _WINDOWS[-1], wp)
                _scatter_window(keys, *tiles, _WINDOWS[-1], wp)
        start += count


def _coefficients(corners: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """`(12, n)` rows c0 c1 c2 a0 a1 a2 b0 b1 b2 cz zx zy of each face's affine functions.

    At the pixel centre `(j0 + 0.5 + dx, i0 + 0.5 + dy)`, with `(i0, j0)` the box's corner,
    the barycentric weight of vertex n is `c_n + a_n * dx + b_n * dy`; the depth is
    `cz + zx * dx + zy * dy`. `corners` is `(9, n)` as in `_draw`, `box` `(4, n)` i0 j0 i1 j1.
    """
    x0, x1, x2, y0, y1, y2, z0, z1, z2 = corners.unbind(0)
    table = corners.new_empty(12, corners.shape[1])
    c0, c1, c2, a0, a1, a2, b0, b1, b2, cz, zx, zy = table.unbind(0)
    ex1, ey1, ex2, ey2 = x1 - x0, y1 - y0, x2 - x0, y2 - y0
    inv = (ex1 * ey2 - ey1 * ex2).reciprocal_()
    torch.mul(ey2, inv, out=a1)
    torch.mul(ex2, inv, out=b1).neg_()
    torch.mul(ey1, inv, out=a2).neg_()
    torch.mul(ex1, inv, out=b2)
    torch.add(a1, a2, out=a0).neg_()
    torch.add(b1, b2, out=b0).neg_()
    qx, qy = box[1] + 0.5 - x0, box[0] + 0.5 - y0  # corner pixel centre - vertex 0
    torch.addcmul(a1 * qx, b1, qy, out=c1)
    torch.addcmul(a2 * qx, b2, qy, out=c2)
    torch.sub(1.0 - c1, c2, out=c0)
    dz1, dz2 = z1 - z0, z2 - z0
    torch.addcmul(a1 * dz1, a2, dz2, out=zx)
    torch.addcmul(b1 * dz1, b2, dz2, out=zy)
    torch.addcmul(z0 + zx * qx, zy, qy, out=cz)
    return table


def _pixel_box(corners: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`(4, N)` float rows i0, j0, i1, j1: the pixels whose centres lie in each face's box.

    Pixel `j` is covered by `[lo, hi]` when `lo <= j + 0.5 <= hi`; the box is clipped to the
    image, so it is empty (`i1 < i0` or `j1 < j0`) for faces that miss every pixel centre.
    Coordinates are clamped before rounding so that huge or infinite ones stay representable.
    """
    x0, x1, x2, y0, y1, y2 = corners[:6].unbind(0)
    lo_u = torch.minimum(torch.minimum(x0, x1), x2).clamp_(-1.0, width + 1.0)
    hi_u = torch.maximum(torch.maximum(x0, x1), x2).clamp_(-1.0, width + 1.0)
    lo_v = torch.minimum(torch.minimum(y0, y1), y2).clamp_(-1.0, height + 1.0)
    hi_v = torch.maximum(torch.maximum(y0, y1), y2).clamp_(-1.0, height + 1.0)
    box = torch.stack((lo_v, lo_u, hi_v, hi_u)) - 0.5
    box[:2].ceil_().clamp_(min=0.0)
    box[2].floor_().clamp_(max=height - 1.0)
    box[3].floor_().clamp_(max=width - 1.0)
    return box


def _tile(
    table: torch.Tensor, ints: torch.Tensor, sizes: torch.Tensor, tile: int, wp: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cuts faces into `tile x tile` work items; `sizes` is `(2, n)` box rows and columns."""
    device = table.device
    across = (sizes + tile - 1) // tile  # (2, n) tiles down and across
    counts = across[0] * across[1]
    total = int(counts.sum())
    item = torch.arange(counts.shape[0], device=device).repeat_interleave(
        counts, output_size=total
    )
    local = torch.arange(total, device=device) - (torch.cumsum(counts, 0) - counts)[item]
    ncols = across[1][item]
    dy, dx = (local // ncols) * tile, (local % ncols) * tile
    table = table.index_select(1, item)
    fdx, fdy = dx.to(table.dtype), dy.to(table.dtype)
    table[0:3] += table[3:6] * fdx + table[6:9] * fdy  # constant terms at the tile's corner
    table[9] += table[10] * fdx + table[11] * fdy
    ints = ints.index_select(1, item)
    ints[1] += dy * wp + dx
    return table, ints


def _scatter_window(
    keys: torch.Tensor, table: torch.Tensor, ints: torch.Tensor, k: int, wp: int
) -> None:
    """Tests the `k x k` pixel centres from each face's corner pixel; scatter-mins their keys."""
    grid = torch.arange(k, device=keys.device)
    dy, dx = grid.repeat_interleave(k), grid.repeat(k)  # (K,) with K = k * k
    offset = dy * wp + dx
    dxy = torch.stack((dx, dy)).to(table.dtype)
    step_x, step_y = dxy[0].view(1, -1, 1), dxy[1].view(1, -1, 1)
    per_chunk = max(1, _MAX_CANDIDATES // (k * k))
    for s in range(0, table.shape[1], per_chunk):
        t = table[:, s : s + per_chunk]
        m = t.shape[1]
        # (3, K, m) weights: faces along the last, contiguous dimension vectorize best.
        w = torch.addcmul(t[0:3, None], t[3:6, None], step_x).addcmul_(t[6:9, None], step_y)
        inside = torch.minimum(torch.minimum(w[0], w[1]), w[2]) >= -_EDGE_EPS
        hit = inside.view(-1).nonzero().squeeze(1)
        if hit.numel() == 0:
            continue
        col = hit // m
        row = hit - col * m
        cz, zx, zy = t[9:12].index_select(1, row).unbind(0)
        step = dxy.index_select(1, col)
        depth = torch.addcmul(cz, zx, step[0]).addcmul_(zy, step[1]) + 0.0  # -0.0 -> +0.0
        bits = depth.view(torch.int32)
        ordered = (bits ^ ((bits >> 31) & 0x7FFFFFFF)).long()
        fid, pix0 = ints[:, s : s + per_chunk].index_select(1, row).unbind(0)
        keys.scatter_reduce_(0, pix0 + offset.index_select(0, col), (ordered << 32) | fid, "amin")


def _shade(
    verts: torch.Tensor, faces: torch.Tensor, face_id: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Barycentrics `(B,H,W,3)` and depth `(B,H,W)` at the centres of the foreground pixels."""
    batch, height, width = face_id.shape
    dtype = verts.dtype if verts.dtype == torch.float64 else torch.float32
    bary = verts.new_zeros((batch * height * width, 3), dtype=dtype)
    depth = verts.new_full((batch * height * width,), float("inf"), dtype=dtype)
    flat_id = face_id.view(-1)
    pixel = (flat_id >= 0).nonzero().squeeze(1)
    corner = faces.index_select(0, flat_id.index_select(0, pixel))
    corner += (pixel // (height * width) * verts.shape[1]).unsqueeze(1)  # batch offset
    tri = verts.to(dtype).reshape(-1, 3).index_select(0, corner.view(-1)).view(-1, 3, 3)
    x0, y0, z0 = tri[:, 0].unbind(1)
    ex1, ey1, dz1 = (tri[:, 1] - tri[:, 0]).unbind(1)
    ex2, ey2, dz2 = (tri[:, 2] - tri[:, 0]).unbind(1)
    qx = (pixel % width).to(dtype) + 0.5 - x0
    qy = (pixel // width % height).to(dtype) + 0.5 - y0
    inv = 1.0 / (ex1 * ey2 - ey1 * ex2)
    w1 = ((qx * ey2 - qy * ex2) * inv).clamp(min=0.0)
    w2 = ((ex1 * qy - ey1 * qx) * inv).clamp(min=0.0)
    w0 = (1.0 - w1 - w2).clamp(min=0.0)
    total = w0 + w1 + w2
    w = torch.stack((w0, w1, w2), 1) / total.unsqueeze(1)
    bary.index_copy_(0, pixel, w)
    depth.index_copy_(0, pixel, z0 + (w1 * dz1 + w2 * dz2) / total)
    return (
        bary.view(batch, height, width, 3).to(verts.dtype),
        depth.view(batch, height, width).to(verts.dtype),
    )


def _rasterize_pytorch3d(
    verts: torch.Tensor, faces: torch.Tensor, height: int, width: int
) -> Fragments:
    """Adapter to `pytorch3d.renderer.mesh.rasterize_meshes` (one face per pixel, no culling).

    pytorch3d's NDC has +x left, +y up and the shorter image side spanning [-1, 1]; its pixel
    centres map to ours by `x = (W - 2u) / m`, `y = (H - 2v) / m` with `m = min(H, W)`. It skips
    faces with a vertex at z <= 0, so depth is shifted to be >= 1 and shifted back afterwards
    (interpolation is affine, so the shift commutes with it).
    """
    try:
        from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
        from pytorch3d.structures import Meshes
    except ImportError as error:
        raise ImportError(
            "backend='pytorch3d' needs the pytorch3d package, which could not be imported "
            f"({error}); install it or use backend='torch'"
        ) from error
    batch, num_faces = verts.shape[0], faces.shape[0]
    m = float(min(height, width))
    work = verts.float()
    depth = work[..., 2]
    shift = 1.0 - torch.where(depth.isfinite(), depth, float("inf")).amin(dim=1, keepdim=True)
    ndc = torch.stack(
        ((width - 2.0 * work[..., 0]) / m, (height - 2.0 * work[..., 1]) / m, work[..., 2] + shift),
        dim=-1,
    )
    meshes = Meshes(verts=list(ndc), faces=[faces] * batch)
    pix_to_face, zbuf, bary, _ = rasterize_meshes(
        meshes,
        image_size=(height, width),
        blur_radius=0.0,
        faces_per_pixel=1,
        perspective_correct=False,
        clip_barycentric_coords=False,
        cull_backfaces=False,
    )
    pix_to_face, zbuf, bary = pix_to_face[..., 0], zbuf[..., 0], bary[..., 0, :]
    foreground = pix_to_face >= 0
    offsets = torch.arange(batch, device=verts.device).view(batch, 1, 1) * num_faces
    face_id = torch.where(foreground, pix_to_face - offsets, -1)
    depth = torch.where(foreground, zbuf - shift.view(batch, 1, 1), float("inf"))
    bary = torch.where(foreground.unsqueeze(-1), bary, 0.0)
    return Fragments(face_id, bary.to(verts.dtype), depth.to(verts.dtype))
