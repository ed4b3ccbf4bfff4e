"""UV textures of the subject: the mesh laid flat in UV space, unwrapping photos into it, filling holes.

Texture space: a `(1, 3, T, T)` image whose texel `(row i, column j)` holds the surface point of
texture coordinates `u = (j + 0.5) / T`, `v = 1 - (i + 0.5) / T` (v up, as in OBJ files), so
`grid_sample(texture, (2u - 1, 1 - 2v), align_corners=False)` reads it back. A texel belongs to
a UV island when its centre lies in a UV triangle (`rasterize_uv`'s `face_id >= 0`).

Typical use, once per subject (the UV rasterization once per body model and size):

    topology = MeshTopology.of(body, rest_vertices)
    uv_frags = rasterize_uv(topology, 256)
    texture, coverage = unwrap_texture(images, frags, verts, topology, 256, uv_fragments=uv_frags)
    mirror = mirror_vertex_map(rest_vertices)
    depth_mirror = depth_mirror_vertex_map(rest_vertices, body.part_labels, skip=(head,))
    texture = fill_texture(texture, coverage, uv_frags, topology, mirror, depth_mirror=depth_mirror)

and any texture is read at a rasterization's pixels with `sample_texture(texture, uv_map(fragments, topology))`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from warping.checks import check_positive_int, check_shape
from warping.correspondence import face_normals
from warping.raster import Fragments, rasterize
from warping.topology import MeshTopology

__all__ = ["rasterize_uv", "unwrap_texture", "mirror_vertex_map", "fill_texture", "uv_to_grid", "sample_texture", "pad_islands"]


def rasterize_uv(topology: MeshTopology, size: int) -> Fragments:
    """The mesh laid flat in UV space, rasterized at texture resolution.

    Pure and deterministic: compute it once per body model and size and reuse it.

    Args:
        topology: the mesh's `uv_coords (T, 2)` in [0, 1] (v up) and `uv_faces (F, 3)`.
        size: texture side `T` in texels (> 0).
    Returns:
        `Fragments(face_id (1, T, T), bary (1, T, T, 3), depth (1, T, T))`: the mesh face of
        every texel (-1 outside the UV islands) and its barycentrics (weights of the face's three
        corners); depth is 0 inside.
    """
    uv_coords = topology.uv_coords
    check_positive_int(size, "size")
    flat = torch.stack(
        (uv_coords[:, 0] * size, (1.0 - uv_coords[:, 1]) * size, torch.zeros_like(uv_coords[:, 0])), dim=-1
    )
    return rasterize(flat[None].float(), topology.uv_faces, size, size)


def uv_to_grid(uv: torch.Tensor) -> torch.Tensor:
    """Texture coordinates `(..., 2)` in [0, 1] (v up) -> grid_sample coordinates `(..., 2)`
    (x right, y down, in [-1, 1], align_corners=False) of a texture laid out as `rasterize_uv`'s."""
    return torch.stack((2.0 * uv[..., 0] - 1.0, 1.0 - 2.0 * uv[..., 1]), dim=-1)


