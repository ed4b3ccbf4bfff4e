"""Pipeline benchmark: per-stage milliseconds, end-to-end frames/s and memory over video length.

    python benchmarks/pipeline.py [--sizes 256,512] [--max-frames N] [--threads N]

Runs `mimic video`'s path (warp-only generator; the multi-person detector following the largest
person, the clothed subject, the default smoother) on every shared video with a shared photo as
the source and prints markdown tables; "x detection-only" is the end-to-end time over that of
decoding and detecting alone (the practical ceiling). Reads ../shared/data (exits with a message when absent).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from bodymesh.body_model import BodyModel
from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.pipeline.body import load_body_model, people_bundle
from mimic.pipeline.imitator import Imitator, ImitatorConfig
from mimic.tasks.video import imitate_video

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
STAGES = ("decode", "detect", "fit", "rasterize", "flow", "generate", "encode")


def resident_mib() -> float:
    """This process's resident memory now, MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,512", help="crop sizes to run")
    parser.add_argument("--max-frames", type=int, default=None, help="frames per video (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--source", default="ryota_apose.png", help="shared photo used as the source")
    args = parser.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"shared media not found at {SHARED}")
    if args.threads:
        torch.set_num_threads(args.threads)
    body = load_body_model()
    source = SHARED / "images" / args.source
    print(f"torch threads: {torch.get_num_threads()}; source photo: {source.name}; generator: warp\n")
    print("| video | size | frames | " + " | ".join(f"{s} (ms)" for s in STAGES) + " | end-to-end frames/s | x detection-only | peak RSS (MiB) |")
    print("|---|---|---|" + "---|" * len(STAGES) + "---|---|---|")
    ceilings = {video: detection_pass(video, args.max_frames) for video in sorted((SHARED / "videos").glob("*.mp4"))}
    for size in (int(s) for s in args.sizes.split(",")):
        for video in sorted((SHARED / "videos").glob("*.mp4")):
            imitator = Imitator(body, WarpOnlyGenerator(), ImitatorConfig(size=size, people_bundle=people_bundle()))
            with tempfile.TemporaryDirectory() as folder:
                summary = imitate_video(imitator, [source], video, Path(folder) / "out.mp4", max_frames=args.max_frames)
            stages = " | ".join(f"{summary.stage_ms.get(s, float('nan')):.1f}" for s in STAGES)
            ratio = ceilings[video] / summary.frames_per_second
            print(f"| {video.name} | {size} | {summary.frames} | {stages} | {summary.frames_per_second:.2f} | {ratio:.2f} | {resident_mib():.0f} |")
    print("\ndetection-only pass (decode + the driver's detector on every frame, the practical ceiling): "
          + ", ".join(f"{video.name} {rate:.1f} frames/s" for video, rate in ceilings.items()))
    memory_over_length(body, source, max(SHARED.joinpath("videos").glob("*.mp4"), key=lambda p: p.stat().st_size))


def detection_pass(video: Path, max_frames: int | None) -> float:
    """Frames/s of decoding `video` and running `mimic video`'s driver detector (the
    multi-person detector in tracking mode, frames shrunk as the pipeline does) on every frame."""
    from bodymesh.detect_people import PeopleDetector
    from mimic.media.video_read import VideoReader
    from mimic.pipeline.imitator import DETECTION_SIDE

    with VideoReader(video) as reader, PeopleDetector(people_bundle(), max_side=DETECTION_SIDE, frame_rate=reader.info.rate) as detector:
        start, count = time.perf_counter(), 0
        for count, frame in enumerate(reader, start=1):
            detector.detect(frame)
            if max_frames is not None and count >= max_frames:
                break
        return count / (time.perf_counter() - start)


def memory_over_length(body: BodyModel, source: Path, video: Path) -> None:
    """Resident memory while streaming the longest video: it must stay flat."""
    from mimic.media.images import read_image
    from mimic.media.video_read import VideoReader

    imitator = Imitator(body, WarpOnlyGenerator(), ImitatorConfig(people_bundle=people_bundle()))
    subject = imitator.prepare([read_image(source)])
    samples: list[tuple[int, float]] = []
    start = time.perf_counter()
    with VideoReader(video) as reader:
        total = reader.info.num_frames
        marks = {int(total * f) for f in (0.1, 0.25, 0.5, 0.75)} | {total - 1}
        for index, _ in enumerate(imitator.imitate(subject, reader, reader.info.rate)):
            if index in marks:
                samples.append((index + 1, resident_mib()))
    print(f"\nresident memory while streaming {video.name} ({total} frames, {time.perf_counter() - start:.0f} s):\n")
    print("| frames done | RSS (MiB) |\n|---|---|")
    for done, mib in samples:
        print(f"| {done} | {mib:.0f} |")
    growth = samples[-1][1] - samples[0][1]
    print(f"\ngrowth from {samples[0][0]} to {samples[-1][0]} frames: {growth:+.0f} MiB")


if __name__ == "__main__":
    main()
