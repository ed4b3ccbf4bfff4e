"""Tests of the warp-only generator on a synthetic render warped onto itself."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from bodymesh.body_model import zero_pose, zero_shape
from bodymesh.camera import to_image_space
from mimic.core.bundles import SourceBundle, TargetBundle
from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.training.synthetic_person import procedural_background, procedural_texture, render_person
from tests.conftest import front_camera
from warping.correspondence import mesh_maps, uv_map, vertex_codes
from warping.raster import Fragments
from warping.sampler import identity_grid
from warping.topology import MeshTopology

SIZE = 128


@pytest.fixture(scope="module")
def scene(anny_body):
    """A source render and a target equal to it: identity grids, weights 1 on the body."""
    with torch.no_grad():
        pose, shape = zero_pose(anny_body), zero_shape(anny_body)
        verts0 = anny_body.forward(pose, shape).vertices
        cam = front_camera(anny_body, SIZE)
        texture = procedural_texture(anny_body, 128, seed=5)
        other_texture = procedural_texture(anny_body, 128, seed=6)
        background = procedural_background(SIZE, SIZE, seed=3)
        image, mask = render_person(anny_body, pose, shape, cam, texture, background, SIZE, SIZE)
        verts = to_image_space(verts0, cam)
        codes = vertex_codes(verts0[0])
        topology = MeshTopology(anny_body.faces, anny_body.uv_coords, anny_body.uv_faces, anny_body.part_labels, codes)
        frags, correspondence, parts = mesh_maps(verts, topology, SIZE)
        uv = uv_map(frags, topology)
        keypoints = torch.ones(1, 23, 3)
    covered = frags.face_id >= 0
    source = SourceBundle(
        images=image, masks=mask, verts=verts, fragments=frags, background=background, texture=other_texture,
        correspondence=correspondence, parts=parts, keypoints=keypoints,
    )
    target_background = procedural_background(SIZE, SIZE, seed=4)
    target = TargetBundle(
        verts=verts, fragments=frags, uv=uv, grids=identity_grid(1, SIZE, SIZE), weights=covered.float(),
        background=target_background, correspondence=correspondence, parts=parts, keypoints=keypoints,
    )
    return dict(source=source, target=target, image=image, covered=covered[0], body=anny_body, pose=pose, shape=shape, cam=cam)


def interior(covered: torch.Tensor, margin: int) -> torch.Tensor:
    """`(H, W)` bool: covered pixels at least `margin` pixels (Chebyshev) from any uncovered one."""
    outside = (~covered).float()[None, None]
    return ~(F.max_pool2d(outside, 2 * margin + 1, 1, margin)[0, 0] > 0)


def test_identity_warp_reproduces_the_source(scene):
    generator = WarpOnlyGenerator()
    assert generator.name == "warp"
    out = generator.generate(scene["source"], scene["target"])
    assert out.shape == (1, 3, SIZE, SIZE)
    assert float(out.min()) >= -1 and float(out.max()) <= 1
    inner = interior(scene["covered"], 3)
    assert int(inner.sum()) > 300
    assert float((out - scene["image"])[0][:, inner].abs().max()) < 1e-4
    # Away from the body: exactly the target's background.
    far = interior(~scene["covered"], 3)
    assert torch.equal(out[0][:, far], scene["target"].background[0][:, far])


def test_unseen_pixels_take_the_texture(scene):
    target = scene["target"]
    covered = scene["covered"]
    rows = torch.arange(SIZE)[:, None].expand(SIZE, SIZE)
    hidden = covered & (rows < SIZE // 2)  # no source sees the upper half of the body
    weights = (covered & ~hidden).float()[None]
    unseen = replace(target, weights=weights)
    out = WarpOnlyGenerator().generate(scene["source"], unseen)
    # The upper half is the body drawn in the source's UV texture (unshaded), the lower half the photo.
    body = scene["body"]
    textured, _ = render_person(
        body, scene["pose"], scene["shape"], scene["cam"], scene["source"].texture, target.background, SIZE, SIZE,
        shading=False,
    )
    inner = interior(covered, 3)
    top, bottom = inner & hidden, inner & ~hidden & (rows > SIZE // 2 + 3)
    assert float((out - textured)[0][:, top].abs().max()) < 1e-4
    assert float((out - scene["image"])[0][:, bottom].abs().max()) < 1e-4


def test_two_sources_mix_by_weight(scene):
    source, target = scene["source"], scene["target"]
    dark = torch.full_like(source.images, -1.0)
    two = replace(
        source, images=torch.cat((source.images, dark)), masks=source.masks.repeat(2, 1, 1, 1), verts=source.verts.repeat(2, 1, 1),
        fragments=Fragments(*(torch.cat((t, t)) for t in source.fragments)),
        correspondence=source.correspondence.repeat(2, 1, 1, 1), parts=source.parts.repeat(2, 1, 1), keypoints=source.keypoints.repeat(2, 1, 1),
    )
    weights = target.weights.repeat(2, 1, 1) * 0.5
    mixed = replace(target, grids=target.grids.repeat(2, 1, 1, 1), weights=weights)
    out = WarpOnlyGenerator().generate(two, mixed)
    inner = interior(scene["covered"], 3)
    expected = 0.5 * scene["image"] + 0.5 * dark
    assert float((out - expected)[0][:, inner].abs().max()) < 1e-4


def test_edge_is_soft_and_hard_edge_option(scene):
    soft = WarpOnlyGenerator(feather=1.0).generate(scene["source"], scene["target"])
    hard = WarpOnlyGenerator(feather=0.0).generate(scene["source"], scene["target"])
    covered = scene["covered"]
    background = scene["target"].background
    # Hard: body pixels are the photo, the rest is the background.
    assert float((hard - scene["image"])[0][:, covered].abs().max()) < 1e-5
    assert torch.equal(hard[0][:, ~covered], background[0][:, ~covered])
    # Soft: the ring just outside the silhouette blends towards the body's colours.
    ring = ~covered & ~interior(~covered, 1)
    assert float((soft - background)[0][:, ring].abs().amax(0).mean()) > 0.01


def test_rejects_mismatched_bundles(scene):
    target = scene["target"]
    with pytest.raises(ValueError, match="grids"):  # a bundle checks its shapes when made
        WarpOnlyGenerator().generate(scene["source"], replace(target, grids=target.grids[:, :10]))
    with pytest.raises(ValueError, match="feather"):
        WarpOnlyGenerator(feather=-1.0)
