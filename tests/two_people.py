"""A synthetic driver with two people (two textured bodies from `mimic.training.synthetic_person`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bodymesh.body_model import BodyModel, zero_shape
from mimic.core.tensors import to_image
from mimic.media.video_write import VideoWriter
from mimic.tasks.demo import dance_pose, standing_camera
from mimic.training.synthetic_person import procedural_background, procedural_texture, render_person


def two_people_frames(
    body: BodyModel, frames: int, height: int = 320, width: int = 480, travel: float = 0.0
) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """`frames` images `(height, width, 3)` uint8 RGB of two dancers, each with its true mask
    `{"left": (H, W) bool, "right": ...}` (where each is visible). Person "left" starts on the
    left, dances a loop; "right" starts on the right, half a loop out of phase, a little nearer
    (lower, larger) and drawn in front. `travel`: each walks this fraction of the width towards
    the other over the clip (0.5: they pass each other and end where the other began)."""
    shape = zero_shape(body, device=body.faces.device)
    textures = {"left": procedural_texture(body, seed=3), "right": procedural_texture(body, seed=4)}
    backdrop = procedural_background(height, width, seed=5)
    base = standing_camera(body, height, width)[0]
    out = []
    with torch.no_grad():
        for index in range(frames):
            phase = index / max(frames - 1, 1)
            shift = phase * travel * width
            cams = {
                "left": base.new_tensor([0.75 * base[0], 0.25 * width + shift, base[2] - 0.02 * height]),
                "right": base.new_tensor([0.8 * base[0], 0.75 * width - shift, base[2] + 0.03 * height]),
            }
            image, masks = backdrop, {}
            for name, offset in (("left", 0.0), ("right", 0.5)):
                pose = dance_pose(body, phase + offset)
                image, mask = render_person(body, pose, shape, cams[name][None], textures[name], image, height, width)
                masks[name] = mask[0, 0].cpu().numpy() > 0.5
            masks["left"] &= ~masks["right"]
            out.append((to_image(image), masks))
    return out


def write_two_people_driver(body: BodyModel, path: Path, frames: int = 12, fps: int = 12, travel: float = 0.0) -> list[dict[str, np.ndarray]]:
    """Writes `two_people_frames` as a video at `path`; returns the masks of each frame."""
    masks = []
    with VideoWriter(path, fps) as writer:
        for image, visible in two_people_frames(body, frames, travel=travel):
            writer.write(image)
            masks.append(visible)
    return masks
