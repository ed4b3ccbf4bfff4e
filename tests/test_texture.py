"""Tests of warping.texture (UV rasterization, unwrapping, mirror map, filling),
mimic.training.synthetic_person and mimic.pipeline.background, on the Anny body and synthetic renders."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from bodymesh.body_model import rest_vertices, zero_pose, zero_shape
from bodymesh.camera import to_image_space
from bodymesh.parts import PART_INDEX
from mimic.pipeline.background import remove_person
from mimic.training.synthetic_person import GARMENTS, procedural_background, procedural_texture, render_person
from tests.conftest import front_camera
from warping.raster import rasterize
from warping.texture import depth_mirror_vertex_map, fill_texture, mirror_vertex_map, rasterize_uv, unwrap_texture, uv_to_grid
from warping.topology import MeshTopology

SIZE = 256


@functools.cache
def topology(body) -> MeshTopology:
    """The body model's mesh topology (codes of its rest pose)."""
    return MeshTopology.of(body, rest_vertices(body))


@pytest.fixture(scope="module")
def front(anny_body):
    """A front view of the rest-pose body in a known texture, rendered without shading."""
    with torch.no_grad():
        texture, labels = procedural_texture(anny_body, SIZE, seed=1, return_labels=True)
        pose, shape = zero_pose(anny_body), zero_shape(anny_body)
        cam = front_camera(anny_body, SIZE)
        image, mask = render_person(anny_body, pose, shape, cam, texture, shading=False)
        rest = anny_body.forward(pose, shape).vertices
        verts = to_image_space(rest, cam)
        frags = rasterize(verts, anny_body.faces, SIZE, SIZE)
        uv_frags = rasterize_uv(topology(anny_body), SIZE)
    return dict(texture=texture, labels=labels, image=image, mask=mask, verts=verts, frags=frags, uv_frags=uv_frags, rest=rest[0])


def facing_away(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """`(F,)` bool: faces whose outward image-space normal points away from the camera."""
    tri = verts[0][faces]
    normal = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    return normal[:, 2] > 0


# ------------------------------------------------------------------------------------------
# rasterize_uv


def test_rasterize_uv_covers_the_uv_islands(anny_body):
    frags = rasterize_uv(topology(anny_body), 128)
    assert frags.face_id.shape == (1, 128, 128)
    uv = anny_body.uv_coords[anny_body.uv_faces]
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    area = 0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).abs().sum()
    covered = (frags.face_id >= 0).float().mean()
    assert abs(float(covered) - float(area)) < 0.02
    # v up: a face's texels sit at row (1 - v) * size.
    face = int(frags.face_id[0, 64, 64])
    if face >= 0:
        v = float(uv[face, :, 1].mean())
        assert abs((1 - v) * 128 - 64.5) < 8


# ------------------------------------------------------------------------------------------
# unwrap_texture


def test_unwrap_recovers_the_visible_texture(anny_body, front):
    texture, coverage = unwrap_texture(
        front["image"], front["frags"], front["verts"], topology(anny_body), SIZE,
        uv_fragments=front["uv_frags"],
    )
    assert texture.shape == (1, 3, SIZE, SIZE) and coverage.shape == (1, 1, SIZE, SIZE)
    assert float(coverage.min()) >= 0 and float(coverage.max()) <= 1
    seen = coverage[0, 0] > 0.5
    assert int(seen.sum()) > 0.15 * int((front["uv_frags"].face_id >= 0).sum())
    error = (texture - front["texture"]).abs().mean(1)[0][seen]
    assert float(error.mean()) < 0.1
    # Same result when the UV rasterization is left to the function.
    again, _ = unwrap_texture(front["image"], front["frags"], front["verts"], topology(anny_body), SIZE)
    assert torch.allclose(again, texture)


def test_unwrap_leaves_the_back_uncovered(anny_body, front):
    _, coverage = unwrap_texture(
        front["image"], front["frags"], front["verts"], topology(anny_body), SIZE,
        uv_fragments=front["uv_frags"],
    )
    face = front["uv_frags"].face_id[0]
    inside = face >= 0
    away = inside & facing_away(front["verts"], anny_body.faces)[face.clamp(min=0)]
    assert int(away.sum()) > 1000
    assert float(coverage[0, 0][away].max()) < 0.05
    assert float(coverage[0, 0][inside & ~away].mean()) > 0.3
    assert float(coverage[0, 0][~inside].abs().max()) == 0.0


