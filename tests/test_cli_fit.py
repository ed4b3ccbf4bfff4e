"""`mimic fit` end to end: outputs on real media and one-line errors on bad inputs."""

import json

import numpy as np
import pytest

from mimic.media.images import read_image, write_image
from mimic.media.video_read import probe_video
from tests.cli_helpers import assert_one_line_error, run_mimic
from tests.conftest import shared_file


@pytest.fixture(scope="module", autouse=True)
def _built_model(request):
    """Build the body model in this process first, so no subprocess pays for the build."""
    request.getfixturevalue("anny_body")


@pytest.mark.slow
def test_fit_photo_writes_parameters_summary_and_overlay(tmp_path):
    photo = shared_file("images", "pexels_man_wall.jpg")
    out = tmp_path / "out"
    result = run_mimic("fit", str(photo), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "fitted 1 frame" in result.stdout
    fit = np.load(out / "fit.npz")
    assert fit["pose"].shape == (1, 20, 3) and fit["cam"].shape == (1, 3) and fit["shape"].shape == (6,)
    assert fit["keypoints"].shape == (1, 23, 3) and fit["found"].tolist() == [True]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["body_model"] == "anny" and summary["keypoint_error_height"] < 0.05
    overlay = read_image(out / "overlay.png")
    assert overlay.shape == read_image(photo).shape
    assert not any(p.name.startswith(".partial") for p in out.iterdir())


@pytest.mark.slow
def test_fit_video_streams_an_overlay_video(tmp_path):
    video = shared_file("videos", "mmhuman3d_dribble.mp4")
    out = tmp_path / "out"
    result = run_mimic("fit", str(video), "--out", str(out), "--max-frames", "6")
    assert result.returncode == 0, result.stderr
    info = probe_video(out / "overlay.mp4")
    source = probe_video(video)
    assert info.num_frames == 6 and (info.width, info.height) == (source.width, source.height)
    assert abs(info.fps - source.fps) < 1e-3
    fit = np.load(out / "fit.npz")
    assert fit["pose"].shape == (6, 20, 3) and fit["found"].all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 6 and summary["frames_without_person"] == 0




def test_unreadable_file_is_one_line_error_and_writes_nothing(tmp_path):
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"this is not a jpeg")
    out = tmp_path / "out"
    assert_one_line_error(run_mimic("fit", str(bad), "--out", str(out)), "photo.jpg")
    assert not out.exists()
    assert_one_line_error(run_mimic("fit", str(tmp_path / "missing.png"), "--out", str(out)), "missing.png")


def test_image_without_a_person_is_one_line_error_and_writes_nothing(tmp_path):
    empty = tmp_path / "wall.png"
    write_image(empty, np.full((200, 300, 3), 180, dtype=np.uint8))
    out = tmp_path / "out"
    assert_one_line_error(run_mimic("fit", str(empty), "--out", str(out)), "no person")
    assert not out.exists() or not any(out.iterdir())


def test_missing_smpl_files_say_where_to_get_and_put_them(tmp_path):
    photo = tmp_path / "p.png"
    write_image(photo, np.zeros((8, 8, 3), dtype=np.uint8))
    result = run_mimic("fit", str(photo), "--body-model", "smpl", "--model-dir", str(tmp_path / "nowhere"))
    assert_one_line_error(result, "smpl.is.tue.mpg.de", str(tmp_path / "nowhere"))


def test_unknown_body_model_is_a_clear_error(tmp_path):
    photo = tmp_path / "p.png"
    write_image(photo, np.zeros((8, 8, 3), dtype=np.uint8))
    assert_one_line_error(run_mimic("fit", str(photo), "--body-model", "mannequin"), "mannequin")
