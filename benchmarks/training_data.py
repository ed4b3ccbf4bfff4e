"""Training data throughput: synthetic pairs/s at 128 and 256, video pairs cold and warm cache.

Usage: python benchmarks/training_data.py [--pairs N] [--video PATH] [--max-frames N] [--device D]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from mimic.pipeline.body import load_body_model
from mimic.training.synthetic_pairs import SyntheticConfig, SyntheticPairs
from mimic.training.video_pairs import VideoPairs, prepare_video

SHARED_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "mmhuman3d_dribble.mp4"


def pairs_per_second(source, count: int) -> float:
    """Pairs per second of `source.pair(n)` over `count` pairs (after one warm-up pair)."""
    source.pair(count)
    clock = time.perf_counter()
    for n in range(count):
        source.pair(n)
    return count / (time.perf_counter() - clock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--video", type=Path, default=SHARED_VIDEO)
    parser.add_argument("--max-frames", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    body = load_body_model("anny").to(args.device)
    rows = []
    for size in (128, 256):
        rate = pairs_per_second(SyntheticPairs(body, SyntheticConfig(size=size), seed=0), args.pairs)
        rows.append((f"synthetic {size}", f"{rate:.1f} pairs/s", ""))
    if args.video.is_file():
        with tempfile.TemporaryDirectory() as cache:
            for label in ("cold", "warm"):
                clock = time.perf_counter()
                clip = prepare_video(args.video, body, 256, Path(cache), args.max_frames)
                seconds = time.perf_counter() - clock
                rows.append((f"video cache {label} ({len(clip)} frames)", f"{seconds:.2f} s", f"{seconds / len(clip) * 1000:.1f} ms/frame"))
            rate = pairs_per_second(VideoPairs(body, [clip], 256), args.pairs)
            rows.append(("video 256 (warm)", f"{rate:.1f} pairs/s", ""))
    else:
        rows.append(("video", "skipped", f"no video at {args.video}"))
    print(f"device {args.device}, torch threads {torch.get_num_threads()}")
    width = max(len(r[0]) for r in rows)
    for name, value, extra in rows:
        print(f"{name:<{width}}  {value:>14}  {extra}")


if __name__ == "__main__":
    main()
