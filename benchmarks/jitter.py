"""Jitter of the fitted motion, with and without temporal smoothing, on the shared clips.

    python benchmarks/jitter.py [--max-frames N] [--lags 0,1,2,3,4,6] [--seconds 0.083] [--degrees 1,2] [--detector video|people]

Per clip: the driver is detected (`video`: today's single-person BlazePose in tracking mode, as
`mimic video` runs it; `people`: the multi-person Tasks detector, each frame on its own, the
largest person) and fitted with `VideoFitter`; the fits are then smoothed offline with
`FitSmoother` (what streaming gives, the same window), with windows given in frames (`--lags`)
and in seconds (`--seconds`, turned into frames at each clip's rate as `mimic video` does:
`bodymesh.smoothing.lag_frames`). Columns:
- accel 2D: mean norm of the second difference of the keypoints (pixels / frame²), over
  keypoints confident (>= 0.5) in three consecutive detections. The "detector" row is the
  detections themselves; the others are the fitted keypoints projected.
- accel 3D: the same for the fitted body's 3D keypoints in the model frame (mm / frame²).
- PCK@0.05: fitted keypoints within 0.05 of the person's height of the detection (the driver),
  over the confident detected keypoints (`mimic.networks.metrics.pck`).
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
from bodymesh.keypoints import person_height
from bodymesh.pose_bundle import pose_bundle
from bodymesh.smoothing import FitSmoother, lag_frames, mean_acceleration
from mimic.core.paths import resolve_cache_dir
from mimic.media.video_read import VideoReader
from mimic.networks.metrics import pck
from mimic.pipeline.imitator import DETECTION_SIDE

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CONFIDENT = 0.5


def fitted_clip(body: AnnyBody, path: Path, detector, max_frames: int | None) -> tuple[list[BodyFit], list[bool], float]:
    """The fits of every frame from the first with a person, whether each restarts tracking
    (a re-entry or a refit: not to be smoothed across), and the clip's frames/s."""
    fitter = VideoFitter(body)
    fits, restarts = [], []
    with VideoReader(path) as reader:
        for index, frame in enumerate(reader):
            if max_frames is not None and index >= max_frames:
                break
            events = fitter.refits + fitter.reentries
            fit = fitter.step(detector.detect(frame))
            if fit is not None:
                fits.append(fit)
                restarts.append(fitter.refits + fitter.reentries > events)
        return fits, restarts, reader.info.rate


def smoothed(body: AnnyBody, fits: list[BodyFit], restarts: list[bool], lag: int, degree: int) -> list[BodyFit]:
    smoother = FitSmoother(body, lag, degree)
    out = [f for fit, restart in zip(fits, restarts) for f, _ in smoother.push(fit, None, restart)]
    return out + [f for f, _ in smoother.flush()]


def scores(body: AnnyBody, fits: list[BodyFit]) -> tuple[float, float, float]:
    """(accel 2D px/frame², accel 3D mm/frame², PCK@0.05) of fitted keypoints against their detections."""
    detected = np.stack([f.keypoints.cpu().numpy() for f in fits])
    present = (detected[..., 2] >= CONFIDENT) & np.array([f.found for f in fits])[:, None]
    projected = np.stack([f.projected.cpu().numpy() for f in fits])
    with torch.no_grad():
        joints = body.keypoints(torch.stack([f.pose for f in fits]), torch.stack([f.shape for f in fits])).cpu().numpy()
    confident_projected = np.concatenate([projected, np.ones_like(projected[..., :1])], axis=-1)
    values = [pck(p, d, 0.05 * person_height(d)) for p, d, f in zip(confident_projected, detected, fits) if f.found]
    return mean_acceleration(projected, present), 1000 * mean_acceleration(joints, present), float(np.nanmean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-frames", type=int, default=None, help="frames per clip (default: all)")
    parser.add_argument("--lags", default="0,1,2,3,4,6", help="smoother lags to compare (0: no smoothing)")
    parser.add_argument("--seconds", default="0.083", help="smoother windows in seconds either side, turned into frames per clip")
    parser.add_argument("--degrees", default="1,2", help="smoother polynomial degrees to compare")
    parser.add_argument("--detector", choices=("video", "people"), default="video")
    parser.add_argument("--cache-dir", type=Path, default=None, help="body model and pose bundle cache (default ~/.cache/mimic)")
    args = parser.parse_args()
    lags = [int(v) for v in args.lags.split(",")]
    degrees = [int(v) for v in args.degrees.split(",")]
    seconds = [float(v) for v in args.seconds.split(",")] if args.seconds else []
    cache = resolve_cache_dir(args.cache_dir)
    body = AnnyBody.load(cache)
    totals: dict[str, list[tuple[int, tuple[float, float, float]]]] = {}
    for path in sorted((SHARED / "videos").glob("*.mp4")):
        if args.detector == "video":
            detector = BlazePoseDetector(video=True, max_side=DETECTION_SIDE)
        else:
            detector = PeopleDetector(pose_bundle(cache), max_side=DETECTION_SIDE)
        with detector:
            fits, restarts, rate = fitted_clip(body, path, detector, args.max_frames)
        detected = np.stack([f.keypoints.cpu().numpy() for f in fits])
        present = (detected[..., 2] >= CONFIDENT) & np.array([f.found for f in fits])[:, None]
        print(f"\n{path.name}: {len(fits)} frames at {float(rate):g} frames/s, {sum(restarts)} restarts, detector {args.detector}")
        print("| motion | accel 2D (px/frame²) | accel 3D (mm/frame²) | PCK@0.05 |\n|---|---|---|---|")
        print(f"| detector | {mean_acceleration(detected[..., :2], present):.2f} | | |")
        # (name in the summary, name in this clip's table, lag, degree)
        rows = [("fitted", "fitted", 0, 0)]
        for lag, degree in ((lag, degree) for lag in lags if lag for degree in degrees):
            rows.append((f"smoothed lag {lag} degree {degree}", f"smoothed lag {lag} degree {degree}", lag, degree))
        for window, degree in ((window, degree) for window in seconds for degree in degrees):
            name, lag = f"smoothed {window:g} s degree {degree}", lag_frames(window, rate)
            rows.append((name, f"{name} (lag {lag})", lag, degree))
        for name, shown, lag, degree in rows:
            result = scores(body, smoothed(body, fits, restarts, lag, degree))
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
