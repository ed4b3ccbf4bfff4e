"""Tests of warping.sampler and warping.flow on small procedural meshes (no body model)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from bodymesh.camera import to_image_space
from warping.flow import BACKGROUND_GRID, Flow, combine_sources, surface_points, transfer_flow, view_agreement
from warping.raster import Fragments, interpolate, rasterize
from warping.sampler import grid_to_pixels, identity_grid, pixels_to_grid, warp

# ---------------------------------------------------------------------------------------------
# Procedural meshes, in a model frame of metres (y up, z towards the camera).


def uv_sphere(rings: int = 24, segments: int = 44, radii=(1.0, 1.0, 1.0), centre=(0.0, 0.0, 0.0)):
    """A closed UV ellipsoid: `(V, 3)` float64 vertices, `(F, 3)` int64 faces (2 s (r - 1) faces).

    Meridians at longitude 0 and pi lie in the plane z = 0, the silhouette seen along z.
    """
    theta = torch.arange(1, rings, dtype=torch.float64) * math.pi / rings  # polar angle
    phi = torch.arange(segments, dtype=torch.float64) * 2 * math.pi / segments
    t, p = torch.meshgrid(theta, phi, indexing="ij")
    ring = torch.stack((t.sin() * p.cos(), t.cos(), t.sin() * p.sin()), -1).reshape(-1, 3)
    verts = torch.cat((torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64), ring,
                       torch.tensor([[0.0, -1.0, 0.0]], dtype=torch.float64)))
    verts = verts * torch.tensor(radii, dtype=torch.float64) + torch.tensor(centre, dtype=torch.float64)
    south = verts.shape[0] - 1
    faces = []
    for s in range(segments):
        n = (s + 1) % segments
        faces.append((0, 1 + n, 1 + s))
        for r in range(rings - 2):
            a, b = 1 + r * segments + s, 1 + r * segments + n
            c, d = a + segments, b + segments
            faces += [(a, b, d), (a, d, c)]
        last = 1 + (rings - 2) * segments
        faces.append((last + s, last + n, south))
    return verts, torch.tensor(faces, dtype=torch.int64)


def box(lo, hi):
    """An axis-aligned box: 8 vertices, 12 triangles."""
    (x0, y0, z0), (x1, y1, z1) = lo, hi
    verts = torch.tensor(
        [[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)], dtype=torch.float64
    )  # index = 4 ix + 2 iy + iz
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = [tri for a, b, c, d in quads for tri in ((a, b, c), (a, c, d))]
    return verts, torch.tensor(faces, dtype=torch.int64)


def merge(*meshes):
    """One mesh of several parts; also returns each part's face range."""
    verts, faces, ranges, nv, nf = [], [], [], 0, 0
    for v, f in meshes:
        verts.append(v)
        faces.append(f + nv)
        ranges.append((nf, nf + f.shape[0]))
        nv, nf = nv + v.shape[0], nf + f.shape[0]
    return torch.cat(verts), torch.cat(faces), ranges


def body():
    """A crude body: torso, head, and an arm hanging in front of the torso (self-occlusion)."""
    return merge(
        uv_sphere(20, 32, (0.5, 0.8, 0.3)),
        uv_sphere(12, 20, (0.25, 0.25, 0.25), (0.0, 1.05, 0.0)),
        uv_sphere(12, 16, (0.12, 0.5, 0.12), (0.3, 0.0, 0.42)),
    )


def rot_y(degrees: float) -> torch.Tensor:
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=torch.float64)


def pose(verts, faces, degrees, cam, height, width, dtype=torch.float32, shift=(0.0, 0.0, 0.0)):
    """Rotates about the vertical axis, shifts, projects: image-space verts `(1, V, 3)`, fragments."""
    model = verts @ rot_y(degrees).T + torch.tensor(shift, dtype=torch.float64)
    image = to_image_space(model[None], torch.tensor([cam], dtype=torch.float64)).to(dtype)
    return image, rasterize(image, faces, height, width)


def colours(verts):
    """Smooth per-vertex RGB in [0.1, 0.9], a function of the rest position (moves with the mesh)."""
    x, y, z = verts.unbind(-1)
    return torch.stack(
        (0.5 + 0.4 * torch.sin(2.5 * x + 1.7 * y), 0.5 + 0.4 * torch.cos(2.0 * y - 1.5 * z),
         0.5 + 0.4 * torch.sin(1.8 * z + 2.2 * x + 0.5)), -1
    )


