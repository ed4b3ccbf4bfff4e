"""The public Python API: everything here is imported from `mimic` itself."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import mimic


def test_public_names_are_listed_and_load() -> None:
    for name in mimic.__all__:
        assert getattr(mimic, name) is not None
    assert "warp" in mimic.GENERATOR_NAMES and "anny" in mimic.BODY_MODELS
    with pytest.raises(AttributeError):
        mimic.not_a_public_name  # noqa: B018


def test_import_mimic_loads_no_heavy_module() -> None:
    code = "import sys, mimic; print(any(m in sys.modules for m in ('torch', 'mediapipe', 'mimic.pipeline.imitator')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_short_imitation_with_the_public_api(anny_body, demo_inputs, tmp_path) -> None:
    """`mimic.imitate_video` in one call (three panels), then the same pipeline by hand:
    `Imitator.prepare` and `Imitator.imitate` with a generator loaded by name."""
    source, driver = demo_inputs
    out = tmp_path / "api.mp4"
    summary = mimic.imitate_video(source, driver, out, size=64, max_frames=3, panels=("source", "driver", "result"))
    assert isinstance(summary, mimic.VideoSummary) and summary.frames == 3
    with mimic.VideoReader(out) as reader:
        frames = list(reader)
    assert len(frames) == 3 and frames[0].shape == (64, 3 * 64, 3)

    imitator = mimic.Imitator(anny_body, mimic.load_generator("warp"), mimic.ImitatorConfig(size=64))
    subject = imitator.prepare([mimic.read_image(source)])
    with mimic.VideoReader(driver) as reader:
        results = [frame for frame, _ in zip(imitator.imitate(subject, reader), range(2))]
    assert [r.image.shape for r in results] == [(64, 64, 3)] * 2 and all(r.found for r in results)
    assert np.abs(results[1].image.astype(int) - results[0].image.astype(int)).mean() > 0


def test_api_errors_are_mimic_errors(tmp_path) -> None:
    with pytest.raises(mimic.InputError):
        mimic.imitate_video(tmp_path / "missing.jpg", tmp_path / "missing.mp4", tmp_path / "out.mp4")
