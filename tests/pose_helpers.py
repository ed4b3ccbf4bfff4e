"""Keypoints of known poses for the text-to-pose tests."""

import math

import torch

from bodymesh.body_model import zero_pose, zero_shape
from mimic.text2pose.data import Gestures, _rotation_between, image_keypoints


def raised_arms(anny_body, gestures: Gestures, elevation: float) -> torch.Tensor:
    """Heatmap-frame keypoints of the rest body with both upper arms raised to `elevation`
    (0: hanging, pi / 2: horizontal, pi: straight up) in the frontal plane."""
    pose = zero_pose(anny_body)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        target = torch.tensor([[sign * math.sin(elevation), -math.cos(elevation), 0.0]])
        joint = gestures.ARM_JOINTS[side]
        pose[:, gestures.index[joint]] = gestures.local(joint, _rotation_between(gestures.rest_arm[side][None], target))
    with torch.no_grad():
        return image_keypoints(anny_body.keypoints(pose, zero_shape(anny_body)))[0]