def render(fragments: Fragments, values, faces):
    """`(1, C, H, W)` image of per-vertex values."""
    return interpolate(fragments, values.to(fragments.bary.dtype), faces).permute(0, 3, 1, 2)


def erode(mask: torch.Tensor) -> torch.Tensor:
    """`(B, H, W)` bool mask shrunk by one pixel (3 x 3)."""
    return -F.max_pool2d(-mask[:, None].double(), 3, stride=1, padding=1)[:, 0] > 0.5


def centres(height, width, dtype=torch.float32):
    """`(1, H, W, 2)` pixel centres `(u, v)`."""
    v, u = torch.meshgrid(torch.arange(height, dtype=dtype) + 0.5, torch.arange(width, dtype=dtype) + 0.5,
                          indexing="ij")
    return torch.stack((u, v), -1)[None]


CAM = (48.0, 64.0, 70.0)  # s (px per metre), tx, ty on 128 x 128 images


def cam(size: int):
    """A camera framing a unit sphere in a `size x size` image."""
    return (0.4 * size, 0.5 * size, 0.5 * size)

# ---------------------------------------------------------------------------------------------
# Sampler


def test_identity_grid_and_warp_reproduce_the_input():
    torch.manual_seed(0)
    image = torch.rand(2, 5, 7, 9) * 2 - 1
    grid = identity_grid(2, 7, 9)
    assert grid.shape == (2, 7, 9, 2)
    torch.testing.assert_close(grid, pixels_to_grid(centres(7, 9), 7, 9).expand(2, -1, -1, -1))
    for mode in ("bilinear", "nearest", "bicubic"):
        torch.testing.assert_close(warp(image, grid, mode=mode), image, atol=1e-5, rtol=0)


def test_pixels_grid_round_trip_and_edges():
    torch.manual_seed(1)
    pixels = torch.rand(3, 4, 2, dtype=torch.float64) * 100 - 10
    torch.testing.assert_close(grid_to_pixels(pixels_to_grid(pixels, 40, 60), 40, 60), pixels)
    corners = torch.tensor([[0.0, 0.0], [60.0, 40.0], [30.0, 20.0]])
    expected = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])
    torch.testing.assert_close(pixels_to_grid(corners, 40, 60), expected)


def test_one_pixel_shift():
    torch.manual_seed(2)
    image = torch.rand(1, 3, 6, 8)
    grid = pixels_to_grid(centres(6, 8) + torch.tensor([1.0, 0.0]), 6, 8)  # read one column right
    shifted = warp(image, grid)
    torch.testing.assert_close(shifted[..., :-1], image[..., 1:])
    # The last column reads at u = W + 0.5, the centre of the pixel past the edge: zeros padding
    # reads 0 there, border padding the edge pixel.
    assert shifted[..., -1].abs().max() < 1e-6
    torch.testing.assert_close(warp(image, grid, padding="border")[..., -1], image[..., -1])
    down = pixels_to_grid(centres(6, 8) + torch.tensor([0.0, -1.0]), 6, 8)  # one row up
    torch.testing.assert_close(warp(image, down)[:, :, 1:], image[:, :, :-1])


def test_warp_shares_a_batch_one_grid_and_keeps_dtype():
    image = torch.rand(3, 2, 5, 5, dtype=torch.float64)
    out = warp(image, identity_grid(1, 4, 6, dtype=torch.float32))
    assert out.shape == (3, 2, 4, 6) and out.dtype == torch.float64


def test_sampler_argument_errors():
    image, grid = torch.zeros(1, 3, 4, 4), identity_grid(1, 4, 4)
    with pytest.raises(ValueError, match="values"):
        warp(torch.zeros(3, 4, 4), grid)
    with pytest.raises(ValueError, match="values"):
        warp(torch.zeros(1, 3, 4, 4, dtype=torch.int64), grid)
    with pytest.raises(ValueError, match="grid"):
        warp(image, torch.zeros(1, 4, 4, 3))
    with pytest.raises(ValueError, match="batch"):
        warp(torch.zeros(2, 3, 4, 4), identity_grid(3, 4, 4))
    with pytest.raises(ValueError, match="mode"):
        warp(image, grid, mode="area")
    with pytest.raises(ValueError, match="padding"):
        warp(image, grid, padding="wrap")
    with pytest.raises(ValueError, match="height"):
        pixels_to_grid(torch.zeros(2), 0, 4)
    with pytest.raises(ValueError, match="pixels"):
        pixels_to_grid(torch.zeros(3), 4, 4)
    with pytest.raises(ValueError, match="batch"):
        identity_grid(0, 4, 4)


