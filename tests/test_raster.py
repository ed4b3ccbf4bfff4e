"""Tests of warping.raster: the torch z-buffer against a brute-force reference, and its rules."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from warping.raster import Fragments, interpolate, rasterize


def reference(verts: torch.Tensor, faces: torch.Tensor, height: int, width: int):
    """Brute force in float64 numpy: every face tested at every pixel centre.

    Same rules as the module: inside when each barycentric weight is >= -1e-6, zero-area faces
    skipped, nearest depth wins, ties to the smallest face id. Returns face id, bary, depth and
    the depth of every face at every pixel `(B, F, H, W)` (+inf where it does not cover it).
    """
    v = verts.detach().double().numpy()
    f = faces.numpy()
    batch, num_faces = v.shape[0], f.shape[0]
    jj, ii = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    all_depth = np.full((batch, num_faces, height, width), np.inf)
    all_bary = np.zeros((batch, num_faces, height, width, 3))
    for b in range(batch):
        for n, (p0, p1, p2) in enumerate(v[b][f]):
            e1, e2 = p1 - p0, p2 - p0
            area2 = e1[0] * e2[1] - e1[1] * e2[0]
            if abs(area2) <= 1e-10:
                continue
            qx, qy = jj - p0[0], ii - p0[1]
            w1 = (qx * e2[1] - qy * e2[0]) / area2
            w2 = (e1[0] * qy - e1[1] * qx) / area2
            w = np.stack((1 - w1 - w2, w1, w2), -1)
            inside = w.min(-1) >= -1e-6
            w = np.clip(w, 0, None)
            w /= w.sum(-1, keepdims=True)
            all_depth[b, n] = np.where(inside, w @ np.array([p0[2], p1[2], p2[2]]), np.inf)
            all_bary[b, n] = w
    face_id = np.where(np.isinf(all_depth).all(1), -1, all_depth.argmin(1))  # argmin: first
    picked = np.clip(face_id, 0, None)[:, None, :, :, None]
    bary = np.take_along_axis(all_bary, picked, 1)[:, 0] * (face_id >= 0)[..., None]
    depth = all_depth.min(1)
    return face_id, bary, depth, all_depth


def assert_matches_reference(frags: Fragments, verts, faces, height, width, tol=1e-4):
    face_id, bary, depth, all_depth = reference(verts, faces, height, width)
    ours = frags.face_id.numpy()
    np.testing.assert_array_equal(ours >= 0, face_id >= 0)
    np.testing.assert_allclose(frags.depth.numpy(), depth, atol=tol, rtol=0)
    differ = ours != face_id
    # Where the face differs it must be an exact tie: our face is at the same depth there.
    if differ.any():
        b, i, j = np.nonzero(differ)
        theirs_at_ours = all_depth[b, ours[b, i, j], i, j]
        np.testing.assert_allclose(theirs_at_ours, depth[b, i, j], atol=tol, rtol=0)
    same = ~differ
    np.testing.assert_allclose(frags.bary.numpy()[same], bary[same], atol=tol, rtol=0)


def random_mesh(generator: torch.Generator, batch: int, num_verts: int, num_faces: int, size: int):
    """Random triangles over (and a little past) a `size x size` image, depths in [0, 10)."""
    scale = torch.tensor([1.3 * size, 1.3 * size, 10.0])
    verts = torch.rand(batch, num_verts, 3, generator=generator) * scale
    verts[..., :2] -= 0.15 * size
    faces = torch.randperm(num_verts, generator=generator)[: 3 * num_faces].view(num_faces, 3)
    return verts, faces


@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force_on_random_meshes(seed):
    generator = torch.Generator().manual_seed(seed)
    verts, faces = random_mesh(generator, batch=2, num_verts=60, num_faces=20, size=32)
    frags = rasterize(verts, faces, 32, 32)
    assert frags.face_id.shape == (2, 32, 32) and frags.face_id.dtype == torch.int64
    assert frags.bary.shape == (2, 32, 32, 3) and frags.depth.shape == (2, 32, 32)
    assert_matches_reference(frags, verts, faces, 32, 32)


def test_matches_brute_force_on_overlapping_and_intersecting_triangles():
    # Large triangles (several tiles of the rasterizer's window) stacked at different depths,
    # two of them tilted so that they cut through each other.
    verts = torch.tensor(
        [
            [
                [2.0, 3.0, 5.0], [90.0, 10.0, 5.0], [20.0, 70.0, 5.0],
                [-30.0, -5.0, 2.0], [60.0, 40.0, 8.0], [10.0, 75.0, 2.0],
                [40.0, 0.0, 1.0], [99.0, 75.0, 9.0], [5.0, 60.0, 4.0],
                [30.0, 30.0, 0.5], [33.0, 31.0, 0.5], [31.0, 35.0, 0.5],
            ]
        ]
    )
    faces = torch.arange(12).view(4, 3)
    frags = rasterize(verts, faces, 70, 96)
    assert_matches_reference(frags, verts, faces, 70, 96)
    assert (frags.face_id == 3).sum() > 0  # the small front triangle is drawn


def test_single_triangle_coverage_and_barycentrics():
    verts = torch.tensor([[[4.0, 4.0, 1.0], [28.0, 4.0, 1.0], [4.0, 28.0, 1.0]]])
    faces = torch.tensor([[0, 1, 2]])
    frags = rasterize(verts, faces, 32, 32)
    covered = int((frags.face_id == 0).sum())
    assert abs(covered - 24 * 24 / 2) <= 24 + 1  # the diagonal's pixel centres lie on it
    assert (frags.face_id[frags.face_id != 0] == -1).all()
    uv = interpolate(frags, verts[0, :, :2], faces)
    rows, cols = torch.meshgrid(torch.arange(32.0) + 0.5, torch.arange(32.0) + 0.5, indexing="ij")
    fg = frags.face_id[0] >= 0
    torch.testing.assert_close(uv[0, ..., 0][fg], cols[fg], atol=1e-4, rtol=0)
    torch.testing.assert_close(uv[0, ..., 1][fg], rows[fg], atol=1e-4, rtol=0)
    torch.testing.assert_close(frags.bary.sum(-1)[0][fg], torch.ones(int(fg.sum())))
    assert (frags.bary[0][~fg] == 0).all() and torch.isinf(frags.depth[0][~fg]).all()


def test_pixel_centre_convention():
    # A square covering exactly columns 0..2 and rows 0..1 (pixel boundaries at integers).
    verts = torch.tensor([[[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [3.0, 2.0, 0.0], [0.0, 2.0, 0.0]]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    frags = rasterize(verts, faces, 4, 5)
    expected = torch.zeros(4, 5, dtype=torch.bool)
    expected[:2, :3] = True
    assert torch.equal(frags.face_id[0] >= 0, expected)


def test_shared_edges_leave_no_cracks():
    # The full image as two triangles whose shared diagonal passes through pixel centres.
    verts = torch.tensor([[[0.0, 0.0, 1.0], [32.0, 0.0, 1.0], [32.0, 32.0, 1.0], [0.0, 32.0, 1.0]]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    frags = rasterize(verts, faces, 32, 32)
    assert (frags.face_id >= 0).all()
    diagonal = torch.arange(32)
    assert (frags.face_id[0, diagonal, diagonal] == 0).all()  # tie: smallest face id


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_nearer_triangle_wins_regardless_of_face_order(order):
    far = [[2.0, 2.0, 5.0], [30.0, 2.0, 5.0], [2.0, 30.0, 5.0]]
    near = [[4.0, 3.0, 2.0], [31.0, 6.0, 2.0], [3.0, 29.0, 2.0]]
    tris = [far, near]
    verts = torch.tensor([tris[order[0]] + tris[order[1]]])
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    frags = rasterize(verts, faces, 32, 32)
    near_id = order.index(1)
    both = torch.zeros(32, 32, dtype=torch.bool)
    both[5:13, 5:13] = True  # well inside both triangles
    assert (frags.face_id[0][both] == near_id).all()
    torch.testing.assert_close(frags.depth[0][both], torch.full((64,), 2.0))


def test_offscreen_degenerate_and_nonfinite_faces_draw_nothing():
    verts = torch.tensor(
        [
            [
                [100.0, 100.0, 1.0], [140.0, 100.0, 1.0], [100.0, 130.0, 1.0],  # off-screen
                [-50.0, 5.0, 1.0], [-10.0, 5.0, 1.0], [-30.0, 25.0, 1.0],  # off-screen left
                [2.0, 2.0, 1.0], [10.0, 10.0, 1.0], [20.0, 20.0, 1.0],  # collinear
                [5.0, 5.0, 1.0], [5.0, 5.0, 1.0], [5.0, 5.0, 1.0],  # a point
                [1.0, 1.0, float("nan")], [30.0, 1.0, 1.0], [1.0, 30.0, 1.0],  # NaN depth
                [1.0, 1.0, 1.0], [float("inf"), 1.0, 1.0], [1.0, 30.0, 1.0],  # infinite u
            ]
        ]
    )
    faces = torch.arange(18).view(6, 3)
    frags = rasterize(verts, faces, 32, 32)
    assert (frags.face_id == -1).all()
    assert (frags.bary == 0).all() and torch.isinf(frags.depth).all()


def test_partly_offscreen_face_is_clipped():
    verts = torch.tensor([[[-40.0, -40.0, 3.0], [60.0, 16.0, 3.0], [16.0, 70.0, 3.0]]])
    faces = torch.tensor([[0, 1, 2]])
    frags = rasterize(verts, faces, 32, 32)
    assert_matches_reference(frags, verts, faces, 32, 32)
    assert (frags.face_id == 0).sum() > 500


def test_empty_faces_and_batches():
    verts = torch.rand(3, 5, 3) * 16
    frags = rasterize(verts, torch.zeros(0, 3, dtype=torch.int64), 8, 16)
    assert frags.face_id.shape == (3, 8, 16) and (frags.face_id == -1).all()
    assert torch.isinf(frags.depth).all()
    frags = rasterize(torch.zeros(0, 5, 3), torch.tensor([[0, 1, 2]]), 8, 16)
    assert frags.face_id.shape == (0, 8, 16) and frags.bary.shape == (0, 8, 16, 3)


def test_float64_and_gradients():
    generator = torch.Generator().manual_seed(7)
    verts, faces = random_mesh(generator, batch=1, num_verts=30, num_faces=10, size=24)
    verts = verts.double().requires_grad_()
    frags = rasterize(verts, faces, 24, 24)
    assert frags.bary.dtype == torch.float64 and frags.depth.dtype == torch.float64
    fg = frags.face_id >= 0
    # depth = sum_k bary_k * d_k, so d(sum of depths)/d(d of vertex) = sum of its weights.
    frags.depth[fg].sum().backward()
    expected = torch.zeros(30, dtype=torch.float64)
    corner = faces[frags.face_id[fg]]
    expected.index_add_(0, corner.reshape(-1), frags.bary[fg].detach().reshape(-1))
    torch.testing.assert_close(verts.grad[0, :, 2], expected)


def test_interpolate_constant_attribute():
    generator = torch.Generator().manual_seed(3)
    verts, faces = random_mesh(generator, batch=2, num_verts=45, num_faces=15, size=32)
    frags = rasterize(verts, faces, 32, 32)
    fg = frags.face_id >= 0
    assert fg.any()
    shared = torch.tensor([0.25, -2.0]).expand(45, 2)
    out = interpolate(frags, shared, faces)
    assert out.shape == (2, 32, 32, 2)
    torch.testing.assert_close(out[fg], torch.tensor([0.25, -2.0]).expand(int(fg.sum()), 2))
    assert (out[~fg] == 0).all()
    per_batch = torch.tensor([[1.5], [7.0]]).view(2, 1, 1).expand(2, 45, 1)
    out = interpolate(frags, per_batch, faces)
    torch.testing.assert_close(out[0][fg[0]], torch.full((int(fg[0].sum()), 1), 1.5))
    torch.testing.assert_close(out[1][fg[1]], torch.full((int(fg[1].sum()), 1), 7.0))


def test_argument_errors():
    verts, faces = torch.rand(1, 4, 3), torch.tensor([[0, 1, 2]])
    with pytest.raises(ValueError, match="verts"):
        rasterize(verts[0], faces, 8, 8)
    with pytest.raises(ValueError, match="floating"):
        rasterize(verts.long(), faces, 8, 8)
    with pytest.raises(ValueError, match="faces"):
        rasterize(verts, faces.float(), 8, 8)
    with pytest.raises(ValueError, match="faces index"):
        rasterize(verts, faces + 2, 8, 8)
    with pytest.raises(ValueError, match="height"):
        rasterize(verts, faces, 0, 8)
    with pytest.raises(ValueError, match="backend"):
        rasterize(verts, faces, 8, 8, backend="opengl")
    frags = rasterize(verts, faces, 8, 8)
    with pytest.raises(ValueError, match="values"):
        interpolate(frags, torch.rand(2, 4, 1), faces)


@pytest.mark.skipif(
    importlib.util.find_spec("pytorch3d") is not None, reason="pytorch3d is installed"
)
def test_pytorch3d_backend_missing_is_a_clear_error():
    with pytest.raises(ImportError, match="pytorch3d"):
        rasterize(torch.rand(1, 3, 3), torch.tensor([[0, 1, 2]]), 8, 8, backend="pytorch3d")


@pytest.mark.skipif(
    importlib.util.find_spec("pytorch3d") is None,
    reason="pytorch3d is not installed (optional backend; no Linux wheel on PyPI)",
)
@pytest.mark.parametrize("size", [(32, 32), (24, 40), (40, 24)])
def test_pytorch3d_backend_matches_torch(size):
    height, width = size
    generator = torch.Generator().manual_seed(11)
    verts, faces = random_mesh(generator, batch=2, num_verts=90, num_faces=30, size=max(size))
    ours = rasterize(verts, faces, height, width, backend="torch")
    theirs = rasterize(verts, faces, height, width, backend="pytorch3d")
    same = ours.face_id == theirs.face_id
    assert same.float().mean() > 0.99  # edge conventions differ only on exact ties
    fg = same & (ours.face_id >= 0)
    torch.testing.assert_close(theirs.bary[fg], ours.bary[fg], atol=1e-3, rtol=0)
    torch.testing.assert_close(theirs.depth[fg], ours.depth[fg], atol=1e-3, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    generator = torch.Generator().manual_seed(5)
    verts, faces = random_mesh(generator, batch=2, num_verts=300, num_faces=100, size=64)
    cpu = rasterize(verts, faces, 64, 64)
    gpu = rasterize(verts.cuda(), faces.cuda(), 64, 64)
    assert gpu.face_id.device.type == "cuda"
    assert torch.equal(gpu.face_id.cpu(), cpu.face_id)
    torch.testing.assert_close(gpu.bary.cpu(), cpu.bary, atol=1e-5, rtol=0)


def test_chunked_evaluation_gives_the_same_result(monkeypatch):
    import warping.raster as raster

    generator = torch.Generator().manual_seed(2)
    verts, faces = random_mesh(generator, batch=2, num_verts=150, num_faces=50, size=48)
    whole = rasterize(verts, faces, 48, 40)
    monkeypatch.setattr(raster, "_MAX_CANDIDATES", 64)
    chunked = rasterize(verts, faces, 48, 40)
    assert torch.equal(whole.face_id, chunked.face_id)
    assert torch.equal(whole.bary, chunked.bary)
