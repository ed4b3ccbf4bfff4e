"""Novel views: the fitted subject turned about its vertical axis (and optionally tilted).

The source mesh (the first source's pose and camera) is rotated about the body's vertical axis
through its pelvis (the model frame's origin: y up), then optionally tilted about the
horizontal image axis through the pelvis, and seen by the first source's camera. The flow
from the sources to the turned mesh says where each surface point was seen; what no source saw
(the back, from a front photo) comes from the generator (the warp-only one reads the subject's
UV texture there). With several sources (front and back photos), each pixel takes its texture
from the source that sees its point best (`Imitator.target`).

Angles are degrees. Positive `angle` turns the person to their left (counter-clockwise seen
from above): at 90 the camera sees their right side, at 180 their back. Positive `tilt` tips
their top towards the camera (seen from above).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from mimic.core.progress import track
from mimic.core.tensors import to_image
from mimic.errors import OptionError
from mimic.media.files import staged_folder
from mimic.media.images import write_image
from mimic.media.video_write import VideoWriter
from mimic.pipeline.imitator import Imitator, Subject

__all__ = [
    "MAX_ANGLE", "MAX_TILT", "view_rotation", "parse_angles", "turntable_angles", "render_view", "render_views",
    "view_file_name", "write_views", "write_turntable",
]

MAX_ANGLE = 360.0
"""Turn angles are accepted in [-MAX_ANGLE, MAX_ANGLE] degrees."""
MAX_TILT = 90.0
"""Tilts are accepted in [-MAX_TILT, MAX_TILT] degrees."""


def view_rotation(angle: float, tilt: float = 0.0) -> torch.Tensor:
    """`(3, 3)` float32 rotation of model-frame points: a turn of `angle` degrees about the
    vertical axis y (counter-clockwise seen from +y), then a tilt of `tilt` degrees about x
    (positive: +y towards +z, the camera). Raises OptionError for angles out of range."""
    _check_range("angle", angle, MAX_ANGLE)
    _check_range("tilt", tilt, MAX_TILT)
    a, t = math.radians(angle), math.radians(tilt)
    turn = torch.tensor([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    tip = torch.tensor([[1.0, 0.0, 0.0], [0.0, math.cos(t), -math.sin(t)], [0.0, math.sin(t), math.cos(t)]])
    return tip @ turn


def _check_range(name: str, value: float, limit: float) -> None:
    if not math.isfinite(value) or abs(value) > limit:
        raise OptionError(f"{name} {value:g} is out of range: give degrees from {-limit:g} to {limit:g}")


def parse_angles(text: str) -> list[float]:
    """Comma-separated degrees (`"0,45,-90"`) -> floats, each checked against MAX_ANGLE.
    Raises OptionError for an empty list, a non-number or an angle out of range."""
    try:
        angles = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise OptionError(f"--angles must be comma-separated degrees such as 0,45,90,180; got {text!r}") from None
    if not angles:
        raise OptionError(f"--angles must be comma-separated degrees such as 0,45,90,180; got {text!r}")
    for angle in angles:
        _check_range("angle", angle, MAX_ANGLE)
    return angles


def turntable_angles(frames: int) -> list[float]:
    """`frames` angles evenly over one full turn, from 0 (the source view), degrees."""
    if frames < 2:
        raise OptionError(f"a turntable needs at least 2 frames, got {frames}")
    return [360.0 * k / frames for k in range(frames)]


def render_view(
    imitator: Imitator, subject: Subject, angle: float, tilt: float = 0.0, seconds: dict[str, float] | None = None
) -> torch.Tensor:
    """`(1, 3, size, size)` in [-1, 1]: the subject in its first source's pose, turned by
    `angle` and tilted by `tilt` (degrees), over its first source's background, drawn by the
    imitator's generator. Adds the seconds of each stage (rasterize, flow, generate) to
    `seconds` when given."""
    fit = subject.fits[0]
    rotation = view_rotation(angle, tilt).to(imitator.device)
    target = imitator.target(subject, fit.pose, fit.cam, subject.bundle.background, seconds, rotation)
    clock = time.perf_counter()
    with torch.no_grad():
        image = imitator.generator.generate(subject.bundle, target)
    if seconds is not None:
        seconds["generate"] = time.perf_counter() - clock
    return image


def render_views(
    imitator: Imitator, subject: Subject, angles: Sequence[float], tilt: float = 0.0, progress: bool = False
) -> Iterator[np.ndarray]:
    """The views of `angles` (degrees) as `(size, size, 3)` uint8 RGB, one at a time."""
    for angle in angles:
        _check_range("angle", angle, MAX_ANGLE)
    _check_range("tilt", tilt, MAX_TILT)
    for angle in track(angles, "rendering views", total=len(angles), enabled=progress):
        yield to_image(render_view(imitator, subject, angle, tilt))


def view_file_name(angle: float) -> str:
    """`view_045.png`, `view_-90.png`, `view_022.5.png`: the file of one angle's view."""
    number = f"{angle:03.0f}" if float(angle).is_integer() else f"{angle:05.1f}"
    return f"view_{number}.png"


def write_views(
    imitator: Imitator, photos: Sequence[np.ndarray], angles: Sequence[float], out_dir: Path, tilt: float = 0.0, progress: bool = False
) -> list[Path]:
    """Writes one PNG per angle (`view_file_name`) into `out_dir` (created when missing), all
    or none; returns their paths."""
    names = [view_file_name(a) for a in angles]
    if len(set(names)) != len(names):
        raise OptionError("--angles lists the same angle twice")
    subject = imitator.prepare(photos)
    with staged_folder(out_dir) as staging:
        for name, image in zip(names, render_views(imitator, subject, angles, tilt, progress)):
            write_image(staging / name, image)
    return [Path(out_dir) / name for name in names]


def write_turntable(
    imitator: Imitator, photos: Sequence[np.ndarray], frames: int, out: Path, fps: float = 24.0, tilt: float = 0.0, progress: bool = False
) -> None:
    """Writes a video of one full turn of the subject (`frames` views from 0 degrees) at `fps`
    to `out` (H.264; the file appears only when complete, and a bad `out` fails before the
    photos are fitted)."""
    angles = turntable_angles(frames)
    _check_range("tilt", tilt, MAX_TILT)
    with VideoWriter(out, fps) as writer:
        subject = imitator.prepare(photos)
        for image in render_views(imitator, subject, angles, tilt, progress):
            writer.write(image)
