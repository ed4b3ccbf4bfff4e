"""BlazePose keypoints and person masks on the shared photos."""

import numpy as np
import pytest

from bodymesh.detect import BlazePoseDetector
from bodymesh.keypoints import KEYPOINT_INDEX, TORSO_INDICES
from mimic.media.images import read_image
from tests.conftest import SHARED_PHOTOS, shared_file


@pytest.fixture(scope="module")
def detector():
    with BlazePoseDetector(video=False) as detector:
        yield detector


@pytest.mark.parametrize("name", SHARED_PHOTOS)
def test_finds_the_person_in_every_shared_photo(detector, name):
    image = read_image(shared_file("images", name))
    detection = detector.detect(image)
    assert detection is not None
    keypoints = detection.keypoints
    assert keypoints.shape == (23, 3)
    assert (keypoints[list(TORSO_INDICES), 2] > 0.5).all()
    assert keypoints[KEYPOINT_INDEX["left_small_toe"], 2] == 0.0  # BlazePose has no small toe
    height, width = image.shape[:2]
    confident = keypoints[keypoints[:, 2] > 0.5]
    assert (confident[:, 0] >= -5).all() and (confident[:, 0] <= width + 5).all()
    # head above hips above ankles (all shared photos are of standing people)
    assert keypoints[KEYPOINT_INDEX["nose"], 1] < keypoints[KEYPOINT_INDEX["left_hip"], 1] < keypoints[KEYPOINT_INDEX["left_ankle"], 1]
    assert detection.mask is not None and detection.mask.shape == (height, width)
    x0, y0, x1, y1 = (int(v) for v in detection.bbox())
    outside = detection.mask.copy()
    outside[y0:y1, x0:x1] = 0
    assert detection.mask[y0:y1, x0:x1].mean() > 0.2  # the mask is on the person
    assert outside.mean() < 0.02  # and hardly anywhere else


def test_an_image_without_a_person_gives_none(detector):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, size=(240, 320, 3), dtype=np.uint8)
    assert detector.detect(np.full((240, 320, 3), 127, dtype=np.uint8)) is None
    assert detector.detect(noise) is None


def test_rejects_images_that_are_not_rgb_uint8(detector):
    with pytest.raises(ValueError):
        detector.detect(np.zeros((10, 10), dtype=np.uint8))