# ---------------------------------------------------------------------------------------------
# Flow


def test_surface_points_on_the_same_mesh_are_pixel_centres():
    verts, faces, _ = body()
    image, frags = pose(verts, faces, 0.0, CAM, 128, 128)
    points = surface_points(frags, image, faces)
    covered = frags.face_id >= 0
    assert points.shape == (1, 128, 128, 3)
    torch.testing.assert_close(points[covered][:, :2], centres(128, 128)[covered], atol=1e-3, rtol=0)
    torch.testing.assert_close(points[covered][:, 2], frags.depth[covered], atol=1e-3, rtol=0)
    assert (points[~covered] == 0).all()


def test_flow_of_a_mesh_onto_itself_is_the_identity():
    verts, faces, _ = body()
    image, frags = pose(verts, faces, 20.0, CAM, 128, 128)
    flow = transfer_flow(frags, image, frags, faces)
    covered = frags.face_id >= 0
    assert flow.grid.shape == (1, 128, 128, 2) and flow.visible.dtype == torch.bool
    assert covered.sum() > 2000
    assert torch.equal(flow.visible, covered)  # self-occlusion boundaries included
    back = grid_to_pixels(flow.grid, 128, 128)
    assert (back[covered] - centres(128, 128)[covered]).abs().max() < 1e-3
    assert (flow.grid[~covered] == BACKGROUND_GRID).all()
    assert (flow.facing[covered] > 0).all() and (flow.facing <= 1).all()
    assert (flow.facing[~covered] == 0).all()


def test_warped_source_matches_direct_render_of_the_target():
    """Pose A -> pose B (rotated 30 degrees about the vertical and shifted, other image size).

    Bound: on visible pixels away from visibility / silhouette boundaries (the visible mask
    eroded by one pixel, and the bilinear footprint in the source fully covered), the mean
    absolute colour error is < 0.005 and the largest < 0.1 (colours in [0, 1]; measured about
    3e-4 and 0.05).
    """
    verts, faces, _ = body()
    paint = colours(verts)
    image_a, frags_a = pose(verts, faces, 0.0, CAM, 128, 128)
    image_b, frags_b = pose(verts, faces, 30.0, (52.0, 60.0, 62.0), 112, 120, shift=(0.1, 0.0, 0.2))
    render_a, render_b = render(frags_a, paint, faces), render(frags_b, paint, faces)
    flow = transfer_flow(frags_b, image_a, frags_a, faces)
    warped = warp(render_a, flow.grid)
    assert warped.shape == (1, 3, 112, 120)
    footprint = warp((frags_a.face_id >= 0)[:, None].float(), flow.grid)[:, 0] > 1 - 1e-5
    valid = erode(flow.visible) & footprint
    assert valid.sum() > 0.6 * (frags_b.face_id >= 0).sum()
    error = (warped - render_b).abs().permute(0, 2, 3, 1)[valid]
    assert error.mean() < 0.005, error.mean()
    assert error.max() < 0.1, error.max()
    # The part of the torso hidden by the arm in A but visible in B is marked not visible.
    assert (flow.visible ^ (frags_b.face_id >= 0)).sum() > 50


def test_back_of_a_sphere_is_not_visible():
    verts, faces = uv_sphere()
    image_a, frags_a = pose(verts, faces, 0.0, CAM, 128, 128)
    image_b, frags_b = pose(verts, faces, 180.0, CAM, 128, 128)
    flow = transfer_flow(frags_b, image_a, frags_a, faces)
    covered = frags_b.face_id >= 0
    # Only the rim (the great circle z = 0, seen by both) may be visible.
    interior = erode(erode(covered))
    assert not flow.visible[interior].any()
    assert flow.visible.sum() < 0.05 * covered.sum()
    # A quarter turn: the front half of the target that the source sees is visible.
    image_c, frags_c = pose(verts, faces, 90.0, CAM, 128, 128)
    quarter = transfer_flow(frags_c, image_a, frags_a, faces)
    seen_side = surface_points(frags_c, verts[None].float(), faces)[..., 2] > 0.1  # z > 0 at rest
    assert quarter.visible[seen_side & erode(frags_c.face_id >= 0)].all()
    assert not quarter.visible[(surface_points(frags_c, verts[None].float(), faces)[..., 2] < -0.1)].any()


