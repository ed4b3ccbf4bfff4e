"""Training step profile: where a step's time goes, with pairs made at every step and from a pair pool.

    PYTHONPATH=. python benchmarks/training_step.py [--generator lwgan] [--size 128] [--batch-size 4] [--steps 10]
        [--videos ../shared/data/train/videos --max-video-frames 160] [--config KEY=VALUE ...]

Prints a markdown table: milliseconds per step making (or reading) the batch and in the model's
`train_step`, and steps/s, for both data paths in the same run (so the ratio holds on a loaded
machine). The pool is built in a temporary folder from the same stream (its build time is not
counted; `mimic train --pair-pool N` builds it once into the cache folder).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from mimic import registry
from mimic.training.data_options import DataOptions
from mimic.training.pair_pool import PairPool, build_pool, pool_batches
from mimic.training.video_pairs import pair_batches
from mimic_cli.train_command import parse_overrides


def profile(model, batches, steps: int) -> tuple[float, float]:
    """Mean milliseconds per step of drawing a batch and of `train_step` (after one warm-up step)."""
    model.train_step(next(batches), 0)
    data = train = 0.0
    for step in range(steps):
        clock = time.perf_counter()
        batch = next(batches)
        drawn = time.perf_counter()
        model.train_step(batch, step + 1)
        data += drawn - clock
        train += time.perf_counter() - drawn
    return 1000 * data / steps, 1000 * train / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default="lwgan")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--videos", type=Path)
    parser.add_argument("--images", type=Path)
    parser.add_argument("--max-video-frames", type=int)
    parser.add_argument("--config", action="append", default=[])
    args = parser.parse_args()
    options = DataOptions(
        batch_size=args.batch_size, size=args.size, videos=args.videos, images=args.images, max_video_frames=args.max_video_frames,
        synthetic_fraction=0.3 if args.videos else 1.0,
    )
    model = registry.create(args.generator, parse_overrides(args.config))
    rows = [("made at every step", *profile(model, pair_batches(options), args.steps))]
    with tempfile.TemporaryDirectory() as folder:
        pool = build_pool(pair_batches(replace(options, batch_size=1)), args.batch_size * (args.steps + 1), Path(folder) / "pool")
        rows.append(("from a pair pool", *profile(model, pool_batches(PairPool(pool), options), args.steps)))
    print(f"\n{args.generator}, {args.size} px, batch {args.batch_size}, {args.steps} steps\n")
    print("| pairs | data (ms/step) | train_step (ms/step) | steps/s |\n|---|---|---|---|")
    for name, data, train in rows:
        print(f"| {name} | {data:.0f} | {train:.0f} | {1000 / (data + train):.2f} |")


if __name__ == "__main__":
    main()
