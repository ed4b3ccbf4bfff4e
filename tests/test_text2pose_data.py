"""Text-to-pose data from the body model: gestures do what they say, keypoints fill the frame,
and generated keypoints are placed over the source person."""

from __future__ import annotations

import math

import torch

from bodymesh.keypoints import KEYPOINT_INDEX, NUM_KEYPOINTS
from mimic.tasks.pose import place_keypoints
from mimic.text2pose.captioner import body_scale, pose_facts
from mimic.text2pose.data import FRAME, PERSON_SIZE, Gestures, cached_embeddings, sampled_keypoints
from tests.pose_helpers import raised_arms


def test_gestures_point_the_arms_where_asked(anny_body):
    gestures = Gestures(anny_body)
    for matrix in gestures.world.values():  # the local -> world maps are rotations
        assert torch.allclose(matrix @ matrix.T, torch.eye(3), atol=1e-4)
    up = raised_arms(anny_body, gestures, math.pi - 0.1)
    assert {"both_hands_above_head", "facing_camera"} <= pose_facts(up)
    out = raised_arms(anny_body, gestures, math.pi / 2)
    assert "arms_to_sides" in pose_facts(out)
    shoulder, elbow = out[KEYPOINT_INDEX["left_shoulder"]], out[KEYPOINT_INDEX["left_elbow"]]
    assert abs(float(elbow[1] - shoulder[1])) < 0.1 * float(elbow[0] - shoulder[0])  # horizontal, outwards


def test_sampled_poses_fill_the_frame_and_vary(anny_body):
    keypoints = sampled_keypoints(anny_body, 48, seed=3)
    assert keypoints.shape == (48, NUM_KEYPOINTS, 3)
    assert torch.equal(keypoints, sampled_keypoints(anny_body, 48, seed=3))  # deterministic
    extent = (keypoints[..., :2].amax(1) - keypoints[..., :2].amin(1)).amax(-1)
    assert torch.allclose(extent, torch.full((48,), PERSON_SIZE), atol=1e-3)
    assert keypoints[..., :2].min() >= 0 and keypoints[..., :2].max() <= FRAME
    facts = set().union(*(pose_facts(k) for k in keypoints))
    assert {"left_arm_raised", "right_knee_bent", "legs_apart", "standing"} <= facts


def test_generated_keypoints_are_placed_on_the_source_person():
    source = torch.zeros(NUM_KEYPOINTS, 3)
    generated = torch.zeros(NUM_KEYPOINTS, 3)
    points = {"left_shoulder": (6, 2), "right_shoulder": (2, 2), "left_hip": (5, 6), "right_hip": (3, 6),
              "left_knee": (5, 8), "right_knee": (3, 8), "left_ankle": (5, 10), "right_ankle": (3, 10)}
    for name, (x, y) in points.items():
        generated[KEYPOINT_INDEX[name]] = torch.tensor([x, y, 0.9])
        source[KEYPOINT_INDEX[name]] = torch.tensor([100 + 10 * x, 50 + 10 * y, 1.0])
    placed = place_keypoints(generated, source)
    assert torch.allclose(placed[:, :2][generated[:, 2] > 0], source[:, :2][generated[:, 2] > 0], atol=1e-4)
    assert torch.equal(placed[:, 2], generated[:, 2])  # the generated confidence is kept
    assert body_scale(placed) == torch.tensor(body_scale(source)).item()


class CountingEncoder:
    """A stand-in sentence encoder: `(N, 4)` unit vectors from the sentences' lengths
    (`length_vector`); counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, sentences: list[str]) -> torch.Tensor:
        self.calls += 1
        return torch.stack([length_vector(s) for s in sentences])


def length_vector(sentence: str) -> torch.Tensor:
    """`(4,)` a unit vector that tells sentences of different lengths apart."""
    angle = torch.tensor(float(len(sentence)))
    return torch.stack((angle.cos(), angle.sin(), torch.tensor(0.0), torch.tensor(0.0)))


def test_embeddings_are_cached_by_the_sentence_list(tmp_path):
    encoder = CountingEncoder()
    first = cached_embeddings(["arms up", "knees bent"], encoder, tmp_path)
    again = cached_embeddings(["arms up", "knees bent"], encoder, tmp_path)
    assert encoder.calls == 1 and torch.equal(first, again)  # the second start reads the file
    other = cached_embeddings(["arms up", "leaning left"], encoder, tmp_path)
    assert encoder.calls == 2 and torch.allclose(other[1], length_vector("leaning left"))  # another text set, another file
    assert len(list(tmp_path.glob("clause-embeddings-*.pt"))) == 2 and not list(tmp_path.glob("*.partial"))
