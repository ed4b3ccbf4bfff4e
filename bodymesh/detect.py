"""2D keypoints and the person mask, from BlazePose (mediapipe, shipped in its wheel, offline).

The detector is an interface (`PersonDetector`); `BlazePoseDetector` is the one shipped. Its 33
landmarks map onto the project's keypoint order (`bodymesh.keypoints`); BlazePose has no small
toe, so those two keypoints always have confidence 0.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from bodymesh.keypoints import KEYPOINT_NAMES, NUM_KEYPOINTS, TORSO_INDICES
from bodymesh.quiet import native_stderr_silenced

# BlazePose landmark index of each project keypoint (-1: BlazePose has none).
BLAZEPOSE_INDEX: dict[str, int] = {
    "nose": 0,
    "left_eye": 2,
    "right_eye": 5,
    "left_ear": 7,
    "right_ear": 8,
    "left_shoulder": 11,
    "right_shoulder": 12,
    "left_elbow": 13,
    "right_elbow": 14,
    "left_wrist": 15,
    "right_wrist": 16,
    "left_hip": 23,
    "right_hip": 24,
    "left_knee": 25,
    "right_knee": 26,
    "left_ankle": 27,
    "right_ankle": 28,
    "left_big_toe": 31,
    "left_small_toe": -1,
    "left_heel": 29,
    "right_big_toe": 32,
    "right_small_toe": -1,
    "right_heel": 30,
}
_BLAZEPOSE_ORDER = np.array([BLAZEPOSE_INDEX[name] for name in KEYPOINT_NAMES])


@dataclass
class Detection:
    """One person in one image.

    keypoints: `(K, 3)` pixels (x right, y down) + confidence in [0, 1], project order.
    mask: `(H, W)` float32 person probability in [0, 1], or None when the detector gives none.
    """

    keypoints: np.ndarray
    mask: np.ndarray | None

    def bbox(self, min_confidence: float = 0.3) -> tuple[float, float, float, float]:
        """`(x0, y0, x1, y1)` pixels around the confident keypoints and the mask (> 0.5)."""
        points = self.keypoints[self.keypoints[:, 2] >= min_confidence, :2]
        if self.mask is not None:
            inside = self.mask > 0.5
            xs, ys = np.flatnonzero(inside.any(0)), np.flatnonzero(inside.any(1))  # a full-frame nonzero() costs 8 ms at 1080p
            if len(xs):
                points = np.concatenate([points, [[xs[0], ys[0]], [xs[-1] + 1, ys[-1] + 1]]])
        return (float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max()))


class PersonDetector(Protocol):
    """Finds one person per image: keypoints in the project order and a person mask."""

    def detect(self, image: np.ndarray) -> Detection | None:
        """`image (H, W, 3) uint8 RGB` -> the person, or None when there is none."""
        ...

    def close(self) -> None: ...


def blazepose_to_keypoints(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """BlazePose landmarks `(33, 3)` (x, y normalised to [0, 1], visibility) -> `(K, 3)` pixels
    + confidence in the project order (confidence 0 where BlazePose has no such point)."""
    if landmarks.shape != (33, 3):
        raise ValueError(f"BlazePose landmarks must be (33, 3), got {landmarks.shape}")
    keypoints = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float32)
    present = _BLAZEPOSE_ORDER >= 0
    picked = landmarks[_BLAZEPOSE_ORDER[present]]
    keypoints[present, 0] = picked[:, 0] * width
    keypoints[present, 1] = picked[:, 1] * height
    keypoints[present, 2] = np.clip(picked[:, 2], 0.0, 1.0)
    return keypoints


def mask_support(mask: np.ndarray, keypoints: np.ndarray) -> float:
    """Mean of `mask (H, W)` in [0, 1] at `keypoints (N, 2+)` pixels (clamped into the image)."""
    height, width = mask.shape
    x = np.clip(keypoints[:, 0], 0, width - 1).astype(int)
    y = np.clip(keypoints[:, 1], 0, height - 1).astype(int)
    return float(mask[y, x].mean())


def detection_input(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """`image (H, W, 3) uint8 RGB` shrunk (area) to at most `max_side` pixels on its longest
    side (None: as it is), and the scale applied; ValueError for anything but such an image."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    scale = 1.0 if max_side is None else min(1.0, max_side / max(height, width))
    if scale < 1.0:
        image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return image, scale


