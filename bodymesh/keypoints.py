"""The project's one keypoint order: COCO-17 followed by the six COCO-WholeBody foot points.

Every detector, body model and fitter speaks this order. Keypoints are pixels `(K, 2)` plus a
confidence in `[0, 1]`, stacked as `(K, 3)`.
"""

from __future__ import annotations

import numpy as np

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_big_toe",
    "left_small_toe",
    "left_heel",
    "right_big_toe",
    "right_small_toe",
    "right_heel",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
KEYPOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

# Bones of the stick figure, as pairs of keypoint names (for drawing and limb masks).
SKELETON: tuple[tuple[str, str], ...] = (
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("left_ankle", "left_heel"),
    ("left_ankle", "left_big_toe"),
    ("right_ankle", "right_heel"),
    ("right_ankle", "right_big_toe"),
    ("nose", "left_eye"),
    ("nose", "right_eye"),
    ("left_eye", "left_ear"),
    ("right_eye", "right_ear"),
)
SKELETON_INDICES: tuple[tuple[int, int], ...] = tuple(
    (KEYPOINT_INDEX[a], KEYPOINT_INDEX[b]) for a, b in SKELETON
)


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[len("left_") :]
    if name.startswith("right_"):
        return "left_" + name[len("right_") :]
    return name


# FLIP_PERMUTATION[i] is the index of keypoint i's mirror twin (left <-> right).
FLIP_PERMUTATION: tuple[int, ...] = tuple(KEYPOINT_INDEX[_mirror_name(n)] for n in KEYPOINT_NAMES)

TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
TORSO_INDICES: tuple[int, ...] = tuple(KEYPOINT_INDEX[n] for n in TORSO)


def person_height(keypoints: np.ndarray, min_confidence: float = 0.3) -> float:
    """Height of the person in pixels: the extent of the confident keypoints along y.

    Args:
        keypoints: `(K, 3)` pixels + confidence.
    Returns:
        Height in pixels (0 when fewer than two keypoints are confident). The head top lies
        above the eyes, so this slightly underestimates the full height; it is a scale, not a
        measurement.
    """
    confident = keypoints[keypoints[:, 2] >= min_confidence]
    if len(confident) < 2:
        return 0.0
    return float(confident[:, 1].max() - confident[:, 1].min())
