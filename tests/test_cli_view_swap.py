"""`mimic view` and `mimic swap` end to end on the synthetic demo inputs, and their one-line errors."""

import numpy as np
import pytest

from mimic.media.images import read_image, write_image
from mimic.media.video_read import VideoReader, probe_video
from tests.cli_helpers import assert_one_line_error, run_mimic


@pytest.fixture(scope="module", autouse=True)
def _built_model(request):
    request.getfixturevalue("anny_body")


@pytest.mark.slow
def test_view_writes_one_image_per_angle_and_a_turntable(tmp_path, demo_inputs):
    source, _ = demo_inputs
    out = tmp_path / "views"
    result = run_mimic("view", "--source", str(source), "--angles", "0,180", "--size", "128", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["view_000.png", "view_180.png"]
    front, back = read_image(out / "view_000.png"), read_image(out / "view_180.png")
    assert front.shape == back.shape == (128, 128, 3)
    # Turned: not the same picture (the clothes' back mirrors their front, the head shows hair, not the face).
    assert np.abs(front.astype(int) - back.astype(int)).mean() > 0.5
    spin = tmp_path / "spin.mp4"
    result = run_mimic("view", "--source", str(source), "--turntable", "6", "--size", "64", "--fps", "12", "--out", str(spin))
    assert result.returncode == 0, result.stderr
    info = probe_video(spin)
    assert (info.width, info.height, info.num_frames) == (64, 64, 6) and abs(info.fps - 12) < 1e-3
    frames = list(VideoReader(spin))
    # Side views (60 and 120 degrees) are other pictures than the front.
    assert min(np.abs(frames[0].astype(int) - frames[i].astype(int)).mean() for i in (1, 2)) > 2


@pytest.mark.slow
def test_swap_writes_the_dressed_person_and_the_dance(tmp_path, demo_inputs):
    source, driver = demo_inputs
    reference = tmp_path / "reference.png"
    first = next(iter(VideoReader(driver)))  # the demo's dancer wears other clothes
    write_image(reference, first)
    out = tmp_path / "swap.png"
    result = run_mimic("swap", "--source", str(source), "--reference", str(reference), "--parts", "upper,lower", "--size", "128", "--out", str(out))
    assert result.returncode == 0, result.stderr
    swapped = read_image(out)
    assert swapped.shape == (128, 128, 3)
    video = tmp_path / "dance.mp4"
    result = run_mimic(
        "swap", "--source", str(source), "--reference", str(reference), "--parts", "full", "--driver", str(driver),
        "--max-frames", "3", "--size", "64", "--out", str(video),
    )
    assert result.returncode == 0, result.stderr
    assert "3 frames" in result.stdout
    assert probe_video(video).num_frames == 3


@pytest.mark.slow  # five subprocesses that each load the body model
def test_view_and_swap_errors_are_one_line_and_leave_no_output(tmp_path):
    """Bad options fail before any photo is fitted; the reference is checked before the source."""
    empty = tmp_path / "empty.png"
    write_image(empty, np.full((120, 90, 3), 200, dtype=np.uint8))
    source = empty
    views = tmp_path / "views"
    assert_one_line_error(run_mimic("view", "--source", str(source), "--angles", "0,400", "--out", str(views)), "angle 400 is out of range")
    assert_one_line_error(run_mimic("view", "--source", str(source), "--tilt", "95", "--out", str(views)), "tilt 95 is out of range")
    assert_one_line_error(run_mimic("view", "--source", str(source), "--turntable", "8", "--out", str(views)), "video file")
    assert_one_line_error(
        run_mimic("swap", "--source", str(source), "--reference", str(source), "--parts", "upper,hat", "--out", str(tmp_path / "s.png")),
        "unknown part 'hat'",
    )
    assert_one_line_error(
        run_mimic("swap", "--source", str(source), "--reference", str(empty), "--out", str(tmp_path / "s.png")),
        "no person found in reference photo 1",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.png"]
