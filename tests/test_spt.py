"""SPT: semantic maps from part maps, the per-part affine pseudo target map, the cycle path, a
tiny overfit, the adapter's person alpha."""

from __future__ import annotations

import math

import torch

from bodymesh.keypoints import KEYPOINT_INDEX
from bodymesh.parts import PART_INDEX
from mimic.generators.pose_transfer import PoseTransferGenerator
from mimic.networks.pose_inputs import PoseTransferInputs
from mimic.networks.spt import NUM_LABELS, SEMANTIC_LABELS, create_spt, fit_affine, part_affines, pseudo_semantic_map, semantic_map
from tests.baseline_pairs import toy_bundles, toy_keypoints, toy_pairs
from tests.conftest import cache_dir, needs_lpips

TINY = {"size": 32, "width": 8, "levels": 3, "blocks": 2, "lr": 1e-3}
L = {name: i for i, name in enumerate(SEMANTIC_LABELS)}


def test_semantic_map_labels_hair_and_loose_clothes():
    parts = torch.full((1, 16, 16), -1)
    parts[0, 4:6, 6:10] = PART_INDEX["head"]
    parts[0, 6:10, 5:11] = PART_INDEX["torso"]
    parts[0, 6:10, 11] = PART_INDEX["left_hand"]
    parts[0, 10:14, 6:8] = PART_INDEX["right_upper_leg"]
    parts[0, 14:16, 6:8] = PART_INDEX["right_foot"]
    mask = (parts >= 0).float()[:, None]
    mask[0, 0, 3, 6:10] = 1  # above the head: hair
    mask[0, 0, 12:14, 9:12] = 1  # far from the head, off the mesh: loose clothes
    labels, segments = semantic_map(parts, mask, hair_margin=2)
    assert labels.shape == (1, 16, 16) and int(labels.max()) < NUM_LABELS
    expect = {(4, 7): "face", (7, 7): "upper_clothes", (7, 11): "left_arm", (11, 6): "pants", (15, 6): "right_leg",
              (3, 7): "hair", (13, 10): "loose_clothes", (0, 0): "background"}
    for (row, col), name in expect.items():
        assert int(labels[0, row, col]) == L[name], (row, col, name)
    assert int(segments[0, 3, 7]) == PART_INDEX["head"] and int(segments[0, 13, 10]) == PART_INDEX["torso"]
    assert int(segments[0, 0, 0]) == -1 and int(segments[0, 15, 6]) == PART_INDEX["right_foot"]


def test_fit_affine_recovers_a_known_transform():
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(2, 5, 2, generator=generator) * 100
    angle = math.radians(30)
    truth = torch.tensor([[1.2 * math.cos(angle), -math.sin(angle), 7.0], [math.sin(angle), 0.8 * math.cos(angle), -3.0]])
    moved = points @ truth[:, :2].T + truth[:, 2]
    affine, valid = fit_affine(points, moved, torch.ones(2, 5))
    assert bool(valid.all()) and torch.allclose(affine, truth.expand(2, 2, 3), atol=1e-3)
    # Two weighted points (or collinear ones) do not determine an affine.
    weight = torch.tensor([[1.0, 1, 0, 0, 0], [1, 1, 1, 1, 1]])
    collinear = points.clone()
    collinear[1, :, 1] = 2 * collinear[1, :, 0]
    _, valid = fit_affine(collinear, collinear, weight)
    assert valid.tolist() == [False, False]


def test_a_known_affine_moves_a_part_exactly():
    size, shift = 64, torch.tensor([6.0, -4.0])
    source = toy_keypoints(size, arms_up=False)
    target = source.clone()
    target[..., :2] += shift
    affines = part_affines(source, target, size)
    expected = torch.eye(2, 3)
    expected[:, 2] = shift
    assert torch.allclose(affines, expected.expand_as(affines), atol=1e-3)
    labels = torch.zeros(1, size, size, dtype=torch.long)
    segments = torch.full((1, size, size), -1)
    labels[0, 20:30, 25:35], segments[0, 20:30, 25:35] = L["upper_clothes"], PART_INDEX["torso"]
    labels[0, 10:14, 28:34], segments[0, 10:14, 28:34] = L["face"], PART_INDEX["head"]
    moved = pseudo_semantic_map(labels, segments, affines)
    assert torch.equal(moved, torch.roll(labels, shifts=(-4, 6), dims=(1, 2)))


