"""`mimic video`, `mimic demo` and `mimic eval` end to end, and their one-line errors."""

import json

import numpy as np
import pytest

from mimic.media.images import write_image
from mimic.media.video_read import VideoReader, probe_video
from mimic.networks.metrics import pck, psnr, ssim
from tests.cli_helpers import assert_one_line_error, run_mimic


@pytest.fixture(scope="module", autouse=True)
def _built_model(request):
    request.getfixturevalue("anny_body")


@pytest.mark.slow
def test_video_writes_the_imitation_at_the_drivers_rate(tmp_path, demo_inputs):
    source, driver = demo_inputs
    out = tmp_path / "result.mp4"
    result = run_mimic("video", "--source", str(source), "--driver", str(driver), "--out", str(out), "--side-by-side", "--max-frames", "6")
    assert result.returncode == 0, result.stderr
    assert "6 frames" in result.stdout and str(out) in result.stdout
    info = probe_video(out)
    assert (info.width, info.height, info.num_frames) == (512, 256, 6)
    assert abs(info.fps - probe_video(driver).fps) < 1e-3
    frames = list(VideoReader(out))
    assert np.abs(frames[0][:, 256:].astype(int) - frames[-1][:, 256:].astype(int)).mean() > 1  # it moves


@pytest.mark.slow
def test_video_full_frame_output_has_the_drivers_size(tmp_path, demo_inputs):
    source, driver = demo_inputs
    out = tmp_path / "full.mp4"
    result = run_mimic("video", "--source", str(source), "--driver", str(driver), "--out", str(out), "--full-frame", "--max-frames", "3")
    assert result.returncode == 0, result.stderr
    info, source_info = probe_video(out), probe_video(driver)
    assert (info.width, info.height, info.num_frames) == (source_info.width, source_info.height, 3)


def test_video_errors_are_one_line_and_leave_no_output(tmp_path, demo_inputs):
    source, driver = demo_inputs
    out = tmp_path / "result.mp4"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    assert_one_line_error(run_mimic("video", "--source", str(source), "--driver", str(broken), "--out", str(out)), "broken.mp4")
    empty = tmp_path / "empty.png"
    write_image(empty, np.full((120, 90, 3), 200, dtype=np.uint8))
    assert_one_line_error(run_mimic("video", "--source", str(empty), "--driver", str(driver), "--out", str(out)), "no person")
    assert_one_line_error(
        run_mimic("video", "--source", str(source), "--driver", str(driver), "--out", str(tmp_path / "no" / "such" / "dir.mp4")),
        "dir.mp4",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4", "empty.png"]


@pytest.mark.slow
def test_demo_renders_its_inputs_and_the_result(tmp_path):
    result = run_mimic("demo", "--out", str(tmp_path), "--frames", "6")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "inputs" / "source.png").exists()
    info = probe_video(tmp_path / "demo.mp4")
    assert info.num_frames == 6 and info.width == 2 * info.height


@pytest.mark.slow
def test_eval_prints_and_saves_the_self_imitation_scores(tmp_path, demo_inputs):
    _, driver = demo_inputs
    scores = tmp_path / "scores.json"
    result = run_mimic("eval", "--video", str(driver), "--json", str(scores), "--max-frames", "6")
    assert result.returncode == 0, result.stderr
    assert "| SSIM | LPIPS | PSNR (dB) | mask-SSIM | PCK@0.05 |" in result.stdout
    (row,) = json.loads(scores.read_text())
    assert row["frames"] == 5 and row["generator"] == "warp"
    # PCK is BlazePose on the generated mannequin against BlazePose on the driver's: over 5-9
    # frames it moves between 0.41 and 0.59 with small changes of the fit
    assert 0.3 < row["ssim"] <= 1 and 0 <= row["lpips"] < 0.5 and row["psnr"] > 12 and row["pck"] > 0.3


def test_metrics_on_known_images():
    import torch

    image = torch.rand(1, 3, 32, 32) * 2 - 1
    noisy = (image + 0.2 * torch.randn_like(image)).clamp(-1, 1)
    assert float(ssim(image, image)[0]) == pytest.approx(1.0, abs=1e-6)
    noisier = (image + 0.6 * torch.randn_like(image)).clamp(-1, 1)
    assert float(ssim(noisier, image)[0]) < float(ssim(noisy, image)[0]) < 0.99
    box = torch.zeros(1, 32, 32, dtype=torch.bool)
    box[:, 8:24, 8:24] = True
    half = image.clone()
    half[..., :, :2] = -1  # damage outside the box and its windows (radius 5) only
    assert float(ssim(half, image, box)[0]) == pytest.approx(1.0, abs=1e-6)
    assert float(psnr(noisy, image)[0]) < float(psnr((image + 0.01).clamp(-1, 1), image)[0])
    reference = np.array([[10, 10, 1.0], [50, 50, 1.0], [0, 0, 0.0]])
    assert pck(reference, reference, 1.0) == 1.0
    shifted = reference + np.array([3.0, 0.0, 0.0])
    assert pck(shifted, reference, 2.0) == 0.0 and pck(shifted, reference, 4.0) == 1.0
