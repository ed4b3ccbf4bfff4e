"""Flow composition end to end: warping a synthetic textured body, the Imitator on rendered inputs."""

import numpy as np
import pytest
import torch

from bodymesh.body_model import zero_shape
from bodymesh.camera import project, to_image_space
from bodymesh.detect import BlazePoseDetector
from bodymesh.keypoints import FLIP_PERMUTATION, person_height
from mimic.core.bundles import SourceBundle
from mimic.core.tensors import to_image
from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.media.images import read_image
from mimic.media.video_read import VideoReader
from mimic.networks.metrics import pck
from mimic.pipeline.crop import CropBox
from mimic.pipeline.imitator import Imitator, Subject
from mimic.tasks.demo import dance_pose, driver_motion
from mimic.training.synthetic_person import procedural_background, procedural_texture, render_person

SIZE = 256


def test_crop_box_moves_cameras_keypoints_and_pixels_together():
    image = np.zeros((300, 200, 3), dtype=np.uint8)
    image[149:152, 99:102] = 255  # a dot centred on pixel (row 150, col 100): u = 100.5, v = 150.5
    box = CropBox.around((50, 100, 150, 200), margin=0.25)
    crop = box.crop(image, 64)
    row, col = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
    keypoint = box.keypoints(np.array([[100.5, 150.5, 1.0]]), 64)[0]
    assert abs(keypoint[0] - (col + 0.5)) <= 1.0 and abs(keypoint[1] - (row + 0.5)) <= 1.0
    cam = torch.tensor([10.0, 100.5, 150.5])  # the origin lands on the dot
    moved = box.camera(cam, 64)
    assert torch.allclose(moved[1:], torch.tensor(keypoint[:2], dtype=torch.float32), atol=1e-4)
    assert float(moved[0]) == pytest.approx(10.0 * 64 / box.side)


def test_paste_puts_a_crop_back_where_it_came_from():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(120, 90, 3), dtype=np.uint8)
    box = CropBox(20.0, 30.0, 60.0)  # inside the image, scale 1: exact
    back = box.paste(box.crop(image, 60), np.zeros_like(image))
    assert np.array_equal(back[30:90, 20:80], image[30:90, 20:80])
    assert not back[:30].any() and not back[90:].any()
    edge = CropBox(-10.0, -10.0, 40.0)  # partly outside: clipped
    assert edge.paste(np.full((20, 20, 3), 7, np.uint8), image)[:30, :30].max() == 7


def _render(body, pose, cam, texture, background):
    return render_person(body, pose, zero_shape(body), cam, texture, background, SIZE, SIZE, shading=False)


def test_warping_a_textured_body_to_a_new_pose_matches_rendering_it(anny_body):
    """Pose A rendered, warped to pose B through the flow, against pose B rendered directly:
    on pixels the source sees, mean error < 0.05 and 90% of pixels within 0.15 (of [-1, 1]);
    the rest sit on the texture's sharp stripe edges, which any resampling blurs."""
    texture = procedural_texture(anny_body, seed=3)
    background = procedural_background(SIZE, SIZE, seed=3)
    cam = torch.tensor([[120.0, 128.0, 136.0]])
    pose_a, pose_b = dance_pose(anny_body, 0.0), dance_pose(anny_body, 0.3)
    with torch.no_grad():
        image_a, mask_a = _render(anny_body, pose_a, cam, texture, background)
        image_b, _ = _render(anny_body, pose_b, cam, texture, background)
        verts_a = to_image_space(anny_body(pose_a, zero_shape(anny_body)).vertices, cam)
        imitator = Imitator(anny_body, WarpOnlyGenerator(feather=0.0))
        fragments, correspondence, parts = imitator.maps(verts_a)
        bundle = SourceBundle(image_a, mask_a, verts_a, fragments, background, texture, correspondence, parts, torch.ones(1, 23, 3))
        subject = Subject(bundle, [], zero_shape(anny_body)[0], anny_body)
        target = imitator.target(subject, pose_b[0], cam[0], background)
        generated = imitator.generator.generate(bundle, target)
    seen = target.weights[0] > 0.99
    seen = seen & (torch.nn.functional.max_pool2d((~seen).float()[None], 3, 1, 1)[0] == 0)  # not at a seam
    assert int(seen.sum()) > 2000
    error = (generated - image_b).abs().mean(1)[0][seen]
    assert float(error.mean()) < 0.05
    assert float((error < 0.15).float().mean()) > 0.9
    # where the source does not see the body, the texture fills in: no background shows through
    hidden = (target.fragments.face_id[0] >= 0) & (target.weights.sum(0) == 0)
    if hidden.any():
        assert float((generated - background).abs().mean(1)[0][hidden].mean()) > 0.05