class QuietNativeDetector:
    """What the BlazePose detectors share: native stderr silenced from construction until the
    first image has gone through (TFLite prints banners from its threads until then), `close()`
    and `with`. Subclasses call `_silence()` first in `__init__`, `_end_quiet()` after their first
    image, and give `_close_model()`."""

    def _silence(self) -> None:
        self._quiet: contextlib.ExitStack | None = contextlib.ExitStack()
        self._quiet.enter_context(native_stderr_silenced())

    def _end_quiet(self) -> None:
        if self._quiet is not None:
            self._quiet.close()
            self._quiet = None

    def _close_model(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._end_quiet()
        self._close_model()

    def __enter__(self) -> "QuietNativeDetector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlazePoseDetector(QuietNativeDetector):
    """BlazePose full (`model_complexity=1`) with its segmentation mask.

    Args:
        video: tracking mode (landmarks of frame t seed frame t+1, smoothed); False: every
            image is detected on its own (photos).
        min_detection_confidence: BlazePose's person-detector threshold.
        min_torso_confidence: a detection whose torso keypoints (shoulders, hips) are on average
            less confident than this counts as no person.
        min_mask_support: so does one whose torso keypoints lie on the person mask less than
            this on average (mask values there, in [0, 1]): in tracking mode BlazePose carries a
            person who left into the empty scene for frames, confidently (torso 0.42-0.74
            against 0.91-1.0 for people in the shared media).
        max_side: images larger than this (longest side, pixels) are shrunk before detection
            and the results scaled back (BlazePose works at 256 pixels inside, so a 1080p
            frame only costs time); None: full resolution.
    """

    def __init__(
        self,
        video: bool = False,
        min_detection_confidence: float = 0.5,
        min_torso_confidence: float = 0.3,
        max_side: int | None = None,
        min_mask_support: float = 0.8,
    ) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")
            import mediapipe as mp  # heavy import, deferred until a detector is made

        self.min_torso_confidence = min_torso_confidence
        self.min_mask_support = min_mask_support
        self.max_side = max_side
        # TFLite and absl print banners while the graph starts, from worker threads, until the
        # first image has gone through: stderr stays silenced until then.
        self._silence()
        try:
            self._pose = mp.solutions.pose.Pose(
                static_image_mode=not video,
                model_complexity=1,
                smooth_landmarks=video,
                enable_segmentation=True,
                smooth_segmentation=video,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=0.5,
            )
        except BaseException:
            self._end_quiet()
            raise

    def detect(self, image: np.ndarray) -> Detection | None:
        """`image (H, W, 3) uint8 RGB` -> the person, or None when BlazePose finds none."""
        shrunk, scale = detection_input(image, self.max_side)
        height, width = image.shape[:2]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")
            try:
                result = self._pose.process(np.ascontiguousarray(shrunk))
            finally:
                self._end_quiet()
        if result.pose_landmarks is None:
            return None
        landmarks = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float32)
        keypoints = blazepose_to_keypoints(landmarks, width, height)
        if keypoints[list(TORSO_INDICES), 2].mean() < self.min_torso_confidence:
            return None
        mask = None
        if result.segmentation_mask is not None:
            mask = np.clip(result.segmentation_mask, 0.0, 1.0).astype(np.float32)
            if scale < 1.0:
                mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
            if mask_support(mask, keypoints[list(TORSO_INDICES)]) < self.min_mask_support:
                return None
        return Detection(keypoints=keypoints, mask=mask)

    def _close_model(self) -> None:
        self._pose.close()


def another_person(detector: PersonDetector, image: np.ndarray, found: Detection, margin: float = 0.1) -> bool:
    """Whether `image (H, W, 3)` uint8 RGB holds a person besides `found`: the found person's box
    (grown by `margin` of its size) is painted over with the image's mean colour and the image is
    searched again. Single-person detectors (BlazePose) report only one person per image; this
    tells the caller that it chose one of several."""
    x0, y0, x1, y1 = found.bbox()
    grow_x, grow_y = margin * (x1 - x0), margin * (y1 - y0)
    height, width = image.shape[:2]
    left, top = max(int(x0 - grow_x), 0), max(int(y0 - grow_y), 0)
    right, bottom = min(int(x1 + grow_x) + 1, width), min(int(y1 + grow_y) + 1, height)
    hidden = image.copy()
    hidden[top:bottom, left:right] = image.reshape(-1, 3).mean(0).astype(np.uint8)
    return detector.detect(hidden) is not None
