"""Body mesh recovery benchmark: fit times, 2D errors on the shared media, 3D error on synthetic truth.

    python benchmarks/fit.py [--max-frames N] [--synthetic N] [--threads N]

Prints markdown tables. Reads the shared media from ../shared/data (skipped when absent).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from bodymesh.body_model import BodyModel
from bodymesh.detect import BlazePoseDetector
from bodymesh.fit import fit_detection, fit_keypoints
from bodymesh.fit_video import VideoFitter
from bodymesh.keypoints import person_height
from bodymesh.synthetic import procrustes_error, synthetic_detection
from mimic.media.images import read_image
from mimic.media.video_read import VideoReader
from mimic.pipeline.body import load_body_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def photos(body: BodyModel) -> None:
    print("\n| photo | size | detect (s) | fit (s) | 2D error (px) | 2D error (% height) |\n|---|---|---|---|---|---|")
    with BlazePoseDetector(video=False) as detector:
        for path in sorted((SHARED / "images").glob("*")):
            image = read_image(path)
            start = time.perf_counter()
            detection = detector.detect(image)
            detect_s = time.perf_counter() - start
            start = time.perf_counter()
            fit = fit_detection(body, detection)
            fit_s = time.perf_counter() - start
            error = fit.keypoint_error()
            height = person_height(detection.keypoints)
            print(f"| {path.name} | {image.shape[1]}x{image.shape[0]} | {detect_s:.2f} | {fit_s:.2f} | {error:.1f} | {100 * error / height:.2f} |")


def videos(body: BodyModel, max_frames: int | None) -> None:
    print(
        "\n| video | frames | no person | detect (ms/frame) | first fit (s) | fit (ms/frame, after first) "
        "| 2D error mean (% height) | 2D error max (% height) |\n|---|---|---|---|---|---|---|---|"
    )
    for path in sorted((SHARED / "videos").glob("*.mp4")):
        fitter = VideoFitter(body)
        detect_ms, fit_ms, errors = [], [], []
        with VideoReader(path) as reader, BlazePoseDetector(video=True) as detector:
            for index, frame in enumerate(reader):
                if max_frames is not None and index >= max_frames:
                    break
                start = time.perf_counter()
                detection = detector.detect(frame)
                detect_ms.append(1000 * (time.perf_counter() - start))
                start = time.perf_counter()
                fit = fitter.step(detection)
                fit_ms.append(1000 * (time.perf_counter() - start))
                if fit is not None and fit.found:
                    errors.append(fit.keypoint_error() / max(person_height(detection.keypoints), 1.0))
        print(
            f"| {path.name} | {fitter.frames} | {fitter.frames_without_person} | {np.mean(detect_ms):.0f} | "
            f"{fit_ms[0] / 1000:.2f} | {np.mean(fit_ms[1:]):.0f} | {100 * np.mean(errors):.2f} | {100 * np.max(errors):.2f} |"
        )


def synthetic(body: BodyModel, samples: int) -> None:
    camera = torch.tensor([[400.0, 256.0, 300.0]])
    joints, keypoints, pixels, seconds = [], [], [], []
    generator = torch.Generator().manual_seed(0)
    for _ in range(samples):
        truth, detected = synthetic_detection(body, generator, camera, noise_px=2.0)
        start = time.perf_counter()
        fit = fit_keypoints(body, detected)
        seconds.append(time.perf_counter() - start)
        fitted = body(fit.pose[None], fit.shape[None])
        joints.append(1000 * procrustes_error(fitted.joints[0], truth.joints[0]))
        keypoints.append(1000 * procrustes_error(fitted.keypoints[0], truth.keypoints[0]))
        pixels.append(fit.keypoint_error())
    print(
        "\n| synthetic truth (2 px noise, 650 px tall) | samples | fit (s) | joints PA-MPJPE (mm) | keypoints PA-MPJPE (mm) "
        "| 2D error (px) |\n|---|---|---|---|---|---|"
    )
    print(f"| Anny, random poses | {samples} | {np.mean(seconds):.2f} | {np.mean(joints):.1f} | {np.mean(keypoints):.1f} | {np.mean(pixels):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-frames", type=int, default=None, help="frames per video (default: all)")
    parser.add_argument("--synthetic", type=int, default=60, help="synthetic samples")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    body = load_body_model()
    print(f"torch threads: {torch.get_num_threads()}")
    synthetic(body, args.synthetic)
    if SHARED.exists():
        photos(body)
        videos(body, args.max_frames)
    else:
        print(f"\n(shared media not found at {SHARED}: photo and video rows skipped)")


if __name__ == "__main__":
    main()
