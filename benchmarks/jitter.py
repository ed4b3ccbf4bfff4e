"""Jitter of the fitted motion, with and without temporal smoothing, on the shared clips.

    python benchmarks/jitter.py [--max-frames N] [--lags 0,1,2,3,4,6] [--seconds 0.083] [--degrees 1,2]
        [--detector people|people-image|video]

Per clip: the driver is detected (`people`: the multi-person Tasks detector in tracking mode,
the largest person, as `mimic video` runs it; `people-image`: the same detector on each frame on
its own; `video`: the single-person BlazePose in tracking mode) and fitted with `VideoFitter`; the fits are then smoothed offline with
`FitSmoother` (what streaming gives, the same window), with windows given in frames (`--lags`)
and in seconds (`--seconds`, turned into frames at each clip's rate as `mimic video` does:
`bodymesh.smoothing.lag_frames`). Columns:
- accel 2D: mean norm of the second difference of the keypoints (pixels / frame²), over
  keypoints confident (>= 0.5) in three consecutive detections. The "detector" row is the
  detections themselves; the others are the fitted keypoints projected.
- accel 3D: the same for the fitted body's 3D keypoints in the model frame (mm / frame²).
- PCK@0.05: fitted keypoints within 0.05 of the person's height of the driver's keypoints as
  the multi-person detector finds them on each frame on its own (the same reference for every
  `--detector`: a tracking detector's own smoothing must not count as fidelity), over the
  confident ones (`mimic.networks.metrics.pck`). The "reference" row is those keypoints' own
  acceleration.
Prints one markdown table per clip and a summary over the clips (frame-weighted means).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from bodymesh.anny_body import AnnyBody
from bodymesh.detect import BlazePoseDetector
from bodymesh.detect_people import PeopleDetector
from bodymesh.fit import BodyFit
from bodymesh.fit_video import VideoFitter
from bodymesh.keypoints import KEYPOINT_NAMES, person_height
from bodymesh.pose_bundle import pose_bundle
from bodymesh.smoothing import FitSmoother, lag_frames, mean_acceleration
from mimic.core.paths import resolve_cache_dir
from mimic.media.video_read import VideoReader
from mimic.networks.metrics import pck
from mimic.pipeline.imitator import DETECTION_SIDE

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CONFIDENT = 0.5


def fitted_clip(body: AnnyBody, path: Path, detector, reference, max_frames: int | None) -> tuple[list[BodyFit], list[bool], np.ndarray, float]:
    """The fits of every frame from the first with a person, whether each restarts tracking
    (a re-entry or a refit: not to be smoothed across), the `reference` detector's keypoints
    `(N, K, 3)` of those frames (confidence 0 where it found nobody) and the clip's frames/s."""
    fitter = VideoFitter(body)
    fits, restarts, truth = [], [], []
    with VideoReader(path) as reader:
        for index, frame in enumerate(reader):
            if max_frames is not None and index >= max_frames:
                break
            events = fitter.refits + fitter.reentries
            fit = fitter.step(detector.detect(frame))
            if fit is not None:
                fits.append(fit)
                restarts.append(fitter.refits + fitter.reentries > events)
                found = reference.detect(frame)
                truth.append(np.zeros((len(KEYPOINT_NAMES), 3), np.float32) if found is None else found.keypoints)
        return fits, restarts, np.stack(truth), reader.info.rate


def smoothed(body: AnnyBody, fits: list[BodyFit], restarts: list[bool], lag: int, degree: int) -> list[BodyFit]:
    smoother = FitSmoother(body, lag, degree)
    out = [f for fit, restart in zip(fits, restarts) for f, _ in smoother.push(fit, None, restart)]
    return out + [f for f, _ in smoother.flush()]


