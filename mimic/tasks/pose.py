"""`mimic pose`: a sentence -> generated keypoints -> a body fitted to them -> the person of a
source photo rendered in that pose by the pipeline's generator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bodymesh.fit import fit_keypoints
from bodymesh.keypoints import KEYPOINT_INDEX
from mimic.core.tensors import to_image
from mimic.errors import ModelFilesError, NoPersonError, OptionError
from mimic.pipeline.imitator import Imitator, Subject
from mimic.text2pose.captioner import body_scale
from mimic.text2pose.data import FRAME
from mimic.text2pose.model import Text2Pose


def load_text2pose(checkpoint: Path | None = None, device: torch.device | str = "cpu") -> Text2Pose:
    """The text-to-pose model (the heatmap WGAN, or its regression baseline, a subclass) of a `mimic train`
    checkpoint (or training output folder), or the one shipped with mimic when `checkpoint` is
    None. ModelFilesError when the folder is missing, unusable or holds another model."""
    from mimic.registry import load_model

    model = load_model(None if checkpoint is not None else "text2pose", checkpoint, device).model
    if not isinstance(model, Text2Pose):
        raise ModelFilesError(f"'{checkpoint}' holds a {model.name!r} model, not text2pose")
    return model


def place_keypoints(generated: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Generated keypoints moved into the source's canvas: scaled to the source body's size
    (`body_scale`), the hips' centre above the source's, the feet on the source's ground line.

    Args:
        generated: `(K, 3)` pixels of the 64 x 64 frame + confidence.
        source: `(K, 3)` the source person's keypoints in canvas pixels + confidence.
    Returns:
        `(K, 3)` canvas pixels + the generated confidence.
    """
    scale = body_scale(source) / max(body_scale(generated), 1e-6)
    hips = [KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]]
    ankles = [KEYPOINT_INDEX[n] for n in ("left_ankle", "right_ankle", "left_heel", "right_heel")]
    points = generated[:, :2] * scale
    shift_x = source[hips, 0].mean() - points[hips, 0].mean()
    present = generated[ankles, 2] > 0
    if present.any() and (source[ankles, 2] > 0).any():
        shift_y = source[ankles, 1][source[ankles, 2] > 0].max() - points[ankles, 1][present].max()
    else:
        shift_y = source[hips, 1].mean() - points[hips, 1].mean()
    return torch.cat((points + torch.stack((shift_x, shift_y)), generated[:, 2:]), 1)


@dataclass
class PosedPerson:
    """One result: `image (H, W, 3)` uint8 RGB, the `keypoints (K, 3)` it was fitted to (canvas
    pixels + confidence) and the keypoint error of that fit, pixels."""

    image: np.ndarray
    keypoints: np.ndarray
    fit_error: float


def plausible(keypoints: torch.Tensor) -> bool:
    """Whether generated keypoints `(K, 3)` (64 x 64 frame) can be a pose: the training poses
    fill the middle of the frame, so keypoints on its edge or heaped together are a generator
    that has not learnt (or has collapsed)."""
    present = keypoints[keypoints[:, 2] > 0, :2]
    return len(present) >= 2 and float(present.min()) >= 1 and float(present.max()) <= FRAME - 1 and body_scale(keypoints) >= 4


def interpolated_texts(start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """`(steps, D)` sentence embeddings from `start (D,)` to `end (D,)` in equal steps (the
    paper's interpolation test: poses for points between two sentences); `steps >= 2`."""
    if steps < 2:
        raise OptionError(f"--steps must be at least 2 to go from one sentence to another, got {steps}")
    weights = torch.linspace(0.0, 1.0, steps, device=start.device, dtype=start.dtype)[:, None]
    return torch.lerp(start[None], end[None], weights)


def check_text(text: str) -> str:
    """`text` stripped; OptionError when nothing is left."""
    if not text or not text.strip():
        raise OptionError('--text is empty; describe a pose, e.g. --text "a man raising both arms above his head"')
    return text.strip()


def pose_person(imitator: Imitator, subject: Subject, generated: torch.Tensor) -> PosedPerson:
    """The subject rendered in the pose of `generated (K, 3)` keypoints (64 x 64 frame):
    placed over the source person, fitted with the subject's body shape, drawn by the
    imitator's generator over the source background. NoPersonError when the keypoints are no
    plausible pose (on the frame's edge, collapsed) or lack a torso to fit."""
    if not plausible(generated):
        raise NoPersonError("the text-to-pose model gave no plausible pose (keypoints on the frame's edge or collapsed); "
                            "try another --seed, or a better trained --checkpoint")
    source = subject.bundle.keypoints[0]
    placed = place_keypoints(generated.to(source.device), source)
    try:
        fit = fit_keypoints(imitator.body, placed, config=imitator.config.fit, shape=subject.shape)
    except NoPersonError:
        raise NoPersonError("the generated pose has too few body keypoints to fit; try another --seed or sentence") from None
    target = imitator.target(subject, fit.pose, fit.cam, subject.bundle.background)
    with torch.no_grad():
        image = to_image(imitator.generator.generate(subject.bundle, target))
    return PosedPerson(image, placed.cpu().numpy(), fit.keypoint_error(min_confidence=0.2))
