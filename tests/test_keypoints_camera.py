"""The keypoint order, the BlazePose mapping and the weak-perspective camera."""

import numpy as np
import pytest
import torch

from bodymesh.camera import camera_from_torso, project, to_image_space
from bodymesh.detect import BLAZEPOSE_INDEX, blazepose_to_keypoints
from bodymesh.keypoints import FLIP_PERMUTATION, KEYPOINT_INDEX, KEYPOINT_NAMES, NUM_KEYPOINTS, SKELETON_INDICES, TORSO_INDICES, person_height


def test_keypoint_order_is_coco17_then_feet():
    assert NUM_KEYPOINTS == 23
    assert KEYPOINT_NAMES[:5] == ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    assert KEYPOINT_NAMES[15:17] == ("left_ankle", "right_ankle")
    assert KEYPOINT_NAMES[17:] == ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")


def test_flip_permutation_swaps_sides_and_is_an_involution():
    flip = np.array(FLIP_PERMUTATION)
    assert (flip[flip] == np.arange(NUM_KEYPOINTS)).all()
    assert flip[KEYPOINT_INDEX["nose"]] == KEYPOINT_INDEX["nose"]
    assert flip[KEYPOINT_INDEX["left_wrist"]] == KEYPOINT_INDEX["right_wrist"]
    assert all(0 <= a < NUM_KEYPOINTS and 0 <= b < NUM_KEYPOINTS for a, b in SKELETON_INDICES)


def test_blazepose_landmarks_map_to_project_order():
    landmarks = np.zeros((33, 3), dtype=np.float32)
    landmarks[:, 0] = np.arange(33) / 33  # x encodes the landmark index
    landmarks[:, 1] = 0.5
    landmarks[:, 2] = 0.9
    keypoints = blazepose_to_keypoints(landmarks, width=330, height=200)
    for name, index in BLAZEPOSE_INDEX.items():
        k = KEYPOINT_INDEX[name]
        if index < 0:
            assert keypoints[k, 2] == 0.0, name
        else:
            assert keypoints[k, 0] == pytest.approx(index * 10, abs=1e-3), name
            assert keypoints[k, 1] == pytest.approx(100.0)
            assert keypoints[k, 2] == pytest.approx(0.9)
    with pytest.raises(ValueError):
        blazepose_to_keypoints(np.zeros((17, 3)), 10, 10)


def test_person_height_uses_confident_keypoints_only():
    keypoints = np.array([[0, 10, 1.0], [0, 110, 1.0], [0, 900, 0.1]], dtype=np.float32)
    assert person_height(keypoints) == pytest.approx(100.0)
    assert person_height(keypoints[:1]) == 0.0


def test_weak_perspective_projection():
    points = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]])
    cam = torch.tensor([[100.0, 50.0, 60.0]])
    image = to_image_space(points, cam)
    assert torch.allclose(image[0, 0], torch.tensor([50.0, 60.0, 0.0]))
    # x right, y up -> row decreases, z towards the camera -> smaller depth
    assert torch.allclose(image[0, 1], torch.tensor([150.0, -140.0, -300.0]))
    assert torch.allclose(project(points, cam), image[..., :2])
    with pytest.raises(ValueError):
        to_image_space(points[0], cam)


def test_image_space_map_is_a_scaled_rotation():
    """det(diag(1, -1, -1)) = +1: windings (outward normals) survive the projection."""
    points = torch.randn(1, 3, 3, dtype=torch.float64)
    image = to_image_space(points, torch.tensor([[2.0, 0.0, 0.0]], dtype=torch.float64))
    before = torch.det(points[0])
    after = torch.det(image[0])
    assert torch.sign(before) == torch.sign(after)
    assert after == pytest.approx(8 * float(before))


def test_camera_from_torso_recovers_a_known_camera():
    keypoints_3d = torch.randn(2, NUM_KEYPOINTS, 3)
    cam = torch.tensor([[300.0, 120.0, 80.0], [55.0, -4.0, 9.0]])
    detected = torch.cat([project(keypoints_3d, cam), torch.ones(2, NUM_KEYPOINTS, 1)], dim=-1)
    assert torch.allclose(camera_from_torso(detected, keypoints_3d, TORSO_INDICES), cam, rtol=1e-4, atol=1e-3)
