"""Identities across frames (`bodymesh.tracking`) on synthetic keypoint tracks."""

import numpy as np
import pytest

from bodymesh.keypoints import NUM_KEYPOINTS
from bodymesh.tracking import PersonTracker, box_iou, colour_signature, keypoint_box


def skeleton(x: float, y: float = 300.0, height: float = 200.0, seed: int = 0) -> np.ndarray:
    """`(K, 3)`: a fixed person-like spread of keypoints centred at `(x, y)`, confidence 0.9."""
    layout = np.random.default_rng(seed).uniform(-0.5, 0.5, size=(NUM_KEYPOINTS, 2)) * [0.4 * height, height]
    return np.concatenate([layout + [x, y], np.full((NUM_KEYPOINTS, 1), 0.9)], axis=1)


def swapping_people(frames: int = 40, hidden: range = range(17, 24), seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Per frame, `{"a": keypoints, "b": keypoints}` of two people walking past each other
    (a left to right, b right to left, 10 px of noise-free motion a frame, 2 px jitter); b is
    behind a (not detected) on the frames of `hidden`."""
    rng = np.random.default_rng(seed)
    people = []
    for t in range(frames):
        frame = {"a": skeleton(100 + 10 * t, seed=1), "b": skeleton(500 - 10 * t, seed=2)}
        if t in hidden:
            del frame["b"]
        for keypoints in frame.values():
            keypoints[:, :2] += rng.normal(0, 2, size=(NUM_KEYPOINTS, 2))
        people.append(frame)
    return people


@pytest.mark.parametrize("shuffle", [False, True])
def test_two_people_who_swap_places_keep_their_numbers(shuffle):
    rng = np.random.default_rng(1)
    tracker = PersonTracker()
    for frame in swapping_people():
        names = list(frame)
        if shuffle:
            rng.shuffle(names)
        ids = dict(zip(names, tracker.update([frame[n] for n in names])))
        assert ids["a"] == 1  # on the left on the first frame
        if "b" in ids:
            assert ids["b"] == 2
    assert tracker.people_seen == 2


def test_a_person_hidden_for_a_second_is_recognised_when_back():
    tracker = PersonTracker()
    still = skeleton(200, seed=3)
    assert tracker.update([still, skeleton(600, seed=4)]) == [1, 2]
    for _ in range(30):  # person 1 hidden for 30 frames
        assert tracker.update([skeleton(600, seed=4)]) == [2]
    assert tracker.update([skeleton(205, seed=3), skeleton(600, seed=4)]) == [1, 2]
    assert tracker.update([skeleton(900, seed=5), skeleton(205, seed=3), skeleton(600, seed=4)]) == [3, 1, 2]  # a newcomer


def test_a_track_lost_for_longer_than_max_lost_is_forgotten():
    tracker = PersonTracker()
    tracker.config.max_lost = 5
    tracker.update([skeleton(200)])
    for _ in range(6):
        tracker.update([])
    assert tracker.update([skeleton(200)]) == [2]


def test_people_numbered_left_to_right_on_their_first_frame():
    tracker = PersonTracker()
    assert tracker.update([skeleton(700, seed=1), skeleton(100, seed=2), skeleton(400, seed=3)]) == [3, 1, 2]


def test_appearance_tells_apart_two_people_who_meet_and_turn_back():
    """They walk to the same spot and go back where they came from: positions alone cannot say
    who is who after the meeting (the velocity points the wrong way); their colours can."""
    rng = np.random.default_rng(0)
    red, blue = np.array([1.0, 0, 0, 0]), np.array([0, 0, 0, 1.0])
    tracker = PersonTracker()
    path = [300 - 20 * abs(10 - t) for t in range(21)]  # 100 -> 300 -> 100
    for t, x in enumerate(path):
        a, b = skeleton(x, seed=1), skeleton(600 - x, seed=2)
        visible = [(a, red, 1)] + ([(b, blue, 2)] if t not in range(8, 13) else [])  # b hidden at the meeting
        order = rng.permutation(len(visible))
        ids = tracker.update([visible[i][0] for i in order], [visible[i][1] for i in order])
        assert ids == [visible[i][2] for i in order]


def test_helpers():
    keypoints = np.array([[10, 20, 0.9], [30, 60, 0.8], [500, 500, 0.1]])
    assert keypoint_box(keypoints).tolist() == [10, 20, 30, 60]
    assert box_iou(np.array([0, 0, 10, 10]), np.array([5, 0, 15, 10])) == pytest.approx(1 / 3)
    image = np.zeros((4, 4, 3), np.uint8)
    image[:, :2] = (250, 0, 0)
    mask = np.zeros((4, 4), np.float32)
    mask[:, :2] = 1
    signature = colour_signature(image, mask)
    assert signature.shape == (64,) and signature[48] == pytest.approx(1.0)  # all red: bin (3, 0, 0)


def _person(x0: float, x1: float, bottom: float, size: tuple[int, int] = (100, 100)):
    from bodymesh.detect import Detection

    mask = np.zeros(size, np.float32)
    mask[int(bottom) - 40 : int(bottom), int(x0) : int(x1)] = 1.0
    keypoints = np.array([[x0, bottom - 40, 0.9], [x1, bottom - 1, 0.9]] + [[0, 0, 0.0]] * (NUM_KEYPOINTS - 2), np.float32)
    return Detection(keypoints, mask)


def test_the_others_split_into_in_front_and_behind():
    from bodymesh.follow import in_front, other_people

    followed = _person(20, 50, 80)
    near, far, aside = _person(40, 70, 95), _person(30, 60, 60), _person(80, 95, 99)
    assert in_front(followed, near) and not in_front(followed, far) and not in_front(followed, aside)  # aside: no overlap
    others = other_people(followed, [near, far, aside], own=followed.mask)
    assert others.front[90, 45] == 1 and others.front[70, 45] == 0  # near's pixels, not where the followed one is surer
    assert others.behind[50, 45] == 1 and others.behind[97, 90] == 1
    assert other_people(None, [near]).front is None and other_people(None, [near]).behind is not None