def test_pseudo_map_moves_each_part_with_its_own_keypoints():
    size = 64
    source, target = toy_keypoints(size, arms_up=False), toy_keypoints(size, arms_up=True)
    affines = part_affines(source, target, size)
    torso, forearm = PART_INDEX["torso"], PART_INDEX["left_lower_arm"]
    assert torch.allclose(affines[0, torso], torch.eye(2, 3), atol=1e-3)  # the torso did not move
    ends = source[0, [KEYPOINT_INDEX["left_elbow"], KEYPOINT_INDEX["left_wrist"]], :2]
    moved = ends @ affines[0, forearm, :, :2].T + affines[0, forearm, :, 2]
    assert torch.allclose(moved, target[0, [KEYPOINT_INDEX["left_elbow"], KEYPOINT_INDEX["left_wrist"]], :2], atol=1e-2)
    # A forearm pixel is carried to the raised forearm: the wrist's pixel lands on the new wrist.
    labels = torch.zeros(1, size, size, dtype=torch.long)
    segments = torch.full((1, size, size), -1)
    u, v = (int(x) for x in ends[1])
    labels[0, v - 1 : v + 2, u - 1 : u + 2], segments[0, v - 1 : v + 2, u - 1 : u + 2] = L["left_arm"], forearm
    pseudo = pseudo_semantic_map(labels, segments, affines)
    u2, v2 = (int(x) for x in target[0, KEYPOINT_INDEX["left_wrist"], :2])
    assert int(pseudo[0, v2, u2]) == L["left_arm"] and int(pseudo[0, v, u]) == L["background"]


def test_cycle_path_goes_to_the_target_and_back():
    model = create_spt(TINY)
    batch = toy_pairs(2, 32)
    views = model.views(PoseTransferInputs.from_pair(batch, 32))
    target_map = model.target_map(views).softmax(1)
    assert target_map.shape == (2, NUM_LABELS, 32, 32) and torch.allclose(target_map.sum(1), torch.ones(2, 32, 32))
    forward, back = model.cycle(batch.source_image, views, target_map)
    appearance = model.nets["appearance"]
    with torch.no_grad():  # the way back is the same generator with source and target swapped
        again = appearance(forward, target_map, views.target_heat, views.source_map, views.source_heat)
    assert forward.shape == back.shape == (2, 3, 32, 32) and torch.allclose(back.detach(), again, atol=1e-5)
    image = batch.source_image.clone().requires_grad_(True)
    model.cycle(image, views, target_map)[1].abs().mean().backward()  # gradients flow through both passes
    assert float(image.grad.abs().sum()) > 0
    assert all(p.grad is not None for p in appearance.parameters())


@needs_lpips
def test_tiny_overfit_without_the_target_image():
    torch.manual_seed(0)
    model = create_spt(TINY, cache_dir=cache_dir())
    batch = toy_pairs(2, 32)
    blind = toy_pairs(2, 32)
    blind.target_image = torch.zeros_like(blind.target_image)  # SPT never reads it
    losses = [model.train_step(blind, step) for step in range(40)]
    assert set(losses[0]) == {"lpips", "semantic_ce", "g_adv", "style", "cycle", "d"}
    assert losses[-1]["lpips"] < losses[0]["lpips"]
    assert losses[-1]["semantic_ce"] < losses[0]["semantic_ce"] / 2
    assert losses[-1]["cycle"] < losses[0]["cycle"] / 1.5
    assert torch.equal(blind.source_image, batch.source_image)


def test_adapter_composites_by_the_predicted_person_alpha():
    model = create_spt(TINY)
    pairs = toy_pairs(1, 32)
    source, target = toy_bundles(pairs, 0, 32)
    with torch.no_grad():
        raw, alpha = model.transfer(PoseTransferInputs.from_pair(pairs, 32))
        image = PoseTransferGenerator(model).generate(source, target)
    assert alpha.shape == (1, 1, 32, 32) and float(alpha.min()) >= 0 and float(alpha.max()) <= 1
    assert torch.allclose(image, (alpha * raw + (1 - alpha) * target.background).clamp(-1, 1), atol=1e-5)