def test_unwrap_merges_sources_and_respects_masks(anny_body, front):
    images = torch.cat((front["image"], front["image"]))
    verts = torch.cat((front["verts"], front["verts"]))
    frags = rasterize(verts, anny_body.faces, SIZE, SIZE)
    args = (topology(anny_body), SIZE)
    one, cov_one = unwrap_texture(front["image"], front["frags"], front["verts"], *args, uv_fragments=front["uv_frags"])
    two, cov_two = unwrap_texture(images, frags, verts, *args, uv_fragments=front["uv_frags"])
    assert torch.allclose(one, two, atol=1e-5) and torch.allclose(cov_one, cov_two)
    # A source whose person mask is empty contributes nothing.
    masks = torch.stack((torch.ones(1, SIZE, SIZE), torch.zeros(1, SIZE, SIZE)))
    masked, cov_masked = unwrap_texture(images, frags, verts, *args, uv_fragments=front["uv_frags"], masks=masks)
    assert torch.allclose(masked, one, atol=1e-5) and torch.allclose(cov_masked, cov_one)


def test_unwrap_rejects_mismatched_inputs(anny_body, front):
    with pytest.raises(ValueError, match="verts must"):
        unwrap_texture(front["image"], front["frags"], front["verts"][:, :10], topology(anny_body))
    with pytest.raises(ValueError, match="images must be"):
        unwrap_texture(front["image"][0], front["frags"], front["verts"], topology(anny_body))


# ------------------------------------------------------------------------------------------
# mirror_vertex_map


def test_mirror_map_swaps_left_and_right(anny_body, front):
    mirror = mirror_vertex_map(front["rest"])
    n = front["rest"].shape[0]
    assert mirror.shape == (n,) and mirror.dtype == torch.int64
    assert float((mirror[mirror] == torch.arange(n)).float().mean()) > 0.95
    labels = anny_body.part_labels
    for left, right in (("left_upper_arm", "right_upper_arm"), ("left_hand", "right_hand"), ("left_foot", "right_foot")):
        assert float((labels[mirror[labels == PART_INDEX[left]]] == PART_INDEX[right]).float().mean()) > 0.95
    mirrored = front["rest"] * torch.tensor([-1.0, 1.0, 1.0])
    assert float((front["rest"][mirror] - mirrored).norm(dim=1).median()) < 1e-3


def test_mirror_map_is_the_exact_nearest_neighbour():
    gen = torch.Generator().manual_seed(0)
    points = torch.rand(500, 3, generator=gen)
    expected = torch.cdist(points * torch.tensor([-1.0, 1.0, 1.0]), points).argmin(1)
    assert torch.equal(mirror_vertex_map(points, cell=0.05), expected)


# ------------------------------------------------------------------------------------------
# fill_texture


def test_fill_gives_the_back_plausible_colours(anny_body, front):
    uv_frags = front["uv_frags"]
    args = (topology(anny_body),)
    texture, coverage = unwrap_texture(front["image"], front["frags"], front["verts"], *args, SIZE, uv_fragments=uv_frags)
    mirror = mirror_vertex_map(front["rest"])
    filled = fill_texture(texture, coverage, uv_frags, *args, mirror, gutter=0)
    assert filled.shape == texture.shape and torch.isfinite(filled).all()
    inside = uv_frags.face_id[0] >= 0
    unseen = inside & (coverage[0, 0] == 0)
    assert int(unseen.sum()) > 1000
    # Every unseen texel of the islands got a colour (none left at the unwrap's zero).
    assert float(filled[0].abs().amax(0)[unseen].min()) > 0
    # Seen texels keep their colours; outside the islands nothing changes without a gutter.
    sure = coverage[0, 0] >= 0.3
    assert torch.allclose(filled[0][:, sure], texture[0][:, sure], atol=1e-5)
    assert torch.equal(filled[0][:, ~inside], texture[0][:, ~inside])
    # The unseen back of the shirt is filled with shirt colours, not trouser or skin colours.
    labels = front["labels"][0]
    truth = front["texture"][0]
    for garment in ("shirt", "trousers"):
        region = unseen & (labels == GARMENTS.index(garment))
        got = filled[0][:, region].mean(1)
        want = truth[:, labels == GARMENTS.index(garment)].mean(1)
        assert float((got - want).abs().max()) < 0.25, garment