def _truth_pck(detected: np.ndarray, truth: np.ndarray) -> float:
    """PCK@0.1 height of BlazePose's keypoints `(K, 3)` on a generated frame against the true
    keypoints `(K, 2)` of the driver's pose, read with BlazePose's labels or with left and right
    swapped, whichever fits: on a synthetic person facing the camera BlazePose swaps the sides
    in about half the frames (seen on these frames: 0.29 as labelled, 1.0 swapped), which says
    nothing of the pose drawn."""
    truth = np.concatenate((truth, np.ones((len(truth), 1))), axis=1)[:17]
    threshold = 0.1 * person_height(truth)
    return max(pck(candidate[:17], truth, threshold) for candidate in (detected, detected[list(FLIP_PERMUTATION)]))


@pytest.mark.slow
def test_imitator_makes_the_subject_take_the_drivers_pose(anny_body, demo_inputs):
    """BlazePose on each generated frame against the driver's true pose (the demo driver is
    rendered from known poses): the subject takes that pose in every frame."""
    source, driver = demo_inputs
    # With the default smoother, whose window is in seconds: 1 frame either side at this driver's
    # 10 frames/s. A window of 2 frames (what 24 frames/s drivers get) averaged away the knee
    # that frame 7 alone raises (PCK 0.53 there, 0.94 without smoothing).
    imitator = Imitator(anny_body, WarpOnlyGenerator())
    subject = imitator.prepare([read_image(source)])
    assert subject.bundle.images.shape == (1, 3, SIZE, SIZE)
    assert subject.bundle.texture.shape == (1, 3, 256, 256)
    scores = []
    with VideoReader(driver) as frames, BlazePoseDetector() as judge:
        for index, result in enumerate(imitator.imitate(subject, frames, frames.info.rate)):
            assert result.image.shape == (SIZE, SIZE, 3) and result.found and not result.several_people
            made = judge.detect(result.image)
            assert made is not None  # a person is there
            with torch.no_grad():
                pose, cam = driver_motion(anny_body, index, 10)
                truth = project(anny_body.keypoints(pose, zero_shape(anny_body)), cam)[0].numpy()
            scores.append(_truth_pck(made.keypoints, result.box.keypoints(truth, SIZE)))
    assert len(scores) == 10 and min(scores) >= 0.7 and np.mean(scores) > 0.85, np.round(scores, 2)


def test_source_without_a_person_is_refused(anny_body):
    from mimic.errors import NoPersonError

    imitator = Imitator(anny_body, WarpOnlyGenerator())
    with pytest.raises(NoPersonError, match="source photo 1"):
        imitator.prepare([np.full((128, 96, 3), 90, dtype=np.uint8)])


@pytest.mark.slow
def test_with_two_people_the_larger_one_is_followed_and_reported(anny_body, demo_inputs):
    """A driver of two synthetic people: BlazePose takes the more prominent (larger) one, the
    pipeline keeps following it and says that there were several."""
    height, width = 320, 480
    background = procedural_background(height, width, seed=5)
    frames = []
    with torch.no_grad():
        for step in range(3):
            pose = dance_pose(anny_body, 0.05 * step)
            near, _ = render_person(anny_body, pose, zero_shape(anny_body), torch.tensor([[130.0, 130.0, 170.0]]),
                                    procedural_texture(anny_body, seed=6), background, height, width)
            both, _ = render_person(anny_body, pose, zero_shape(anny_body), torch.tensor([[75.0, 370.0, 190.0]]),
                                    procedural_texture(anny_body, seed=7), near, height, width)
            frames.append(to_image(both))
    imitator = Imitator(anny_body, WarpOnlyGenerator())
    subject = imitator.prepare([read_image(demo_inputs[0])])
    results = list(imitator.imitate(subject, frames))
    assert all(r.several_people for r in results)
    box = results[0].box
    assert abs((box.x0 + box.side / 2) - 130.0) < 40  # centred on the larger person, on the left