def sample_texture(texture: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """The colours of `texture (B, C, T, T)` (laid out as `rasterize_uv`'s) at texture
    coordinates `uv (B, H, W, 2)` (`warping.correspondence.uv_map`): `(B, C, H, W)`, read
    bilinearly, the islands' edge texels beyond them. A texture of batch 1 serves every `uv`."""
    check_shape(texture, "B C T T", "texture", floating=True)
    check_shape(uv, "B H W 2", "uv", floating=True)
    if uv.device != texture.device:
        raise ValueError(f"uv is on {uv.device} but texture on {texture.device}")
    if texture.shape[0] == 1 and uv.shape[0] > 1:
        texture = texture.expand(uv.shape[0], *texture.shape[1:])
    return F.grid_sample(texture, uv_to_grid(uv).to(texture.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def unwrap_texture(
    images: torch.Tensor,
    fragments: Fragments,
    verts: torch.Tensor,
    topology: MeshTopology,
    size: int = 256,
    *,
    uv_fragments: Fragments | None = None,
    masks: torch.Tensor | None = None,
    depth_tolerance: float = 0.01,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unwraps S source photos of one person into a UV texture.

    Every texel's surface point is placed in each source through that source's mesh; it is
    read there (bilinearly, from the person's pixels only) when the point is visible (the
    source's nearest face at that pixel is the texel's face, or the point's depth is within
    `depth_tolerance` of the nearest depth there), weighted by how squarely the source sees it,
    `-n_d / |n|` of the face's outward image-space normal (faces turn outwards counter-clockwise,
    as the BodyModel protocol says; faces turned away weigh 0). Sources are merged by these
    weights.

    Args:
        images: `(S, 3, H, W)` source photos in [-1, 1].
        fragments: their rasterization, `face_id (S, H, W)`, `depth (S, H, W)`.
        verts: `(S, V, 3)` image-space vertices (u, v, d) of each source's mesh.
        topology: the mesh's faces and UVs.
        size: texture side `T`.
        uv_fragments: `rasterize_uv(topology, size)`, computed here when None.
        masks: optional `(S, 1, H, W)` person masks in [0, 1]; pixels below 0.5 are not read.
        depth_tolerance: the depth test's slack, as a fraction of `max(H, W)`.
    Returns:
        texture `(1, 3, size, size)` in [-1, 1] (0 where no source sees the texel) and
        coverage `(1, 1, size, size)` in [0, 1]: the best view's `-n_d / |n|` (0 = unseen).
    """
    sizes = check_shape(images, "S 3 H W", "images")
    check_shape(fragments.face_id, "S H W", "fragments (like images)", sizes=sizes)
    check_shape(verts, "S V 3", "verts", sizes=sizes)
    if masks is not None:
        check_shape(masks, "S 1 H W", "masks", sizes=sizes)
    num, _, height, width = images.shape
    device, dtype = images.device, images.dtype
    if uv_fragments is None:
        uv_fragments = rasterize_uv(topology.to(device), size)
    check_shape(uv_fragments.face_id, "1 T T", "uv_fragments", sizes={"T": size})
    faces = topology.faces.to(device=device, dtype=torch.int64)
    if faces.numel() and int(faces.max()) >= verts.shape[1]:
        raise ValueError(f"verts must hold every vertex the faces index ({int(faces.max()) + 1}), got {verts.shape[1]}")
    verts = verts.to(dtype)

    texel_face = uv_fragments.face_id.reshape(-1).to(device)
    texel = (texel_face >= 0).nonzero().squeeze(1)  # (N,) flat texel indices inside the islands
    face = texel_face[texel]
    bary = uv_fragments.bary.reshape(-1, 3).to(device=device, dtype=dtype)[texel]  # (N, 3)
    corner = faces[face]  # (N, 3)
    points = (verts[:, corner] * bary[None, :, :, None]).sum(2)  # (S, N, 3) image space

    # How squarely each source sees each face: -n_d / |n| of the outward image-space normal
    # (faces turned away, n_d >= 0, are never seen: eyeballs behind the lids, backs of ears).
    normal = face_normals(verts, faces)  # (S, F, 3)
    facing = (-normal[..., 2] / normal.norm(dim=-1).clamp(min=1e-12)).clamp(min=0.0)[:, face]  # (S, N)

    # Visibility at the pixel holding the point.
    col = points[..., 0].floor().long()
    row = points[..., 1].floor().long()
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    pixel = (row.clamp(0, height - 1) * width + col.clamp(0, width - 1)) + (
        torch.arange(num, device=device)[:, None] * (height * width)
    )
    seen_face = fragments.face_id.reshape(-1)[pixel]
    seen_depth = fragments.depth.reshape(-1).to(dtype)[pixel]
    tolerance = depth_tolerance * max(height, width)
    visible = inside & (seen_face >= 0) & ((seen_face == face[None]) | (points[..., 2] <= seen_depth + tolerance))

    # Colours, read from the person's pixels only (premultiplied bilinear sampling).
    person = (fragments.face_id >= 0).to(dtype)[:, None]
    if masks is not None:
        person = person * (masks.to(dtype) >= 0.5).to(dtype)
    grid = torch.stack((2.0 * points[..., 0] / width - 1.0, 2.0 * points[..., 1] / height - 1.0), dim=-1)
    sampled = F.grid_sample(
        torch.cat((images * person, person), 1), grid[:, None], mode="bilinear", align_corners=False
    )[:, :, 0]  # (S, 4, N)
    amount = sampled[:, 3]
    colour = sampled[:, :3] / amount.clamp(min=1e-6)[:, None]
    weight = facing * (visible & (amount > 0.05)).to(dtype)  # (S, N)

    total = weight.sum(0)
    merged = (colour * weight[:, None]).sum(0) / total.clamp(min=1e-12)  # (3, N)
    texture = images.new_zeros(3, size * size)
    coverage = images.new_zeros(size * size)
    texture[:, texel] = torch.where(total > 0, merged, merged.new_zeros(()))
    coverage[texel] = weight.amax(0)
    return texture.view(1, 3, size, size), coverage.view(1, 1, size, size)


def mirror_vertex_map(rest_vertices: torch.Tensor, cell: float = 0.005) -> torch.Tensor:
    """Each vertex's left/right twin: the nearest vertex to its mirror image `(-x, y, z)`.

    Exact nearest neighbours: a voxel grid of side `cell` (model units) proposes candidates
    from the 27 cells around each mirrored point; points whose best candidate is farther than
    `cell` are searched against every vertex (`torch.cdist` in chunks).

    Args:
        rest_vertices: `(V, 3)` vertices in the model frame (x = the person's left), rest pose.
        cell: voxel side, in the vertices' units (metres); only speed depends on it.
    Returns:
        `(V,)` int64 index of each vertex's twin (itself on the mid-plane); an involution on a
        symmetric mesh.
    """
    check_shape(rest_vertices, "V 3", "rest_vertices", floating=True)
    ref = rest_vertices.detach()
    query = ref * ref.new_tensor([-1.0, 1.0, 1.0])
    return _nearest(query, ref, cell)


def depth_mirror_vertex_map(
    rest_vertices: torch.Tensor, part_labels: torch.Tensor, skip: Sequence[int] = (), cell: float = 0.005
) -> torch.Tensor:
    """Each vertex's front/back twin: the nearest vertex of the same body part to its mirror
    image through the part's frontal mid-plane (`z` reflected about the part's mean `z`).

    A front photo says nothing about the back; the front's colours mirrored through the body
    are the best guess for clothes (a shirt's back is the shirt's colour at the same height),
    not for faces: parts in `skip` (e.g. the head) get no twin.

    Args:
        rest_vertices: `(V, 3)` vertices in the model frame (z towards the camera), rest pose.
        part_labels: `(V,)` int64 body-part labels (`bodymesh.parts`).
        skip: part labels whose vertices get no twin.
        cell: voxel side of the nearest-neighbour search (see `mirror_vertex_map`).
    Returns:
        `(V,)` int64 index of each vertex's twin, -1 for the skipped parts.
    """
    sizes = check_shape(rest_vertices, "V 3", "rest_vertices", floating=True)
    check_shape(part_labels, "V", "part_labels", sizes=sizes)
    ref = rest_vertices.detach()
    labels = part_labels.to(ref.device)
    twin = torch.full_like(labels, -1, dtype=torch.int64)
    for part in labels.unique().tolist():
        if part in skip:
            continue
        members = (labels == part).nonzero().squeeze(1)
        points = ref[members]
        query = points * points.new_tensor([1.0, 1.0, -1.0]) + points.new_tensor([0.0, 0.0, 2.0]) * points[:, 2].mean()
        twin[members] = members[_nearest(query, points, cell)]
    return twin


def _nearest(query: torch.Tensor, ref: torch.Tensor, cell: float) -> torch.Tensor:
    """`(Q,)` index of the nearest `ref (R, 3)` point of every `query (Q, 3)` point."""
    device = ref.device
    low = torch.minimum(query.amin(0), ref.amin(0))
    ref_cell = ((ref - low) / cell).floor().long() + 1
    query_cell = ((query - low) / cell).floor().long() + 1
    dims = torch.maximum(ref_cell.amax(0), query_cell.amax(0)) + 2
    scale = torch.stack((dims[1] * dims[2], dims[2], torch.ones_like(dims[2])))
    sorted_keys, order = (ref_cell * scale).sum(-1).sort()
    offsets = torch.stack(torch.meshgrid(*(torch.arange(-1, 2, device=device),) * 3, indexing="ij"), -1).view(-1, 3)
    keys = ((query_cell[:, None] + offsets) * scale).sum(-1).reshape(-1)  # (Q * 27,)
    start = torch.searchsorted(sorted_keys, keys)
    count = torch.searchsorted(sorted_keys, keys, right=True) - start
    # Every (query, candidate) pair of the 27 cells around each query, flat.
    total = int(count.sum())
    owner = torch.repeat_interleave(torch.arange(keys.shape[0], device=device), count, output_size=total)
    slot = torch.arange(total, device=device) - (torch.cumsum(count, 0) - count)[owner]
    candidate = order[start[owner] + slot]
    q = owner // offsets.shape[0]
    dist = ((ref[candidate] - query[q]) ** 2).sum(-1).float()
    # One scatter-min of (distance bits, candidate) keys: non-negative floats order as ints.
    packed = (dist.view(torch.int32).long() << 32) | candidate
    best = torch.full((query.shape[0],), torch.iinfo(torch.int64).max, dtype=torch.int64, device=device)
    best.scatter_reduce_(0, q, packed, "amin")
    index = best & 0xFFFFFFFF
    found = best != torch.iinfo(torch.int64).max
    best_dist = (best >> 32).to(torch.int32).view(torch.float32)
    # A neighbour within `cell` is always among the 27 cells; others need the full search.
    redo = (~found | (best_dist > cell * cell)).nonzero().squeeze(1)
    for s in range(0, redo.numel(), 1024):
        chunk = redo[s : s + 1024]
        index[chunk] = torch.cdist(query[chunk], ref).argmin(1)
    return index


def fill_texture(
    texture: torch.Tensor,
    coverage: torch.Tensor,
    uv_fragments: Fragments,
    topology: MeshTopology,
    mirror: torch.Tensor,
    *,
    depth_mirror: torch.Tensor | None = None,
    confident: float = 0.3,
    smoothing: int = 30,
    gutter: int = 2,
) -> torch.Tensor:
    """Fills the texels no source saw, so that a front photo still gives a plausible back and sides.

    1. Left/right mirror: a texel is blended with its mirror texel (the same barycentrics in the
       twin face) in proportion to what each one's coverage leaves, so a side seen in one
       photo lends its colours to the other side.
    2. With `depth_mirror`, an unseen vertex whose front/back twin was seen takes the twin's
       colour (the back of a shirt from its front).
    3. The remaining holes take the colours of the nearest seen surface, propagated across the
       mesh (over UV seams, never between unrelated islands): per-vertex colours from the seen
       texels, spread ring by ring to the unseen vertices, smoothed, then interpolated back to
       the hole texels.

    A texel's own colour is trusted in full from coverage `confident` on and blended with the
    fill below it. Surface parts connected to no seen texel at all (e.g. inner mouth) take
    the mean seen colour. Texels outside the UV islands stay as they are, except a `gutter`
    texels wide border around each island that takes its edge colours (so bilinear reads at
    island edges do not mix in unrelated texels).

    Args:
        texture: `(1, 3, T, T)` in [-1, 1], from `unwrap_texture`.
        coverage: `(1, 1, T, T)` in [0, 1], from `unwrap_texture`.
        uv_fragments: `rasterize_uv(topology, T)`.
        topology: the mesh's faces and UVs.
        mirror: `(V,)` int64 from `mirror_vertex_map`.
        depth_mirror: `(V,)` int64 from `depth_mirror_vertex_map` (-1: no twin); None: no
            front/back mirroring.
        confident: coverage from which a texel needs no fill, in (0, 1].
        smoothing: smoothing passes over the filled vertices (0: nearest seen colour only).
        gutter: width in texels of the border filled around the islands (0: none).
    Returns:
        `(1, 3, T, T)` texture with every texel of the UV islands filled.
    """
    sizes = check_shape(texture, "1 3 T T", "texture")
    check_shape(coverage, "1 1 T T", "coverage", sizes=sizes)
    check_shape(uv_fragments.face_id, "1 T T", "uv_fragments", sizes=sizes)
    size = texture.shape[-1]
    if not 0.0 < confident <= 1.0:
        raise ValueError(f"confident must be in (0, 1], got {confident}")
    device, dtype = texture.device, texture.dtype
    faces = topology.faces.to(device=device, dtype=torch.int64)
    uv_faces = topology.uv_faces.to(device=device, dtype=torch.int64)
    uv_coords = topology.uv_coords.to(device=device, dtype=dtype)
    mirror = mirror.to(device=device, dtype=torch.int64)
    num_verts = mirror.shape[0]

    texel_face = uv_fragments.face_id.reshape(-1).to(device)
    texel = (texel_face >= 0).nonzero().squeeze(1)
    face = texel_face[texel]
    bary = uv_fragments.bary.reshape(-1, 3).to(device=device, dtype=dtype)[texel]
    colour = texture.reshape(3, -1)[:, texel]  # (3, N)
    trust = (coverage.reshape(-1)[texel] / confident).clamp(0.0, 1.0)  # (N,)

    # 1. Left/right mirror.
    twin_uv, has_twin = _twin_face_uvs(faces, uv_coords, uv_faces, mirror)  # (F, 3, 2), (F,)
    mirror_uv = (twin_uv[face] * bary[..., None]).sum(1)  # (N, 2)
    full_trust = (coverage / confident).clamp(0.0, 1.0)
    stack = torch.cat((texture * full_trust, full_trust), 1)
    read = F.grid_sample(stack, uv_to_grid(mirror_uv)[None, None], mode="bilinear", align_corners=False)[0, :, 0]
    mirror_trust = read[3] * has_twin[face].to(dtype)
    mirror_colour = read[:3] / read[3].clamp(min=1e-6)
    lend = (1.0 - trust) * mirror_trust
    merged_trust = trust + lend
    colour = (colour * trust + mirror_colour * lend) / merged_trust.clamp(min=1e-6)

    # Per-vertex colours of what was seen (or lent by the left/right mirror).
    weight = merged_trust[:, None] * bary  # (N, 3) each texel's weight on its three corners
    corners = faces[face].reshape(-1)
    contribution = (weight[..., None] * colour.t()[:, None]).reshape(-1, 3)
    vertex_sum = colour.new_zeros(num_verts, 3).index_add_(0, corners, contribution)
    vertex_weight = colour.new_zeros(num_verts).index_add_(0, corners, weight.reshape(-1))
    # A vertex seeds the spread only where its texels are mostly trusted: a trace of trust (a
    # bilinear mirror read grazing a seen texel) would otherwise pass a stray colour on at full
    # strength (the backs of the legs took the other leg's front colour).
    reach = colour.new_zeros(num_verts).index_add_(0, corners, bary.reshape(-1))
    known = (vertex_weight > 1e-3) & (vertex_weight >= 0.5 * reach)
    vertex_colour = vertex_sum / vertex_weight.clamp(min=1e-12)[:, None]
    if depth_mirror is not None:
        # 2. Front/back mirror.
        twin = depth_mirror.to(device=device, dtype=torch.int64)
        borrow = ~known & (twin >= 0) & known[twin.clamp(min=0)]
        vertex_colour = torch.where(borrow[:, None], vertex_colour[twin.clamp(min=0)], vertex_colour)
        known = known | borrow
    # 3. The rest spreads from the seen surface.
    vertex_colour = _spread(vertex_colour, known, faces, num_verts, smoothing)
    hole_colour = (vertex_colour[faces[face]] * bary[..., None]).sum(1).t()  # (3, N)

    filled = colour * merged_trust + hole_colour * (1.0 - merged_trust)
    out = texture.reshape(3, -1).clone()
    out[:, texel] = filled
    out = out.view(1, 3, size, size)
    if gutter > 0:
        out = pad_islands(out, (uv_fragments.face_id >= 0).to(device)[:, None], gutter)
    return out


def pad_islands(texture: torch.Tensor, islands: torch.Tensor, width: int) -> torch.Tensor:
    """Grows the UV islands' colours `width` texels outwards (each ring the mean of its filled
    3x3 neighbours); texels farther from every island are kept.

    Args:
        texture: `(1, C, T, T)`. islands: `(1, 1, T, T)` bool, the texels inside the islands.
        width: rings to fill (>= 0).
    Returns:
        `(1, C, T, T)`.
    """
    filled = islands.to(texture.dtype)
    out = texture * filled
    kernel = texture.new_ones(1, 1, 3, 3)
    channels = texture.shape[1]
    for _ in range(width):
        total = F.conv2d(out, kernel.expand(channels, 1, 3, 3), padding=1, groups=channels)
        count = F.conv2d(filled, kernel, padding=1)
        ring = (filled == 0) & (count > 0)
        out = torch.where(ring, total / count.clamp(min=1.0), out)
        filled = torch.where(ring, torch.ones_like(filled), filled)
    return torch.where(filled > 0, out, texture)


def _twin_face_uvs(
    faces: torch.Tensor, uv_coords: torch.Tensor, uv_faces: torch.Tensor, mirror: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """For every face, the UVs of its mirror twin's corners in the order of the face's own
    corners `(F, 3, 2)`, and whether the twin exists `(F,)` (zeros where it does not)."""
    num_verts = mirror.shape[0]
    scale = torch.tensor([num_verts * num_verts, num_verts, 1], device=faces.device)
    keys = (faces.sort(1).values * scale).sum(1)
    sorted_keys, order = keys.sort()
    mirrored = mirror[faces]  # (F, 3)
    wanted = (mirrored.sort(1).values * scale).sum(1)
    pos = torch.searchsorted(sorted_keys, wanted).clamp(max=keys.shape[0] - 1)
    found = sorted_keys[pos] == wanted
    twin = order[pos]
    # Where in the twin each mirrored corner sits.
    slot = (faces[twin][:, None, :] == mirrored[:, :, None]).to(torch.int64).argmax(-1)  # (F, 3)
    uv = uv_coords[uv_faces[twin].gather(1, slot)]  # (F, 3, 2)
    return torch.where(found[:, None, None], uv, uv.new_zeros(())), found


def _spread(colour: torch.Tensor, known: torch.Tensor, faces: torch.Tensor, num_verts: int, smoothing: int) -> torch.Tensor:
    """Per-vertex colours `(V, C)` known at `known (V,)` spread to every connected vertex,
    ring by ring (each new vertex the mean of its known neighbours), then `smoothing` passes
    of neighbour averaging over the vertices that were not known. Vertices connected to no
    known one take the mean known colour."""
    edges = torch.cat((faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]))
    directed = torch.cat((edges, edges.flip(1)))
    key = torch.unique(directed[:, 0] * num_verts + directed[:, 1])  # each directed edge once
    src, dst = key // num_verts, key % num_verts
    channels = colour.shape[1]
    # Columns: colour * reached, reached; one gather + index_add per ring.
    reached = known.clone()
    state = torch.cat((torch.where(known[:, None], colour, colour.new_zeros(())), known[:, None].to(colour.dtype)), 1)
    frontier = known
    while True:
        # Only edges leaving the last ring can reach new vertices.
        active = frontier[src]
        total = state.new_zeros(state.shape).index_add_(0, dst[active], state[src[active]])
        new = (~reached) & (total[:, channels] > 0)
        if not bool(new.any()):
            break
        mean = total[:, :channels] / total[:, channels:].clamp(min=1.0)
        state = torch.where(new[:, None], torch.cat((mean, torch.ones_like(mean[:, :1])), 1), state)
        reached = reached | new
        frontier = new
    colour = state[:, :channels]
    if bool(known.any()):
        colour = torch.where(reached[:, None], colour, colour[known].mean(0))
    free = (~known).nonzero().squeeze(1)
    if smoothing > 0 and free.numel() > 0:
        # Neighbour averaging on the free vertices only (the known ones stay fixed).
        into_free = (~known)[dst]
        fsrc, fdst = src[into_free], dst[into_free]
        degree = colour.new_zeros(num_verts).index_add_(0, fdst, colour.new_ones(fdst.shape)).clamp(min=1.0)
        for _ in range(smoothing):
            mean = colour.new_zeros(colour.shape).index_add_(0, fdst, colour[fsrc]) / degree[:, None]
            colour = colour.index_copy(0, free, mean[free])
    return colour