def test_a_box_hidden_behind_a_box_is_not_visible():
    verts, faces, (big, small) = merge(box((-0.5, -0.5, -0.2), (0.5, 0.5, 0.2)),
                                       box((-0.15, -0.15, -0.9), (0.15, 0.15, -0.6)))
    image_a, frags_a = pose(verts, faces, 0.0, CAM, 128, 128)
    assert not ((frags_a.face_id >= small[0]).any())  # fully hidden in the source
    image_b, frags_b = pose(verts, faces, 60.0, CAM, 128, 128)
    flow = transfer_flow(frags_b, image_a, frags_a, faces)
    on_small = frags_b.face_id >= small[0]
    assert on_small.sum() > 50
    assert not flow.visible[on_small].any()
    # The big box's front (z = 0.2, faces 10 and 11) is visible in both, away from its edges.
    front = (frags_b.face_id == 10) | (frags_b.face_id == 11)
    assert front.sum() > 200 and flow.visible[erode(front)].all()


def test_combine_front_and_back_sources():
    verts, faces = uv_sphere()
    image_f, frags_f = pose(verts, faces, 0.0, CAM, 128, 128)
    image_k, frags_k = pose(verts, faces, 180.0, CAM, 128, 128)
    for target_angle in (90.0, 30.0, -125.0):
        _, frags_t = pose(verts, faces, target_angle, CAM, 128, 128)
        flows = [transfer_flow(frags_t, image, frags, faces)
                 for image, frags in ((image_f, frags_f), (image_k, frags_k))]
        grids, weights = combine_sources(flows)
        covered = frags_t.face_id[0] >= 0
        assert grids.shape == (2, 128, 128, 2) and weights.shape == (2, 128, 128)
        torch.testing.assert_close(weights.sum(0)[covered], torch.ones(int(covered.sum())))
        assert (weights[:, ~covered] == 0).all()
        visible = torch.cat([f.visible for f in flows])
        only = visible.sum(0) == 1
        assert only.sum() > 500
        torch.testing.assert_close(weights[visible & only], torch.ones(int((visible & only).sum())))
        assert (weights[~visible] == 0).all()
        both = visible.all(0)
        if target_angle == 90.0:
            assert both.sum() > 0  # the seam where both see the rim
        # Where both see the point the more frontal source gets the larger weight.
        facing = torch.cat([f.facing for f in flows])
        assert ((weights[0] > weights[1]) == (facing[0] > facing[1]))[both].all()


def test_combine_sources_accepts_one_batched_flow_and_sharpness():
    verts, faces = uv_sphere(12, 20)
    source = torch.cat([pose(verts, faces, a, cam(64), 64, 64)[0] for a in (0.0, 180.0)])
    frags_s = rasterize(source, faces, 64, 64)
    _, frags_t = pose(verts, faces, 60.0, cam(64), 64, 64)
    batched = transfer_flow(frags_t, source, frags_s, faces)  # target shared by 2 sources
    single = [transfer_flow(frags_t, source[i : i + 1], Fragments(*(x[i : i + 1] for x in frags_s)), faces)
              for i in range(2)]
    for name in Flow._fields:
        torch.testing.assert_close(getattr(batched, name), torch.cat([getattr(f, name) for f in single]))
    g1, w1 = combine_sources(batched)
    g2, w2 = combine_sources(single)
    torch.testing.assert_close(w1, w2)
    _, even = combine_sources(single, sharpness=0.0)
    both = batched.visible.all(0)
    torch.testing.assert_close(even[:, both], torch.full_like(even[:, both], 0.5))


def test_source_size_and_a_lower_resolution_visibility_map():
    verts, faces, _ = body()
    image_a, frags_a = pose(verts, faces, 0.0, CAM, 128, 128)
    _, frags_b = pose(verts, faces, 25.0, CAM, 96, 96)
    full = transfer_flow(frags_b, image_a, frags_a, faces)
    half = rasterize(image_a * torch.tensor([0.5, 0.5, 1.0]), faces, 64, 64)
    coarse = transfer_flow(frags_b, image_a, half, faces, source_size=(128, 128))
    torch.testing.assert_close(coarse.grid, full.grid)
    agree = (coarse.visible == full.visible).float().mean()
    assert agree > 0.97, agree


