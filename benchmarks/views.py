"""Novel-view benchmark: milliseconds per view (rasterize, flow, generate) at 256 and 512.

    python benchmarks/views.py [--sizes 256,512] [--views 12] [--threads N] [--source PHOTO]

Prepares the subject of a shared photo once per size (detection, fit, texture; timed apart),
then renders `--views` angles evenly over a full turn with the warp-only generator and prints
a markdown table. Reads ../shared/data (exits with a message when absent).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.media.images import read_image
from mimic.pipeline.body import load_body_model
from mimic.pipeline.imitator import Imitator, ImitatorConfig
from mimic.tasks.novel_view import render_view, turntable_angles

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
STAGES = ("rasterize", "flow", "generate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,512", help="crop sizes to run")
    parser.add_argument("--views", type=int, default=12, help="views per size (evenly over a turn)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--source", default="pexels_man_wall.jpg", help="shared photo of the person")
    args = parser.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"shared media not found at {SHARED}")
    if args.threads:
        torch.set_num_threads(args.threads)
    body = load_body_model()
    photo = read_image(SHARED / "images" / args.source)
    print(f"torch threads: {torch.get_num_threads()}; source photo: {args.source}; generator: warp; {args.views} views per size\n")
    print("| size | prepare (s) | " + " | ".join(f"{s} (ms)" for s in STAGES) + " | per view (ms, median) | views/s |")
    print("|---|---|" + "---|" * len(STAGES) + "---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        imitator = Imitator(body, WarpOnlyGenerator(), ImitatorConfig(size=size))
        clock = time.perf_counter()
        subject = imitator.prepare([photo])
        prepare = time.perf_counter() - clock
        render_view(imitator, subject, 30.0)  # warm-up
        stages: dict[str, list[float]] = {s: [] for s in STAGES}
        totals = []
        for angle in turntable_angles(args.views):
            seconds: dict[str, float] = {}
            clock = time.perf_counter()
            render_view(imitator, subject, angle, seconds=seconds)
            totals.append(time.perf_counter() - clock)
            for stage in STAGES:
                stages[stage].append(seconds[stage])
        per_view = float(np.median(totals))
        columns = " | ".join(f"{1000 * float(np.median(stages[s])):.1f}" for s in STAGES)
        print(f"| {size} | {prepare:.1f} | {columns} | {1000 * per_view:.1f} | {1 / per_view:.1f} |")


if __name__ == "__main__":
    main()
