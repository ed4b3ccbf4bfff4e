"""Who is who across frames: identities for the people a detector finds in each frame.

Pure numpy. Each track keeps its person's last keypoints and box, a velocity of its centre and,
when the caller gives one, an appearance signature (`colour_signature`). A frame's detections
are matched to the tracks by a cost mixing box overlap, keypoint distance (relative to the
person's height) and appearance, cheapest pair first, under a gate. A track without a match is
kept for `max_lost` frames, predicted forward at its velocity, with a gate that widens the
longer it is unseen: a person who walks behind another and comes out on the other side keeps
their number. Unmatched detections open new tracks, numbered 1, 2, ... left to right within a
frame, so that the people of the first frame are numbered left to right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrackerConfig:
    """Matching options.

    min_confidence: keypoints below this confidence are ignored. max_distance: the largest
    mean keypoint distance, as a fraction of the person's height, for a match with a track seen
    in the previous frame; `lost_growth` more per frame unseen, at most `max_lost_distance`.
    overlap_weight, appearance_weight: weights of `1 - IoU` and of the appearance distance
    (`1 - ` the signatures' cosine similarity) in the cost, beside the keypoint distance.
    max_appearance: a lost track takes no detection whose appearance distance exceeds this.
    max_lost: frames a track is kept unseen. velocity_decay: how much of the previous centre
    velocity is kept at each update (the rest is the new frame's motion).
    """

    min_confidence: float = 0.3
    max_distance: float = 0.5
    lost_growth: float = 0.05
    max_lost_distance: float = 2.0
    overlap_weight: float = 1.0
    appearance_weight: float = 2.0
    max_appearance: float = 0.35
    max_lost: int = 90
    velocity_decay: float = 0.5


@dataclass
class Track:
    """One person: `id` (1-based), `keypoints (K, 3)` and `box (4,)` `(x0, y0, x1, y1)` where
    last seen (pixels), centre `velocity (2,)` pixels per frame, appearance `signature (D,)` or
    None, frames `lost` since last seen (0: seen in the latest frame), frames `seen` in all."""

    id: int
    keypoints: np.ndarray
    box: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    signature: np.ndarray | None = None
    lost: int = 0
    seen: int = 1

    def predicted_shift(self) -> np.ndarray:
        """`(2,)` pixels: where the person should be now relative to where they were last seen."""
        return self.velocity * (self.lost + 1)


def keypoint_box(keypoints: np.ndarray, min_confidence: float = 0.3) -> np.ndarray:
    """`(4,)` `(x0, y0, x1, y1)` pixels around the keypoints `(K, 3)` at least this confident
    (all of them when none is)."""
    confident = keypoints[keypoints[:, 2] >= min_confidence]
    points = (confident if len(confident) else keypoints)[:, :2]
    return np.concatenate([points.min(0), points.max(0)]).astype(np.float64)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two `(4,)` boxes `(x0, y0, x1, y1)`."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def colour_signature(image: np.ndarray, mask: np.ndarray, bins: int = 4) -> np.ndarray:
    """Appearance of a person: the colour histogram of `image (H, W, 3) uint8 RGB` under
    `mask (H, W)` in [0, 1] (weights), `bins` per channel, L2-normalised -> `(bins**3,)`."""
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} must have the same size")
    index = (image.astype(np.int64) * bins // 256) @ np.array([bins * bins, bins, 1])
    histogram = np.bincount(index.ravel(), weights=mask.ravel().astype(np.float64), minlength=bins**3)
    return histogram / max(float(np.linalg.norm(histogram)), 1e-12)


class PersonTracker:
    """Keeps identities of people across frames (see the module docstring)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self._next_id = 1

    def _cost(self, track: Track, keypoints: np.ndarray, box: np.ndarray, signature: np.ndarray | None) -> float:
        """Cost of giving the detection (`keypoints (K, 3)`, `box (4,)`, `signature`) to
        `track`; inf where the gate refuses."""
        config = self.config
        shift = track.predicted_shift()
        both = (track.keypoints[:, 2] >= config.min_confidence) & (keypoints[:, 2] >= config.min_confidence)
        if not both.any():
            return np.inf
        height = max(track.box[3] - track.box[1], box[3] - box[1], 1.0)
        distance = float(np.linalg.norm(keypoints[both, :2] - track.keypoints[both, :2] - shift, axis=1).mean() / height)
        gate = min(config.max_distance + config.lost_growth * track.lost, config.max_lost_distance)
        if distance > gate:
            return np.inf
        cost = distance + config.overlap_weight * (1.0 - box_iou(track.box + np.tile(shift, 2), box))
        if signature is not None and track.signature is not None:
            appearance = 1.0 - float(track.signature @ signature)
            if track.lost and appearance > config.max_appearance:
                return np.inf
            cost += config.appearance_weight * appearance
        return cost

    def update(self, keypoints: Sequence[np.ndarray], signatures: Sequence[np.ndarray] | None = None) -> list[int]:
        """The next frame's detections -> their ids (1-based), in the order given.

        Args:
            keypoints: one `(K, 3)` array per person found (pixels + confidence).
            signatures: one appearance `(D,)` per person (`colour_signature`), or None.
        """
        if signatures is not None and len(signatures) != len(keypoints):
            raise ValueError(f"need one signature per detection, got {len(signatures)} for {len(keypoints)}")
        boxes = [keypoint_box(k, self.config.min_confidence) for k in keypoints]
        pairs = sorted(
            (self._cost(track, k, b, None if signatures is None else signatures[d]), t, d)
            for t, track in enumerate(self.tracks)
            for d, (k, b) in enumerate(zip(keypoints, boxes))
        )
        ids: list[int | None] = [None] * len(keypoints)
        matched: set[int] = set()
        for cost, t, d in pairs:
            if np.isinf(cost) or t in matched or ids[d] is not None:
                continue
            matched.add(t)
            ids[d] = self.tracks[t].id
            self._refresh(self.tracks[t], keypoints[d], boxes[d], None if signatures is None else signatures[d])
        for t, track in enumerate(self.tracks):
            if t not in matched:
                track.lost += 1
        self.tracks = [track for track in self.tracks if track.lost <= self.config.max_lost]
        for d in sorted((d for d in range(len(keypoints)) if ids[d] is None), key=lambda d: boxes[d][0] + boxes[d][2]):
            ids[d] = self._next_id
            signature = None if signatures is None else np.asarray(signatures[d], dtype=np.float64)
            self.tracks.append(Track(self._next_id, np.asarray(keypoints[d], dtype=np.float64), boxes[d], signature=signature))
            self._next_id += 1
        return [int(i) for i in ids]

    def _refresh(self, track: Track, keypoints: np.ndarray, box: np.ndarray, signature: np.ndarray | None) -> None:
        """`track` seen again with these keypoints, box and signature."""
        decay = self.config.velocity_decay
        motion = ((box[:2] + box[2:]) - (track.box[:2] + track.box[2:])) / 2 / (track.lost + 1)
        track.velocity = decay * track.velocity + (1 - decay) * motion
        track.keypoints, track.box, track.lost, track.seen = np.asarray(keypoints, dtype=np.float64), box, 0, track.seen + 1
        if signature is not None:
            signature = np.asarray(signature, dtype=np.float64)
            track.signature = signature if track.signature is None else _normalised(0.9 * track.signature + 0.1 * signature)

    @property
    def people_seen(self) -> int:
        """How many identities were given so far."""
        return self._next_id - 1


def _normalised(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
