"""Steady motion: a fixed-lag smoother over a small look-ahead window, for streams of fits.

Each value is replaced by the value at its own time of the least-squares polynomial (degree
`degree`) through the values `lag` frames either side of it (Savitzky-Golay; one-sided near the
ends of a stream and across a restart, where fewer neighbours exist). A polynomial track of that
degree or less (a constant velocity, for any degree >= 1) comes out unchanged, while frame-to-
frame jitter is averaged out. Output is `lag` frames behind the input and at most `2 lag + 1`
values are held, so memory stays flat however long the stream. Callers give the window in
seconds and turn it into frames at the stream's rate (`lag_frames`).

`FitSmoother` applies it to fitted bodies: the joint rotations as rotation matrices (smoothed,
then projected back onto rotations, so that an axis-angle's wrap at pi does no harm) and the
camera, with the fitted keypoints recomputed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Generic, TypeVar

import numpy as np
import roma
import torch

from bodymesh.body_model import BodyModel
from bodymesh.camera import project
from bodymesh.fit import BodyFit

Item = TypeVar("Item")
# The default window: 1/12 s either side (2 frames at 24 frames/s, 1 at 12), local lines
# (chosen with benchmarks/jitter.py on the shared clips; see the README, "Measured"). A window
# in frames would be six times as long in time on a 5 frames/s driver as on a 30 frames/s one.
DEFAULT_SECONDS = 1 / 12
DEFAULT_DEGREE = 1


def lag_frames(seconds: float, rate: float) -> int:
    """The lag (frames either side, nearest) that spans `seconds` at `rate` frames/s."""
    if seconds < 0 or rate <= 0:
        raise ValueError(f"seconds must be >= 0 and rate > 0, got {seconds} s at {rate} frames/s")
    return int(seconds * rate + 0.5)


def polynomial_weights(offsets: np.ndarray, degree: int) -> np.ndarray:
    """`(N,)` weights `w` with `sum_i w_i y_i = p(0)`, `p` the least-squares polynomial of degree
    `min(degree, N - 1)` through the points `(offsets_i, y_i)`; `offsets (N,)` in frames."""
    offsets = np.asarray(offsets, dtype=np.float64)
    powers = np.arange(min(degree, len(offsets) - 1) + 1)
    return np.linalg.pinv(offsets[:, None] ** powers)[0]


class FixedLagSmoother(Generic[Item]):
    """Smooths a stream of tensors (all of one shape) that travel with an item each.

    Args:
        lag: frames of look-ahead (and look-back) on each side; 0 passes values through.
        degree: of the local polynomial (1: a constant velocity is kept exactly; 2: a constant
            acceleration too, at less smoothing for the same lag).
    """

    def __init__(self, lag: int, degree: int = DEFAULT_DEGREE) -> None:
        if lag < 0 or degree < 0:
            raise ValueError(f"lag and degree must be at least 0, got {lag} and {degree}")
        self.lag, self.degree = lag, degree
        self._window: list[tuple[torch.Tensor, Item]] = []
        self._emitted = 0  # values of the window already given out (the look-back)

    def push(self, value: torch.Tensor, item: Item, restart: bool = False) -> list[tuple[torch.Tensor, Item]]:
        """Adds the next `value` with its `item`; returns the `(smoothed value, item)` pairs
        now ready, oldest first (at most one, plus what a `restart` flushes). `restart`: the
        value does not continue the previous ones (a jump: the person lost and found again);
        the values before it are finished without it and it starts a new stretch."""
        ready = self.flush() if restart else []
        self._window.append((value, item))
        if len(self._window) - self._emitted > self.lag:
            ready.append(self._emit())
        return ready

    def flush(self) -> list[tuple[torch.Tensor, Item]]:
        """The pairs still held (the end of the stream), smoothed with the neighbours there are."""
        ready = [self._emit() for _ in range(len(self._window) - self._emitted)]
        self._window, self._emitted = [], 0
        return ready

    def _emit(self) -> tuple[torch.Tensor, Item]:
        index = self._emitted
        first, last = max(0, index - self.lag), min(len(self._window), index + self.lag + 1)
        weights = polynomial_weights(np.arange(first, last) - index, self.degree)
        values = torch.stack([value for value, _ in self._window[first:last]])
        smoothed = torch.tensordot(values.new_tensor(weights), values, dims=1)
        item = self._window[index][1]
        drop = max(0, index + 1 - self.lag)  # older than any later window needs
        self._window, self._emitted = self._window[drop:], index + 1 - drop
        return smoothed, item


class FitSmoother(Generic[Item]):
    """`FixedLagSmoother` over fitted bodies (`BodyFit`): pose and camera smoothed, keypoints
    re-projected, everything else of each fit kept.

    Args:
        model: the body model the fits are of (for the re-projected keypoints).
        lag, degree: see `FixedLagSmoother`; `lag=0` returns the fits as they are.
    """

    def __init__(self, model: BodyModel, lag: int, degree: int = DEFAULT_DEGREE) -> None:
        self.model = model
        self._smoother: FixedLagSmoother[tuple[BodyFit, Item]] = FixedLagSmoother(lag, degree)

    def push(self, fit: BodyFit, item: Item, restart: bool = False) -> list[tuple[BodyFit, Item]]:
        """The next `fit` with its `item` -> the `(smoothed fit, item)` pairs ready (see
        `FixedLagSmoother.push`)."""
        if self._smoother.lag == 0:
            return [(fit, item)]
        packed = torch.cat((roma.rotvec_to_rotmat(fit.pose).reshape(-1), fit.cam))
        return list(self._unpack(self._smoother.push(packed, (fit, item), restart)))

    def flush(self) -> list[tuple[BodyFit, Item]]:
        """The fits still held, at the end of the stream."""
        return list(self._unpack(self._smoother.flush()))

    def _unpack(self, ready: list[tuple[torch.Tensor, tuple[BodyFit, Item]]]) -> Iterator[tuple[BodyFit, Item]]:
        for packed, (fit, item) in ready:
            joints = fit.pose.shape[0]
            rotations = roma.special_procrustes(packed[: 9 * joints].reshape(joints, 3, 3))
            pose, cam = roma.rotmat_to_rotvec(rotations).to(fit.pose.dtype), packed[9 * joints :].to(fit.cam.dtype)
            with torch.no_grad():
                keypoints = self.model.keypoints(pose[None], fit.shape[None])
            yield replace(fit, pose=pose, cam=cam, projected=project(keypoints, cam[None])[0]), item


def mean_acceleration(track: np.ndarray, present: np.ndarray | None = None) -> float:
    """Jitter of a track `(T, N, D)` (T frames of N points): the mean norm of the second
    difference `x[t+1] - 2 x[t] + x[t-1]` (units of the track per frame²), over the triples of
    frames where every point is `present (T, N)` bool (all when None); nan when there is none."""
    track = np.asarray(track, dtype=np.float64)
    acceleration = np.linalg.norm(track[2:] - 2 * track[1:-1] + track[:-2], axis=-1)
    if present is None:
        return float(acceleration.mean()) if acceleration.size else float("nan")
    valid = present[2:] & present[1:-1] & present[:-2]
    return float(acceleration[valid].mean()) if valid.any() else float("nan")
