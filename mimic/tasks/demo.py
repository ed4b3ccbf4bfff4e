"""`mimic demo`: inputs rendered from the body model itself, so the demo needs no media.

A synthetic person (procedural clothes through the UVs, a procedural background) is the source
photo; another synthetic person dancing through a few keyframes is the driver video. Both are
plain files, so the demo runs the same `mimic video` path a user's photo and video take.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from bodymesh.body_model import BodyModel, rest_vertices, zero_pose, zero_shape
from mimic.core.tensors import to_image
from mimic.media.images import write_image
from mimic.media.video_write import VideoWriter
from mimic.training.synthetic_person import procedural_background, procedural_texture, render_person

# Dance keyframes for Anny's posed bones: axis-angle in Anny's pose axes (x: the person's left,
# y: backwards, z: up). Raising an arm sideways turns it about -y (left) or +y (right).
DANCE_KEYFRAMES: tuple[dict[str, tuple[float, float, float]], ...] = (
    {"upperarm01.L": (0.0, 0.35, 0.0), "upperarm01.R": (0.0, -0.35, 0.0)},
    {"root": (0.0, 0.0, 0.6), "spine03": (0.0, 0.15, 0.0), "upperarm01.L": (0.0, -0.7, 0.0),
     "upperarm01.R": (0.0, 0.7, 0.0), "lowerarm01.L": (-0.6, 0.0, -0.5), "lowerarm01.R": (-0.6, 0.0, 0.5)},
    {"upperarm01.L": (0.0, -1.9, 0.0), "upperarm01.R": (0.0, 1.9, 0.0),
     "upperleg01.L": (-1.0, 0.0, 0.0), "lowerleg01.L": (1.3, 0.0, 0.0)},
    {"root": (0.0, 0.0, -0.6), "spine03": (0.0, -0.15, 0.0), "upperarm01.L": (0.0, -0.6, 0.0),
     "upperarm01.R": (0.0, 1.0, 0.0), "upperleg01.R": (-0.9, 0.0, 0.0), "lowerleg01.R": (1.2, 0.0, 0.0)},
)


def dance_pose(body: BodyModel, phase: float) -> torch.Tensor:
    """`(1, J, 3)` pose at `phase` in [0, 1) of one loop through DANCE_KEYFRAMES (smoothly
    eased between consecutive keyframes). Bones a body model lacks are skipped."""
    count = len(DANCE_KEYFRAMES)
    position = (phase % 1.0) * count
    index, fraction = int(position), position - int(position)
    ease = 0.5 - 0.5 * math.cos(math.pi * fraction)
    pose = zero_pose(body, device=body.faces.device)
    for keyframe, weight in ((DANCE_KEYFRAMES[index], 1 - ease), (DANCE_KEYFRAMES[(index + 1) % count], ease)):
        for bone, rotation in keyframe.items():
            if bone in body.joint_names:
                pose[0, body.joint_names.index(bone)] += weight * pose.new_tensor(rotation)
    return pose


def standing_camera(body: BodyModel, height: int, width: int, sway: float = 0.0) -> torch.Tensor:
    """A camera showing the standing body at 70% of the image height, centred (+ `sway` px)."""
    heights = rest_vertices(body)[:, 1]
    scale = 0.7 * height / float(heights.max() - heights.min())
    return torch.tensor([[scale, width / 2 + sway, height / 2 + 0.05 * height]], device=body.faces.device)


def driver_motion(body: BodyModel, index: int, frames: int, height: int = 512, width: int = 384) -> tuple[torch.Tensor, torch.Tensor]:
    """`(pose (1, J, 3), cam (1, 3))` of frame `index` of a `frames`-frame demo driver of
    `height` x `width` pixels: the ground truth of what `render_demo_inputs` draws."""
    phase = index / frames
    return dance_pose(body, phase), standing_camera(body, height, width, sway=0.08 * width * math.sin(2 * math.pi * phase))


def render_demo_inputs(body: BodyModel, folder: Path, frames: int = 48, fps: int = 24, height: int = 512, width: int = 384) -> tuple[Path, Path]:
    """Writes `source.png` (one synthetic person, standing) and `driver.mp4` (another one
    dancing, `frames` frames at `fps`) into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    source_path, driver_path = folder / "source.png", folder / "driver.mp4"
    with torch.no_grad():
        shape = zero_shape(body, device=body.faces.device)
        source_texture = procedural_texture(body, seed=1)
        source_pose = dance_pose(body, 0.0)
        image, _ = render_person(
            body, source_pose, shape, standing_camera(body, height, width), source_texture,
            procedural_background(height, width, seed=1).to(source_texture.device), height, width,
        )
        write_image(source_path, to_image(image))
        driver_texture = procedural_texture(body, seed=2)
        backdrop = procedural_background(height, width, seed=2).to(driver_texture.device)
        driver_shape = shape.clone()
        with VideoWriter(driver_path, fps) as writer:
            for index in range(frames):
                pose, cam = driver_motion(body, index, frames, height, width)
                image, _ = render_person(body, pose, driver_shape, cam, driver_texture, backdrop, height, width)
                writer.write(to_image(image))
    return source_path, driver_path
