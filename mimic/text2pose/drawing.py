"""Stick figures of keypoints, for `mimic pose --samples` and for looking at generated poses."""

from __future__ import annotations

import cv2
import numpy as np

from bodymesh.keypoints import KEYPOINT_NAMES, SKELETON_INDICES

LEFT_COLOUR = (230, 120, 40)  # the person's left side, RGB
RIGHT_COLOUR = (40, 140, 230)
CENTRE_COLOUR = (60, 180, 90)


def _colour(first: int, second: int) -> tuple[int, int, int]:
    names = KEYPOINT_NAMES[first] + KEYPOINT_NAMES[second]
    return LEFT_COLOUR if "left" in names and "right" not in names else RIGHT_COLOUR if "right" in names and "left" not in names else CENTRE_COLOUR


def draw_skeleton(image: np.ndarray, keypoints: np.ndarray, min_confidence: float = 0.2, thickness: int = 2) -> np.ndarray:
    """`image (H, W, 3)` uint8 RGB with the skeleton of `keypoints (K, 3)` (pixels + confidence)
    drawn over it (bones between keypoints of at least `min_confidence`; the person's left
    orange, right blue); a copy."""
    out = np.ascontiguousarray(image.copy())
    for first, second in SKELETON_INDICES:
        a, b = keypoints[first], keypoints[second]
        if a[2] >= min_confidence and b[2] >= min_confidence:
            cv2.line(out, (int(round(a[0])), int(round(a[1]))), (int(round(b[0])), int(round(b[1]))), _colour(first, second), thickness, cv2.LINE_AA)
    for x, y, confidence in keypoints:
        if confidence >= min_confidence:
            cv2.circle(out, (int(round(x)), int(round(y))), thickness + 1, (250, 250, 250), -1, cv2.LINE_AA)
    return out


def skeleton_image(keypoints: np.ndarray, size: int, frame: int = 64) -> np.ndarray:
    """`(size, size, 3)` uint8: the skeleton of `keypoints (K, 3)` given in a `frame`-pixel
    square, scaled up to `size` pixels, on a dark background."""
    scaled = keypoints.copy()
    scaled[:, :2] *= size / frame
    return draw_skeleton(np.full((size, size, 3), 24, np.uint8), scaled, thickness=max(1, size // 100))