def scores(body: AnnyBody, fits: list[BodyFit], detected: np.ndarray) -> tuple[float, float, float]:
    """(accel 2D px/frame², accel 3D mm/frame², PCK@0.05) of fitted keypoints against the
    reference keypoints `detected (N, K, 3)` of the same frames."""
    present = (detected[..., 2] >= CONFIDENT) & np.array([f.found for f in fits])[:, None]
    projected = np.stack([f.projected.cpu().numpy() for f in fits])
    with torch.no_grad():
        joints = body.keypoints(torch.stack([f.pose for f in fits]), torch.stack([f.shape for f in fits])).cpu().numpy()
    confident_projected = np.concatenate([projected, np.ones_like(projected[..., :1])], axis=-1)
    values = [pck(p, d, 0.05 * person_height(d)) for p, d, f in zip(confident_projected, detected, fits) if f.found and d[:, 2].any()]
    return mean_acceleration(projected, present), 1000 * mean_acceleration(joints, present), float(np.nanmean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-frames", type=int, default=None, help="frames per clip (default: all)")
    parser.add_argument("--lags", default="0,1,2,3,4,6", help="smoother lags to compare (0: no smoothing)")
    parser.add_argument("--seconds", default="0.083", help="smoother windows in seconds either side, turned into frames per clip")
    parser.add_argument("--degrees", default="1,2", help="smoother polynomial degrees to compare")
    parser.add_argument("--detector", choices=("people", "people-image", "video"), default="people")
    parser.add_argument("--cache-dir", type=Path, default=None, help="body model and pose bundle cache (default ~/.cache/mimic)")
    args = parser.parse_args()
    lags = [int(v) for v in args.lags.split(",")]
    degrees = [int(v) for v in args.degrees.split(",")]
    seconds = [float(v) for v in args.seconds.split(",")] if args.seconds else []
    cache = resolve_cache_dir(args.cache_dir)
    body = AnnyBody.load(cache)
    totals: dict[str, list[tuple[int, tuple[float, float, float]]]] = {}
    for path in sorted((SHARED / "videos").glob("*.mp4")):
        with VideoReader(path) as reader:
            rate = reader.info.rate
        if args.detector == "video":
            detector = BlazePoseDetector(video=True, max_side=DETECTION_SIDE)
        else:
            detector = PeopleDetector(pose_bundle(cache), max_side=DETECTION_SIDE, frame_rate=rate if args.detector == "people" else None)
        with detector, PeopleDetector(pose_bundle(cache), max_side=DETECTION_SIDE) as reference:
            fits, restarts, truth, rate = fitted_clip(body, path, detector, reference, args.max_frames)
        print(f"\n{path.name}: {len(fits)} frames at {float(rate):g} frames/s, {sum(restarts)} restarts, detector {args.detector}")
        print("| motion | accel 2D (px/frame²) | accel 3D (mm/frame²) | PCK@0.05 |\n|---|---|---|---|")
        for name, keypoints in (("reference", truth), ("detector", np.stack([f.keypoints.cpu().numpy() for f in fits]))):
            present = (keypoints[..., 2] >= CONFIDENT) & np.array([f.found for f in fits])[:, None]
            print(f"| {name} | {mean_acceleration(keypoints[..., :2], present):.2f} | | |")
        # (name in the summary, name in this clip's table, lag, degree)
        rows = [("fitted", "fitted", 0, 0)]
        for lag, degree in ((lag, degree) for lag in lags if lag for degree in degrees):
            rows.append((f"smoothed lag {lag} degree {degree}", f"smoothed lag {lag} degree {degree}", lag, degree))
        for window, degree in ((window, degree) for window in seconds for degree in degrees):
            name, lag = f"smoothed {window:g} s degree {degree}", lag_frames(window, rate)
            rows.append((name, f"{name} (lag {lag})", lag, degree))
        for name, shown, lag, degree in rows:
            result = scores(body, smoothed(body, fits, restarts, lag, degree), truth)
            totals.setdefault(name, []).append((len(fits), result))
            print(f"| {shown} | {result[0]:.2f} | {result[1]:.2f} | {result[2]:.3f} |")
    print("\nall clips (frame-weighted)\n| motion | accel 2D (px/frame²) | accel 3D (mm/frame²) | PCK@0.05 | 2D jitter vs fitted |\n|---|---|---|---|---|")
    reference = None
    for name, entries in totals.items():
        weights = np.array([n for n, _ in entries], dtype=float)
        mean = np.average(np.array([r for _, r in entries]), axis=0, weights=weights)
        reference = mean if reference is None else reference
        print(f"| {name} | {mean[0]:.2f} | {mean[1]:.2f} | {mean[2]:.3f} | {reference[0] / mean[0]:.2f}x |")


if __name__ == "__main__":
    main()
