"""One source frame against two, and the LWGAN's learned fusion against visibility weighting.

    PYTHONPATH=. python benchmarks/sources.py [--checkpoint DIR] [--max-frames 24] [--second N] [--threads 2]

Self-imitation on each shared clip (`mimic eval`'s protocol, `evaluate_generators`): frames 1 to
`max-frames - 1` scored, the subject made from frame 0 alone, then from frame 0 and a second
frame outside the scored ones (`--second`; default: the clip's last frame), so that both rows
score the same frames. Generators: warp-only, the LWGAN (the shipped weights or `--checkpoint`)
with its learned fusion, and the same weights with `fusion="visibility"` (the attention's
`q . k` left out: plain visibility weighting, the ablation). Prints a markdown table; reads the
shared clips from ../shared/data (skipped with a message when absent).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.media.video_read import probe_video
from mimic.pipeline.body import load_body_model
from mimic.registry import load_model
from mimic.tasks.evaluate import evaluate_generators

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def lwgan(checkpoint: Path | None, fusion: str, name: str):
    """The pipeline's LWGAN generator of `checkpoint` (None: shipped) with `fusion`, called `name`."""
    from mimic.generators.lwgan import LWGANGenerator

    loaded = load_model("lwgan", checkpoint, overrides={"generator.fusion": fusion})
    generator = LWGANGenerator.of(loaded.model, loaded.weights)
    generator.name = name
    return generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="an LWGAN checkpoint folder (default: the shipped weights)")
    parser.add_argument("--max-frames", type=int, default=24)
    parser.add_argument("--second", type=int, default=None, help="the second source frame (default: the clip's last)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    videos = sorted((SHARED / "videos").glob("*.mp4"))
    if not videos:
        print(f"no shared clips under {SHARED / 'videos'}: nothing to measure")
        return
    body = load_body_model("anny", None, None)
    print("| video | source frames | generator | frames | SSIM | LPIPS | PSNR (dB) | mask-SSIM |")
    print("|---|---|---|---|---|---|---|---|")
    for video in videos:
        second = args.second if args.second is not None else probe_video(video).num_frames - 1
        for frames in ((0,), (0, second)):
            generators = [
                WarpOnlyGenerator(), lwgan(args.checkpoint, "attention", "lwgan"), lwgan(args.checkpoint, "visibility", "lwgan, visibility fusion"),
            ]
            for r in evaluate_generators(body, generators, video, source_frames=frames, max_frames=args.max_frames):
                print(f"| {video.name} | {', '.join(map(str, frames))} | {r.generator} | {r.frames} | {r.ssim:.3f} | {r.lpips:.3f} | "
                      f"{r.psnr:.2f} | {r.mask_ssim:.3f} |", flush=True)


if __name__ == "__main__":
    main()