def test_fill_uses_the_mirror_side(anny_body, front):
    """With only the left half of the body seen, the right half takes the left's colours."""
    uv_frags = front["uv_frags"]
    args = (topology(anny_body),)
    texture, coverage = unwrap_texture(front["image"], front["frags"], front["verts"], *args, SIZE, uv_fragments=uv_frags)
    face = uv_frags.face_id[0]
    inside = face >= 0
    # Texel positions on the rest body: x > 0 is the person's left.
    right = inside & (front["rest"][anny_body.faces[face.clamp(min=0), 0], 0] < -0.05)
    half = torch.where(right[None, None], torch.zeros_like(coverage), coverage)
    filled = fill_texture(texture, half, uv_frags, *args, mirror_vertex_map(front["rest"]), gutter=0)
    target = right & (coverage[0, 0] > 0.5)
    error = (filled - front["texture"]).abs().mean(1)[0][target]
    assert float(error.mean()) < 0.12


def test_depth_mirror_pairs_front_and_back_within_a_part(anny_body, front):
    rest, labels = front["rest"], anny_body.part_labels
    head = PART_INDEX["head"]
    twin = depth_mirror_vertex_map(rest, labels, skip=(head,))
    assert twin.shape == labels.shape and twin.dtype == torch.int64
    assert bool((twin[labels == head] == -1).all())
    kept = twin >= 0
    assert torch.equal(labels[twin[kept]], labels[kept])
    torso = (labels == PART_INDEX["torso"]).nonzero().squeeze(1)
    centre = rest[torso, 2].mean()
    front_half = torso[rest[torso, 2] > centre + 0.03]
    # A chest vertex's twin is on the back, at about the same height and side.
    assert float((rest[twin[front_half], 2] < centre).float().mean()) > 0.95
    assert float((rest[twin[front_half], :2] - rest[front_half, :2]).norm(dim=1).median()) < 0.03


def test_fill_takes_the_back_from_the_front_with_the_depth_mirror(anny_body, front):
    """Seen from the front only, the back of the shirt is closer to the truth (the stripes run
    round the body at the same height) with the front/back mirror than without it."""
    uv_frags = front["uv_frags"]
    args = (topology(anny_body),)
    texture, coverage = unwrap_texture(front["image"], front["frags"], front["verts"], *args, SIZE, uv_fragments=uv_frags)
    mirror = mirror_vertex_map(front["rest"])
    twin = depth_mirror_vertex_map(front["rest"], anny_body.part_labels, skip=(PART_INDEX["head"],))
    plain = fill_texture(texture, coverage, uv_frags, *args, mirror, gutter=0)
    mirrored = fill_texture(texture, coverage, uv_frags, *args, mirror, depth_mirror=twin, gutter=0)
    face = uv_frags.face_id[0]
    torso = (face >= 0) & (anny_body.part_labels[anny_body.faces[face.clamp(min=0), 0]] == PART_INDEX["torso"])
    back = torso & (coverage[0, 0] == 0) & (front["labels"][0] == GARMENTS.index("shirt"))
    assert int(back.sum()) > 500
    error_plain = float((plain - front["texture"]).abs().mean(1)[0][back].mean())
    error_mirrored = float((mirrored - front["texture"]).abs().mean(1)[0][back].mean())
    assert error_mirrored < 0.8 * error_plain
    # What was seen is not touched.
    sure = coverage[0, 0] >= 0.3
    assert torch.allclose(mirrored[0][:, sure], texture[0][:, sure], atol=1e-5)


def test_fill_gutter_pads_around_islands(anny_body, front):
    uv_frags = front["uv_frags"]
    inside = uv_frags.face_id >= 0
    texture = torch.where(inside[:, None], torch.full((1, 3, SIZE, SIZE), 0.5), torch.zeros(1, 3, SIZE, SIZE))
    coverage = inside[:, None].float()
    mirror = mirror_vertex_map(front["rest"])
    padded = fill_texture(texture, coverage, uv_frags, topology(anny_body), mirror, gutter=2)
    grown = torch.nn.functional.max_pool2d(inside[:, None].float(), 5, 1, 2) > 0
    assert torch.allclose(padded[0][:, grown[0, 0]], torch.tensor(0.5), atol=1e-5)
    assert float(padded[0][:, ~grown[0, 0]].abs().max()) == 0


# ------------------------------------------------------------------------------------------
# synthetic person


def test_procedural_texture_is_seeded(anny_body):
    a = procedural_texture(anny_body, 128, seed=3)
    b = procedural_texture(anny_body, 128, seed=3)
    c = procedural_texture(anny_body, 128, seed=4)
    assert a.shape == (1, 3, 128, 128)
    assert float(a.min()) >= -1 and float(a.max()) <= 1
    assert torch.equal(a, b)
    assert float((a - c).abs().mean()) > 0.05


