"""`mimic pose`: a sentence makes the person in a photo take a pose; bad input fails cleanly."""

from __future__ import annotations

import pytest

from conftest import shared_file
from mimic.media import read_image
from mimic.text2pose.posing import SHIPPED
from test_cli_fit import run_mimic


@pytest.fixture(scope="module", autouse=True)
def _built_model(request):
    """Build the body model in this process first, so no subprocess pays for the build."""
    request.getfixturevalue("anny_body")


def test_empty_text_is_one_line_error_and_writes_nothing(tmp_path):
    out = tmp_path / "pose.png"
    result = run_mimic("pose", "--text", "   ", "--source", str(tmp_path / "missing.jpg"), "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("mimic: error: --text is empty")
    assert not out.exists()


def test_unreadable_checkpoint_is_one_line_error(tmp_path):
    photo = shared_file("images", "ryota_apose.png")
    result = run_mimic("pose", "--text", "arms up", "--source", str(photo), "--checkpoint", str(tmp_path), "--out", str(tmp_path / "p.png"))
    assert result.returncode == 1
    assert "is not a mimic checkpoint" in result.stderr
    assert not (tmp_path / "p.png").exists()


@pytest.mark.slow
def test_pose_on_a_shared_photo_with_samples(tmp_path):
    if not (SHIPPED / "weights.safetensors").exists():
        pytest.fail(f"the shipped text2pose model is missing from {SHIPPED}")
    photo = shared_file("images", "ryota_apose.png")
    out = tmp_path / "arms.png"
    result = run_mimic("pose", "--text", "a man raising both arms above his head", "--source", str(photo),
                       "--out", str(out), "--samples", "2", "--size", "128")
    assert result.returncode == 0, result.stderr
    image = read_image(out)
    assert image.shape == (256, 256, 3)  # skeletons above results, two samples side by side
    assert image[128:].std() > 10  # the rendered people are not blank
    assert "2 poses for 'a man raising both arms above his head'" in result.stdout
