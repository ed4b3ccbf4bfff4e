"""The automatic captioner: known stick figures get the right facts and sentences that say them."""

from __future__ import annotations

import random

import pytest
import torch

from bodymesh.keypoints import FLIP_PERMUTATION, KEYPOINT_INDEX, NUM_KEYPOINTS
from mimic.text2pose.captioner import FACTS, PHRASES, body_scale, caption, describable, pose_facts

# A person facing the camera, arms hanging, in image pixels (y down); the person's left is on
# the image's right.
STANDING = {
    "nose": (50, 12), "left_eye": (52, 10), "right_eye": (48, 10), "left_ear": (54, 11), "right_ear": (46, 11),
    "left_shoulder": (60, 25), "right_shoulder": (40, 25), "left_elbow": (62, 40), "right_elbow": (38, 40),
    "left_wrist": (63, 54), "right_wrist": (37, 54), "left_hip": (56, 55), "right_hip": (44, 55),
    "left_knee": (57, 75), "right_knee": (43, 75), "left_ankle": (57, 95), "right_ankle": (43, 95),
    "left_big_toe": (58, 98), "left_small_toe": (60, 98), "left_heel": (57, 97),
    "right_big_toe": (42, 98), "right_small_toe": (40, 98), "right_heel": (43, 97),
}


def figure(**moved: tuple[float, float]) -> torch.Tensor:
    """`(K, 3)` keypoints of STANDING with some points moved, confidence 1."""
    points = {**STANDING, **moved}
    out = torch.ones(NUM_KEYPOINTS, 3)
    for name, (x, y) in points.items():
        out[KEYPOINT_INDEX[name], :2] = torch.tensor([x, y], dtype=torch.float32)
    return out


def test_standing_person_facing_the_camera():
    facts = pose_facts(figure())
    assert {"facing_camera", "standing", "arms_down"} <= facts
    assert not facts & {"knees_bent", "left_arm_raised", "right_arm_raised", "leaning_forward", "squatting"}
    assert body_scale(figure()) == pytest.approx(30.0)  # torso 30 px, thighs and shins 20 px


def test_both_hands_above_the_head():
    facts = pose_facts(figure(left_elbow=(62, 10), left_wrist=(62, -5), right_elbow=(38, 10), right_wrist=(38, -5)))
    assert {"both_hands_above_head", "both_arms_raised", "left_hand_above_head", "right_hand_above_head"} <= facts
    assert describable(facts)[0] == "both_hands_above_head"  # the stronger facts hide the implied ones
    assert "both_arms_raised" not in describable(facts)


def test_one_hand_above_the_head_is_the_persons_left():
    facts = pose_facts(figure(left_elbow=(62, 10), left_wrist=(62, -5)))
    assert "left_hand_above_head" in facts and "right_arm_raised" not in facts
    # seen from behind (the image mirrored, left and right keypoints swapped) it is still the left hand
    mirrored = figure(left_elbow=(62, 10), left_wrist=(62, -5))
    mirrored[:, 0] = 100 - mirrored[:, 0]
    facts = pose_facts(mirrored)
    assert {"facing_away", "left_hand_above_head"} <= facts
    assert "right_hand_above_head" not in facts
    flipped = mirrored[list(FLIP_PERMUTATION)]  # the mirror image of a person facing the camera
    assert {"facing_camera", "right_hand_above_head"} <= pose_facts(flipped)


def test_arms_stretched_to_the_sides():
    facts = pose_facts(figure(left_elbow=(75, 25), left_wrist=(90, 26), right_elbow=(25, 25), right_wrist=(10, 24)))
    assert {"arms_to_sides", "left_arm_to_side", "right_arm_to_side"} <= facts
    assert "arms_down" not in facts


def test_knees_bent_squat_and_leaning():
    bent = pose_facts(figure(left_knee=(66, 72), right_knee=(34, 72)))
    assert {"knees_bent", "left_knee_bent", "right_knee_bent"} <= bent and "standing" not in bent
    squat = pose_facts(figure(
        left_hip=(56, 75), right_hip=(44, 75), left_knee=(70, 72), right_knee=(30, 72),
        left_shoulder=(60, 45), right_shoulder=(40, 45), nose=(50, 32), left_eye=(52, 30), right_eye=(48, 30),
    ))
    assert "squatting" in squat
    # the upper body tilted towards the image's right: the person's left when facing the camera
    lean = figure(left_shoulder=(72, 28), right_shoulder=(52, 24), nose=(66, 14))
    assert "leaning_left" in pose_facts(lean)
    # a short torso between normal legs: bent forward towards the camera
    forward = figure(left_shoulder=(60, 45), right_shoulder=(40, 45), nose=(50, 38), left_eye=(52, 37), right_eye=(48, 37))
    assert "leaning_forward" in pose_facts(forward)


def test_leg_raised_and_legs_apart():
    assert "left_leg_raised" in pose_facts(figure(left_knee=(60, 62), left_ankle=(60, 80), left_heel=(60, 82), left_big_toe=(61, 83)))
    assert "legs_apart" in pose_facts(figure(left_knee=(65, 75), left_ankle=(75, 95), right_knee=(35, 75), right_ankle=(25, 95)))


def test_missing_keypoints_decide_nothing_about_them():
    k = figure(left_elbow=(62, 10), left_wrist=(62, -5))
    k[KEYPOINT_INDEX["left_wrist"], 2] = 0.1  # below the 0.2 threshold: absent
    assert "left_hand_above_head" not in pose_facts(k)
    k[KEYPOINT_INDEX["left_hip"], 2] = 0.0
    assert pose_facts(k) == frozenset()


def test_captions_state_their_facts_in_varied_words():
    facts = pose_facts(figure(left_elbow=(62, 10), left_wrist=(62, -5), right_elbow=(38, 10), right_wrist=(38, -5),
                              left_knee=(66, 72), right_knee=(34, 72)))
    rng = random.Random(0)
    sentences = [caption(facts, rng) for _ in range(40)]
    assert len({s.text for s in sentences}) > 20
    for sentence in sentences:
        assert sentence.facts and set(sentence.facts) <= set(describable(facts))
        assert sentence.text.startswith(("a ", "someone"))
        for fact in sentence.facts:
            options = [p.format(pos=pos) for p in PHRASES[fact] for pos in ("his", "her", "their", "its")]
            assert any(option in sentence.text for option in options)
    assert set(FACTS) == set(PHRASES)
    with pytest.raises(ValueError):
        pose_facts(torch.zeros(NUM_KEYPOINTS, 2))