def test_procedural_texture_dresses_the_parts(anny_body, front):
    labels = front["labels"][0]
    face = front["uv_frags"].face_id[0]
    part = anny_body.part_labels[anny_body.faces[face.clamp(min=0), 0]]
    inside = face >= 0

    def share(part_name: str, garment: str) -> float:
        region = inside & (part == PART_INDEX[part_name])
        return float((labels[region] == GARMENTS.index(garment)).float().mean())

    assert share("torso", "shirt") > 0.6
    assert share("left_upper_leg", "trousers") > 0.8
    assert share("right_foot", "shoes") > 0.8
    assert share("left_hand", "skin") > 0.8
    assert bool((labels[~inside] == -1).all())


def test_render_person(anny_body, front):
    image, mask = front["image"], front["mask"]
    assert image.shape == (1, 3, SIZE, SIZE) and mask.shape == (1, 1, SIZE, SIZE)
    assert float(image.min()) >= -1 and float(image.max()) <= 1
    assert 0.05 < float(mask.mean()) < 0.4
    background = procedural_background(SIZE, SIZE, seed=0)
    assert torch.allclose(image[:, :, mask[0, 0] == 0], background[:, :, mask[0, 0] == 0])
    # A given background shows where the mask is 0; shading darkens, never brightens.
    plain = torch.full((1, 3, SIZE, SIZE), -1.0)
    pose, shape = zero_pose(anny_body), zero_shape(anny_body)
    shaded, mask2 = render_person(anny_body, pose, shape, front_camera(anny_body, SIZE), front["texture"], plain)
    assert torch.equal(mask2, mask)
    assert bool((shaded[:, :, mask[0, 0] == 0] == -1).all())
    person = mask[0, 0] > 0
    assert bool((shaded[:, :, person] <= image[:, :, person] + 1e-5).all())


def test_procedural_background_is_seeded():
    a = procedural_background(48, 64, seed=1)
    assert a.shape == (1, 3, 48, 64)
    assert float(a.min()) >= -1 and float(a.max()) <= 1
    assert torch.equal(a, procedural_background(48, 64, seed=1))
    assert float((a - procedural_background(48, 64, seed=2)).abs().mean()) > 0.02


# ------------------------------------------------------------------------------------------
# background plate


def blob_scene(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth backdrop, a red 'person' ellipse over it, and the ellipse's mask."""
    yy, xx = np.mgrid[:height, :width]
    plate = np.empty((height, width, 3), np.uint8)
    plate[..., 0] = (60 + 80 * xx / width).astype(np.uint8)
    plate[..., 1] = 140
    plate[..., 2] = (200 - 60 * yy / height).astype(np.uint8)
    mask = ((((xx - 0.45 * width) / (0.1 * width)) ** 2 + ((yy - 0.5 * height) / (0.35 * height)) ** 2) < 1).astype(np.float32)
    image = plate.copy()
    image[mask > 0.5] = (250, 20, 20)
    return image, mask, plate


@pytest.mark.parametrize("size", [(1080, 1920), (200, 120)])
def test_remove_person_fills_with_the_backdrop(size):
    image, mask, plate = blob_scene(*size)
    out = remove_person(image, mask)
    assert out.shape == image.shape and out.dtype == np.uint8
    error = np.abs(out.astype(int) - plate.astype(int))
    assert error[mask > 0.5].mean() < 6
    assert error[mask > 0.5].max() < 40
    # Far from the (dilated) person the photo is untouched.
    far = np.ones(size, bool)
    h, w = size
    far[int(0.1 * h) : int(0.9 * h), int(0.3 * w) : int(0.6 * w)] = False
    assert np.array_equal(out[far], image[far])


def test_remove_person_without_a_person_is_a_copy():
    image, _, _ = blob_scene(64, 64)
    out = remove_person(image, np.zeros((64, 64), np.float32))
    assert np.array_equal(out, image) and out is not image


def test_remove_person_rejects_bad_inputs():
    image, mask, _ = blob_scene(64, 64)
    with pytest.raises(ValueError, match="mask must be"):
        remove_person(image, mask[:10])
    with pytest.raises(ValueError, match="image must be"):
        remove_person(image.astype(np.float32), mask)


def test_uv_to_grid_reads_texel_centres():
    size = 8
    texture = torch.arange(size * size, dtype=torch.float32).view(1, 1, size, size)
    row, col = 5, 2
    uv = torch.tensor([[(col + 0.5) / size, 1 - (row + 0.5) / size]])
    grid = uv_to_grid(uv)[None, None]  # (1, 1, 1, 2)
    value = torch.nn.functional.grid_sample(texture, grid, align_corners=False)
    assert float(value) == row * size + col
