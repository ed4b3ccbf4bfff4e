"""Several people per image (`bodymesh.detect_people`) from the bundle built out of mediapipe's wheel."""

import zipfile

import cv2
import numpy as np
import pytest

from bodymesh.detect import BlazePoseDetector
from bodymesh.detect_people import PeopleDetector, box_area
from bodymesh.pose_bundle import DETECTOR_NAME, LANDMARKER_NAME, bundle_path, pose_bundle
from mimic.media.images import read_image
from tests.conftest import shared_file


def _height(image: np.ndarray, rows: int) -> np.ndarray:
    return cv2.resize(image, (round(image.shape[1] * rows / image.shape[0]), rows), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return pose_bundle(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def detector(bundle):
    with PeopleDetector(bundle) as detector:
        yield detector


def test_the_bundle_is_built_once_and_rebuilt_when_damaged(tmp_path):
    path = pose_bundle(tmp_path)
    assert path == bundle_path(tmp_path) and [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {DETECTOR_NAME, LANDMARKER_NAME}
    stamp = path.stat().st_mtime_ns
    assert pose_bundle(tmp_path).stat().st_mtime_ns == stamp  # reused
    path.write_bytes(path.read_bytes()[:1000])
    assert zipfile.is_zipfile(pose_bundle(tmp_path))


def test_two_people_side_by_side_are_both_found(detector):
    left = _height(read_image(shared_file("images", "iper_apose_009.jpg")), 480)
    right = _height(read_image(shared_file("images", "ryota_apose.png")), 480)
    image = np.ascontiguousarray(np.concatenate([left, right], axis=1))
    people = detector.detect_all(image)
    assert len(people) == 2
    a1, b0 = people[0].bbox()[2], people[1].bbox()[0]
    assert a1 <= left.shape[1] + 5 and b0 >= left.shape[1] - 5  # left to right, each on its own half
    for person in people:
        assert person.mask.shape == image.shape[:2]
    assert box_area(detector.detect(image)) == max(map(box_area, people))


def test_one_person_as_the_single_person_detector_finds_them(detector):
    image = read_image(shared_file("images", "pexels_man_wall.jpg"))
    with BlazePoseDetector(video=False) as single:
        reference = single.detect(image)
    found = detector.detect(image)
    confident = (reference.keypoints[:, 2] > 0.5) & (found.keypoints[:, 2] > 0.5)
    error = np.linalg.norm(found.keypoints[confident, :2] - reference.keypoints[confident, :2], axis=1)
    assert error.max() < 0.01 * max(image.shape[:2])
    assert np.abs(found.mask - reference.mask).mean() < 0.02


def test_no_person_gives_none(detector):
    assert detector.detect_all(np.full((240, 320, 3), 127, np.uint8)) == []
    assert detector.detect(np.full((240, 320, 3), 127, np.uint8)) is None
