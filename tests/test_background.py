"""Clean plates: a synthetic person on a known background removed, the canvas beyond the photo
filled without repeated edge rows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from bodymesh.body_model import zero_pose, zero_shape
from mimic.core.tensors import to_image
from mimic.pipeline.background import Backdrop, clean_plate, remove_person
from mimic.pipeline.crop import CropBox
from mimic.training.synthetic_person import procedural_background, procedural_texture, render_person
from tests.conftest import front_camera

SIZE = 256


def test_clean_plate_leaves_no_person_pixels(anny_body):
    """The mask misses the person's fringe (eroded by 1 px, as a segmenter's often does); the
    plate still shows the known background there, within a few grey levels on average, and no
    pixel keeps the person's colours."""
    with torch.no_grad():
        background = procedural_background(SIZE, SIZE, seed=4)
        texture = procedural_texture(anny_body, 128, seed=4)
        image, mask = render_person(anny_body, zero_pose(anny_body), zero_shape(anny_body), front_camera(anny_body, SIZE), texture, background, SIZE, SIZE)
    photo, truth = to_image(image), to_image(background)
    person = mask[0, 0].numpy() > 0.5
    missed = cv2.erode(person.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
    plate = clean_plate(Backdrop(photo, missed, np.ones((SIZE, SIZE), bool)))
    error = np.abs(plate.astype(int) - truth.astype(int)).max(-1)
    before = np.abs(photo.astype(int) - truth.astype(int)).max(-1)
    assert before[person].mean() > 60  # the person stands out from the background
    assert error[person].mean() < 12
    assert np.percentile(error[person], 99) < 40
    # the same mask with the old default (a thin ring, no drop) leaves the fringe in place
    thin = remove_person(photo, missed, dilation_px=0)
    assert np.abs(thin.astype(int) - truth.astype(int)).max(-1)[person].max() > 100


def test_clean_plate_takes_the_rendered_silhouette_too():
    photo = np.full((64, 64, 3), 200, np.uint8)
    photo[20:40, 20:30] = (10, 200, 10)  # a part the mask missed but the mesh covers
    silhouette = np.zeros((64, 64), bool)
    silhouette[20:40, 20:30] = True
    plate = clean_plate(Backdrop(photo, np.zeros((64, 64), np.float32), np.ones((64, 64), bool)), silhouette)
    assert np.abs(plate.astype(int) - 200).max() < 10


def test_canvas_beyond_the_photo_has_no_edge_row_streaks():
    """A crop reaching past the photo's right and bottom edges: beyond them the plate varies
    along every row and column (replicated edge pixels would be constant there)."""
    photo = to_image(procedural_background(120, 90, seed=2))
    rng = np.random.default_rng(0)
    photo = np.clip(photo.astype(int) + rng.integers(-25, 26, photo.shape), 0, 255).astype(np.uint8)  # texture
    box = CropBox(30.0, 40.0, 120.0)  # x 30..150 > 90, y 40..160 > 120
    size = 120
    inside = box.inside(photo.shape, size)
    assert inside[:80, :60].all() and not inside[:, 60:].any() and not inside[80:].any()
    empty = np.zeros(photo.shape[:2], np.float32)
    plate = clean_plate(Backdrop(box.crop(photo, size, "reflect"), box.crop(empty, size, "reflect"), inside))
    grey = plate.astype(np.float32).mean(-1)
    right, below = grey[:80, 64:], grey[84:, :60]
    assert np.median(right.std(axis=1)) > 2.0  # along each row beyond the right edge
    assert np.median(below.std(axis=0)) > 2.0  # along each column below the bottom edge
    streaks = box.crop(photo, size).astype(np.float32).mean(-1)
    assert np.median(streaks[:80, 64:].std(axis=1)) < 0.5  # what "edge" borders do
    assert np.array_equal(plate[inside], box.crop(photo, size, "reflect")[inside])  # the photo kept


def _person_near_the_right_edge() -> tuple[np.ndarray, np.ndarray]:
    """A `(120, 90, 3)` nearly flat wall (180 +- 10) with a red person 6 px from its right edge,
    and the person's `(120, 90)` mask."""
    rng = np.random.default_rng(1)
    photo = np.clip(180 + rng.integers(-10, 11, (120, 90, 3)), 0, 255).astype(np.uint8)
    photo[30:110, 70:84] = (220, 20, 20)
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[30:110, 70:84] = 1.0
    return photo, mask


def test_a_person_at_the_photos_edge_leaves_no_mirrored_ghost_beyond_it():
    """The person stands close to the photo's right edge and the crop reaches past it: beyond
    the edge the plate is the clean background mirrored, with none of the person's colour (a
    mirror of the raw photo would put a second, inpainted person there)."""
    photo, mask = _person_near_the_right_edge()
    box = CropBox(0.0, 0.0, 120.0)
    size = 120
    inside = box.inside(photo.shape, size)
    plate = clean_plate(Backdrop(box.crop(photo, size, "reflect"), box.crop(mask, size, "reflect"), inside))
    beyond = plate[:, 90:].astype(int)
    assert np.abs(beyond - 180).max() < 30, np.abs(beyond - 180).max()
    assert np.abs(plate[30:110, 70:84].astype(int) - 180).max() < 30  # the person gone inside too


def test_remove_person_fsr_and_drop():
    photo = np.full((80, 80, 3), 120, np.uint8)
    photo[20:50, 30:50] = (250, 20, 20)
    photo[50:58, 30:50] = (60, 60, 60)  # a contact shadow under the mask
    mask = np.zeros((80, 80), np.float32)
    mask[20:50, 30:50] = 1.0
    out = remove_person(photo, mask, dilation_px=1, method="fsr", below_px=10)
    assert np.abs(out.astype(int) - 120).max() < 12
    with pytest.raises(ValueError, match="method"):
        remove_person(photo, mask, method="magic")
    with pytest.raises(ValueError, match="border"):
        CropBox(0, 0, 10).crop(photo, 10, "wrap")


def test_driver_plate_over_time_shows_the_real_background_behind_a_moving_person():
    """A person walks across a background no inpainting could guess (noise): once each pixel was
    free in some kept frame, the plate there is the background itself."""
    from mimic.pipeline.background import TemporalPlate

    rng = np.random.default_rng(0)
    backdrop = rng.integers(0, 256, (96, 96, 3)).astype(np.uint8)
    plate = TemporalPlate(history=8, every=2)
    errors = []
    for step in range(24):
        frame, mask = backdrop.copy(), np.zeros((96, 96), np.float32)
        x = 5 + 3 * step
        frame[20:80, x : x + 15], mask[20:80, x : x + 15] = (255, 0, 0), 1.0
        out = plate.update(frame, mask)
        errors.append(np.abs(out.astype(int) - backdrop.astype(int))[mask > 0.5].mean())
    assert errors[0] > 40  # the first frame: only inpainting
    assert max(errors[-6:]) == 0.0  # later: the real background where the person stands
    assert np.array_equal(out[:, :3], backdrop[:, :3])


def test_fsr_failing_on_a_flat_wall_falls_back_to_diffusion():
    """FSR leaves a tall hole in a nearly flat wall near black (its unreconstructed blocks);
    the fill there is the diffusion fill instead, close to the wall."""
    photo, mask = _person_near_the_right_edge()
    out = remove_person(photo, mask, dilation_px=4, method="fsr", below_px=6)
    assert np.abs(out[26:116, 66:88].astype(int) - 180).max() < 30
