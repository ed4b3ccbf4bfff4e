"""OpenPose-18 mapping, pose heatmaps and PG2's pose mask."""

from __future__ import annotations

import pytest
import torch

from bodymesh.heatmaps import heatmaps_to_keypoints
from bodymesh.keypoints import KEYPOINT_INDEX
from mimic.networks.pose_maps import OPENPOSE18_NAMES, openpose18, pose_heatmaps, pose_mask
from tests.baseline_pairs import toy_keypoints


def test_openpose18_order_and_neck():
    keypoints = toy_keypoints(64, arms_up=False)
    keypoints[0, KEYPOINT_INDEX["right_shoulder"], 2] = 0.4
    mapped = openpose18(keypoints)
    assert mapped.shape == (1, 18, 3)
    for i, name in enumerate(OPENPOSE18_NAMES):
        if name != "neck":
            assert torch.equal(mapped[0, i], keypoints[0, KEYPOINT_INDEX[name]])
    neck = mapped[0, OPENPOSE18_NAMES.index("neck")]
    shoulders = keypoints[0, [KEYPOINT_INDEX["left_shoulder"], KEYPOINT_INDEX["right_shoulder"]], :2].mean(0)
    assert torch.allclose(neck[:2], shoulders) and float(neck[2]) == pytest.approx(0.4)


def test_heatmaps_peak_at_the_keypoints():
    keypoints = toy_keypoints(64, arms_up=True)
    heat = pose_heatmaps(keypoints, 64, sigma=2.0)
    assert heat.shape == (1, 18, 64, 64) and float(heat.max()) <= 1.0
    assert torch.allclose(heatmaps_to_keypoints(heat)[..., :2], openpose18(keypoints)[..., :2], atol=0.05)


def test_pose_mask_covers_limbs_and_torso_not_the_background():
    keypoints = toy_keypoints(64, arms_up=False)
    drawn = pose_mask(keypoints, 64, radius=2.0, dilate=1, erode=1)
    assert drawn.shape == (1, 1, 64, 64) and set(drawn.unique().tolist()) == {0.0, 1.0}
    u, v = (int(x) for x in keypoints[0, KEYPOINT_INDEX["left_elbow"], :2])
    assert drawn[0, 0, v, u] == 1  # on a limb
    hip_l, sh_r = keypoints[0, KEYPOINT_INDEX["left_hip"], :2], keypoints[0, KEYPOINT_INDEX["right_shoulder"], :2]
    centre = ((hip_l + sh_r) / 2).long()
    assert drawn[0, 0, centre[1], centre[0]] == 1  # inside the filled torso
    assert drawn[0, 0, 2, 2] == 0 and drawn[0, 0, 60, 60] == 0  # background
    # Dilation grows the mask by its kernel's half-side; a later erosion shrinks it back inside.
    dilated = pose_mask(keypoints, 64, radius=2.0, dilate=5, erode=1)
    closed = pose_mask(keypoints, 64, radius=2.0, dilate=5, erode=5)
    assert bool((dilated >= drawn).all()) and float(dilated.sum()) > float(drawn.sum())
    assert bool((closed >= drawn).all()) and float(closed.sum()) < float(dilated.sum())


def test_pose_mask_skips_unconfident_limbs():
    keypoints = toy_keypoints(64, arms_up=False)
    full = pose_mask(keypoints, 64, radius=2.0, dilate=1, erode=1)
    keypoints[0, KEYPOINT_INDEX["left_wrist"], 2] = 0.0
    without = pose_mask(keypoints, 64, radius=2.0, dilate=1, erode=1)
    u, v = (int(x) for x in keypoints[0, KEYPOINT_INDEX["left_wrist"], :2])
    assert full[0, 0, v, u] == 1 and without[0, 0, v, u] == 0
