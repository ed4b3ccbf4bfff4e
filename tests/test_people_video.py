"""Several people in the driver: numbers kept through a crossing, `person` chooses whom to
follow, the others stay as they are, and whoever stands in front stays in front."""

from pathlib import Path

import cv2
import numpy as np
import pytest

import mimic
from bodymesh.detect_people import PeopleDetector
from bodymesh.follow import TrackedPeople
from bodymesh.pose_bundle import pose_bundle
from mimic.core.tensors import to_image
from mimic.media.video_read import VideoReader
from mimic.training.synthetic_person import procedural_background
from tests.conftest import cache_dir, shared_file
from tests.two_people import two_people_frames, write_two_people_driver


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return pose_bundle(cache_dir() or tmp_path_factory.mktemp("cache"))


def _centre(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


@pytest.mark.slow
@pytest.mark.parametrize("frame_rate", [None, 12.0])  # each frame on its own; MediaPipe's tracking
def test_two_rendered_people_who_swap_places_keep_their_numbers(anny_body, bundle, frame_rate):
    frames = two_people_frames(anny_body, 12, travel=0.5)
    people = TrackedPeople(PeopleDetector(bundle, frame_rate=frame_rate))
    both = 0
    for image, masks in frames:
        found = people.track(image)
        both += len(found) == 2
        for number, detection in found.items():
            x0, _, x1, _ = detection.bbox()
            nearest = min(masks, key=lambda name: abs(_centre(masks[name]) - (x0 + x1) / 2) if masks[name].any() else np.inf)
            assert nearest == {1: "left", 2: "right"}[number]
    people.close()
    assert both >= 6  # side by side at the start and the end (hidden behind each other in between)
    assert people.tracker.people_seen == 2
    assert _centre(frames[-1][1]["left"]) > _centre(frames[-1][1]["right"])  # they did swap


@pytest.mark.slow
def test_in_tracking_a_person_who_enters_later_is_found_at_the_next_rescan(anny_body, bundle):
    """The right dancer is painted out of the first 5 frames (the known backdrop over their
    dilated mask): tracking finds one person there, and both from the rescan at frame 8 on."""
    frames = two_people_frames(anny_body, 12)
    backdrop = to_image(procedural_background(*frames[0][0].shape[:2], seed=5))
    counts = []
    with PeopleDetector(bundle, frame_rate=12.0, rescan_every=4) as detector:
        for index, (image, masks) in enumerate(frames):
            if index < 5:
                hidden = cv2.dilate(masks["right"].astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
                image = np.where(hidden[..., None], backdrop, image)
            counts.append(len(detector.detect_all(image)))
    assert counts[:5] == [1] * 5 and counts[8:] == [2] * 4, counts


def _changed(out: Path, driver: Path, masks: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Mean absolute difference, per person, between the output frames and the driver's, over
    each person's own pixels."""
    outputs, inputs = list(VideoReader(out)), list(VideoReader(driver))
    assert len(outputs) == len(inputs)
    return {
        name: float(np.mean([np.abs(o.astype(int) - i.astype(int))[m[name]].mean() for o, i, m in zip(outputs, inputs, masks)]))
        for name in ("left", "right")
    }


@pytest.mark.slow
@pytest.mark.parametrize("person, replaced", [(1, "left"), (2, "right"), (None, "right")])  # None: the largest
def test_person_chooses_whom_to_follow_and_the_other_stays(tmp_path, anny_body, person, replaced):
    driver = tmp_path / "two.mp4"
    masks = write_two_people_driver(anny_body, driver, frames=6)
    out = tmp_path / "out.mp4"
    summary = mimic.imitate_video(shared_file("images", "pexels_man_wall.jpg"), driver, out, full_frame=True, person=person, cache_dir=cache_dir())
    assert summary.several_people
    changed = _changed(out, driver, masks)
    kept = "left" if replaced == "right" else "right"
    assert changed[replaced] > 20 and changed[kept] < 6, changed  # 6: what re-encoding the striped shirt costs


@pytest.mark.slow
def test_the_person_in_front_stays_in_front(tmp_path, anny_body):
    """The left dancer (followed) walks behind the right one: the right one's pixels stay the driver's."""
    driver = tmp_path / "behind.mp4"
    masks = write_two_people_driver(anny_body, driver, frames=10, travel=0.3)
    out = tmp_path / "out.mp4"
    mimic.imitate_video(shared_file("images", "pexels_man_wall.jpg"), driver, out, full_frame=True, person=1, cache_dir=cache_dir())
    outputs, inputs = list(VideoReader(out)), list(VideoReader(driver))
    overlapping = 0
    for o, i, m in zip(outputs, inputs, masks):
        front = m["right"]
        left_columns = np.zeros_like(front)
        xs = np.nonzero(m["left"])[1]
        if not len(xs):
            continue
        left_columns[:, xs.min() : xs.max() + 1] = True
        region = front & left_columns  # the front dancer where the followed one is behind them
        if region.sum() < 200:
            continue
        overlapping += 1
        assert np.abs(o.astype(int) - i.astype(int))[region].mean() < 10  # codec noise ~5; drawn over: ~40
    assert overlapping >= 3


def test_a_person_number_the_driver_does_not_have_is_one_clear_error(tmp_path, anny_body):
    driver = tmp_path / "two.mp4"
    write_two_people_driver(anny_body, driver, frames=2)
    with pytest.raises(mimic.NoPersonError, match="2 people: there is no person 5"):
        mimic.imitate_video(shared_file("images", "pexels_man_wall.jpg"), driver, tmp_path / "out.mp4", person=5, cache_dir=cache_dir())
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.slow
def test_fit_writes_every_persons_track(tmp_path, anny_body):
    driver = tmp_path / "two.mp4"
    masks = write_two_people_driver(anny_body, driver, frames=4)
    summary = mimic.fit(driver, tmp_path / "fit", cache_dir=cache_dir())
    assert summary.frames == 4
    fit = np.load(tmp_path / "fit" / "fit.npz")
    assert fit["people"].tolist() == [1, 2] and int(fit["person"]) == 2  # the largest is the top-level track
    joints = len(anny_body.joint_names)
    assert fit["people_pose"].shape == (2, 4, joints, 3) and fit["people_cam"].shape == (2, 4, 3)
    assert fit["people_found"].sum() >= 6 and fit["people_shape"].shape[0] == 2
    np.testing.assert_array_equal(fit["people_pose"][1], fit["pose"])
    for index, name in ((0, "left"), (1, "right")):
        found = fit["people_found"][index]
        x = fit["people_projected"][index][found][..., 0].mean()
        assert abs(x - np.mean([_centre(m[name]) for m, f in zip(masks, found) if f])) < 20


@pytest.mark.slow
def test_person_all_replaces_each_person_by_their_own_subject(tmp_path, anny_body):
    driver = tmp_path / "two.mp4"
    masks = write_two_people_driver(anny_body, driver, frames=4)
    out = tmp_path / "group.mp4"
    photos = [shared_file("images", "pexels_man_wall.jpg"), shared_file("images", "ryota_apose.png")]
    summary = mimic.imitate_group(photos, driver, out, cache_dir=cache_dir(), smooth=0)
    assert summary.frames == 4
    changed = _changed(out, driver, masks)
    assert changed["left"] > 20 and changed["right"] > 20, changed  # both replaced
    outputs = list(VideoReader(out))
    # each by their own subject: the colours on the two people differ as the two photos' people do
    left = np.mean([o[m["left"]].mean(0) for o, m in zip(outputs, masks)], axis=0)
    right = np.mean([o[m["right"]].mean(0) for o, m in zip(outputs, masks)], axis=0)
    assert np.abs(left - right).max() > 15, (left, right)


def test_person_option_errors_are_one_line(tmp_path, anny_body):
    from tests.cli_helpers import assert_one_line_error, run_mimic

    driver = tmp_path / "two.mp4"
    write_two_people_driver(anny_body, driver, frames=2)
    photo = str(shared_file("images", "pexels_man_wall.jpg"))
    out = str(tmp_path / "out.mp4")
    assert_one_line_error(run_mimic("video", "--source", photo, "--driver", str(driver), "--out", out, "--person", "0"), "--person")
    assert_one_line_error(run_mimic("video", "--source", photo, "--driver", str(driver), "--out", out, "--person", "all", "--side-by-side"), "--person all")
    assert not (tmp_path / "out.mp4").exists()