def test_float64_stays_float64_on_cpu():
    verts, faces = uv_sphere(10, 16)
    image_a, frags_a = pose(verts, faces, 0.0, cam(48), 48, 48, dtype=torch.float64)
    image_b, frags_b = pose(verts, faces, 40.0, cam(48), 48, 48, dtype=torch.float64)
    flow = transfer_flow(frags_b, image_a, frags_a, faces)
    assert flow.grid.dtype == torch.float64 and flow.facing.dtype == torch.float64
    assert flow.grid.device.type == "cpu"
    grids, weights = combine_sources([flow])
    assert weights.dtype == torch.float64
    assert surface_points(frags_b, image_a, faces).dtype == torch.float64
    out = warp(render(frags_a, colours(verts), faces), grids)
    assert out.dtype == torch.float64
    same = transfer_flow(frags_a, image_a, frags_a, faces)
    covered = frags_a.face_id >= 0
    back = grid_to_pixels(same.grid, 48, 48)[covered]
    assert (back - centres(48, 48, torch.float64)[covered]).abs().max() < 1e-9


def test_grid_is_differentiable_in_the_source_vertices():
    verts, faces = uv_sphere(8, 12)
    image_a, frags_a = pose(verts, faces, 0.0, cam(32), 32, 32, dtype=torch.float64)
    _, frags_b = pose(verts, faces, 20.0, cam(32), 32, 32, dtype=torch.float64)
    image_a.requires_grad_(True)
    flow = transfer_flow(frags_b, image_a, frags_a, faces)
    flow.grid[flow.visible].sum().backward()
    assert image_a.grad is not None and image_a.grad[..., :2].abs().sum() > 0


def test_flow_argument_errors():
    verts, faces = uv_sphere(6, 8)
    image, frags = pose(verts, faces, 0.0, cam(16), 16, 16)
    with pytest.raises(ValueError, match="source_verts"):
        transfer_flow(frags, image[0], frags, faces)
    with pytest.raises(ValueError, match="batch"):
        transfer_flow(frags, image.expand(2, -1, -1), frags, faces)
    with pytest.raises(ValueError, match="faces"):
        transfer_flow(frags, image, frags, faces.float())
    with pytest.raises(ValueError, match="faces index"):
        transfer_flow(frags, image, frags, faces + 1000)
    with pytest.raises(ValueError, match="target"):
        transfer_flow((frags.face_id, frags.bary), image, frags, faces)
    with pytest.raises(ValueError, match="source_size"):
        transfer_flow(frags, image, frags, faces, source_size=(0, 16))
    with pytest.raises(ValueError, match="depth_tolerance"):
        transfer_flow(frags, image, frags, faces, depth_tolerance=-1.0)
    with pytest.raises(ValueError, match="flows"):
        combine_sources([])
    flow = transfer_flow(frags, image, frags, faces)
    _, frags_small = pose(verts, faces, 0.0, cam(8), 8, 8)
    other = transfer_flow(frags_small, image, frags, faces)
    with pytest.raises(ValueError, match="same target size"):
        combine_sources([flow, other])


def test_view_agreement_is_the_cosine_of_the_turn_between_views():
    """A rigid turn of the whole body by `a` between a source and the target gives every face the
    agreement cos(a), whatever the pose; weighted by it, the nearer view wins where both see."""
    verts, faces = uv_sphere()
    target, frags_t = pose(verts, faces, 50.0, CAM, 128, 128)
    sources = [pose(verts, faces, angle, CAM, 128, 128) for angle in (0.0, 120.0)]
    agreement = view_agreement(target, torch.cat([s[0] for s in sources]), faces, frags_t.face_id)
    covered = frags_t.face_id[0] >= 0
    assert agreement.shape == (2, 128, 128) and (agreement[:, ~covered] == 1).all()
    for index, turn in enumerate((50.0, -70.0)):
        torch.testing.assert_close(agreement[index][covered], torch.full((int(covered.sum()),), math.cos(math.radians(turn))), atol=1e-4, rtol=0)
    flows = [transfer_flow(frags_t, image, frags, faces) for image, frags in sources]
    both = flows[0].visible[0] & flows[1].visible[0]
    assert both.sum() > 300
    shares = []
    for sharpness in (0.0, 30.0):
        _, weights = combine_sources(flows, agreement=agreement, agreement_sharpness=sharpness)
        torch.testing.assert_close(weights.sum(0)[covered], torch.ones(int(covered.sum())))
        shares.append(float((weights[0] > weights[1])[both].float().mean()))
    assert shares[1] > 0.8 and shares[1] > shares[0] + 0.3, shares  # 0.45 -> 0.88 (facing still counts)
