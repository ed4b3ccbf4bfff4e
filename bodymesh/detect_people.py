"""Every person in an image: BlazePose through MediaPipe Tasks' `PoseLandmarker` (several poses,
a segmentation mask each), offline, from the bundle `bodymesh.pose_bundle` builds out of
mediapipe's wheel.

`PeopleDetector` is a `bodymesh.detect.PersonDetector` (its `detect` gives the largest person)
with `detect_all` besides. Photos are detected each on its own. Given a video's frame rate, it
tracks: MediaPipe's video mode seeds each person's landmarks from the previous frame and skips
the person detector while it tracks as many people as it may find (on the shared dance: 20 ms a
frame instead of 33, and half the landmarks' frame-to-frame acceleration; a quarter less on the
dribble); a full detection of
every frame `rescan_every` counts the people, and when it finds more than are tracked, tracking
starts again for that many, so people who enter later are found within that many frames.
Identities across frames are `bodymesh.tracking`'s job.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np

from bodymesh.detect import Detection, QuietNativeDetector, blazepose_to_keypoints, detection_input, mask_support
from bodymesh.keypoints import TORSO_INDICES


def box_area(detection: Detection) -> float:
    """Area, pixels², of `detection.bbox()`."""
    x0, y0, x1, y1 = detection.bbox()
    return (x1 - x0) * (y1 - y0)


class PeopleDetector(QuietNativeDetector):
    """BlazePose full for several people, with a person mask each.

    Args:
        bundle: the Tasks bundle (`bodymesh.pose_bundle.pose_bundle(cache_dir)`).
        max_people: at most this many people per image.
        min_detection_confidence: the person detector's threshold.
        min_torso_confidence, min_mask_support: a person whose torso keypoints (shoulders,
            hips) are on average less confident than this, or lie on their own mask less than
            this on average, is dropped (as in `bodymesh.detect.BlazePoseDetector`).
        max_side: images larger than this (longest side, pixels) are shrunk before detection
            and the results scaled back; None: full resolution.
        frame_rate: the frames/s of a video whose frames come in order (tracking, see the
            module docstring); None: every image on its own.
        rescan_every: in tracking, every this many frames all people are detected afresh.
    Native stderr is silenced from now until the first image has gone through (TFLite prints
    banners from its threads until then), as `bodymesh.detect.BlazePoseDetector` does.
    """

    def __init__(
        self,
        bundle: Path,
        max_people: int = 6,
        min_detection_confidence: float = 0.5,
        min_torso_confidence: float = 0.3,
        min_mask_support: float = 0.8,
        max_side: int | None = None,
        frame_rate: float | None = None,
        rescan_every: int = 12,
    ) -> None:
        if max_people < 1:
            raise ValueError(f"max_people must be at least 1, got {max_people}")
        if frame_rate is not None and not frame_rate > 0:
            raise ValueError(f"frame_rate must be positive, got {frame_rate}")
        if rescan_every < 1:
            raise ValueError(f"rescan_every must be at least 1, got {rescan_every}")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")
            import mediapipe as mp  # heavy import, deferred until a detector is made
            from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        self._vision = vision
        self.min_torso_confidence = min_torso_confidence
        self.min_mask_support = min_mask_support
        self.max_side = max_side
        self.frame_rate = frame_rate
        self.rescan_every = rescan_every
        self._options = dict(
            base_options=BaseOptions(model_asset_path=str(bundle)),
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_detection_confidence,
            output_segmentation_masks=True,
        )
        self._frame = 0
        self._tracker = None  # the video-mode landmarker, made at the first frame with people
        self._tracked = 0  # how many people it may track
        self._stamp = -1  # the last frame's timestamp given to it, ms
        self._silence()
        try:
            self._landmarker = vision.PoseLandmarker.create_from_options(self._landmarker_options(vision.RunningMode.IMAGE, max_people))
        except BaseException:
            self._end_quiet()
            raise

    def _landmarker_options(self, mode, num_poses: int):
        return self._vision.PoseLandmarkerOptions(running_mode=mode, num_poses=num_poses, **self._options)

    def _landmarks(self, image):
        """MediaPipe's result for the next `image` (an `mp.Image`): detected on its own, or in
        tracking, by the video-mode landmarker (made again, for more people, when the rescan
        of every `rescan_every`-th frame finds more than it tracks)."""
        if self.frame_rate is None:
            return self._landmarker.detect(image)
        index, self._frame = self._frame, self._frame + 1
        if self._tracker is None or index % self.rescan_every == 0:
            found = self._landmarker.detect(image)
            if len(found.pose_landmarks) > self._tracked:
                if self._tracker is not None:
                    self._tracker.close()
                self._tracked = len(found.pose_landmarks)
                self._silence()  # a new graph prints its banners too (quiet again after this image)
                options = self._landmarker_options(self._vision.RunningMode.VIDEO, self._tracked)
                self._tracker = self._vision.PoseLandmarker.create_from_options(options)
            elif self._tracker is None:
                return found  # nobody yet
        self._stamp = max(round(index * 1000 / self.frame_rate), self._stamp + 1)  # strictly increasing milliseconds
        return self._tracker.detect_for_video(image, self._stamp)

    def detect_all(self, image: np.ndarray) -> list[Detection]:
        """`image (H, W, 3) uint8 RGB` -> every person found, left to right (by box centre);
        keypoints in `image`'s pixels, masks `(H, W)`. In tracking, the frames of the video in
        order."""
        shrunk, scale = detection_input(image, self.max_side)
        height, width = image.shape[:2]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")
            try:
                result = self._landmarks(self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(shrunk)))
            finally:
                self._end_quiet()
        masks = result.segmentation_masks or [None] * len(result.pose_landmarks)
        people = []
        for landmarks, mask_image in zip(result.pose_landmarks, masks, strict=True):
            points = np.array([(p.x, p.y, p.visibility) for p in landmarks], dtype=np.float32)
            keypoints = blazepose_to_keypoints(points, width, height)
            if keypoints[list(TORSO_INDICES), 2].mean() < self.min_torso_confidence:
                continue
            mask = None
            if mask_image is not None:
                mask = np.clip(mask_image.numpy_view(), 0.0, 1.0).astype(np.float32).reshape(shrunk.shape[:2])
                if scale < 1.0:
                    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
                if mask_support(mask, keypoints[list(TORSO_INDICES)]) < self.min_mask_support:
                    continue
            people.append(Detection(keypoints=keypoints, mask=mask))
        return sorted(people, key=lambda d: sum(d.bbox()[0::2]))

    def detect(self, image: np.ndarray) -> Detection | None:
        """`image (H, W, 3) uint8 RGB` -> the largest person (box area), or None."""
        return max(self.detect_all(image), key=box_area, default=None)

    def _close_model(self) -> None:
        self._landmarker.close()
        if self._tracker is not None:
            self._tracker.close()
