"""One source frame against two: how the sources are weighed (view agreement) and the LWGAN's
learned fusion against visibility weighting.

    PYTHONPATH=. python benchmarks/sources.py [--videos DIR] [--checkpoint DIR] [--max-frames 24]
        [--second N] [--view-sharpness 0,8] [--warp-only] [--threads 2]

Self-imitation on each clip of `--videos` (default: the shared clips; `mimic eval`'s protocol,
`evaluate_generators`): frames 1 to `max-frames - 1` scored, the subject made from frame 0
alone, then from frame 0 and a second frame outside the scored ones (`--second`; default: the
clip's last frame), so that every row scores the same frames. Two sources are weighed by
facing and by view agreement at each `--view-sharpness` (`ImitatorConfig.view_sharpness`; 0:
facing alone). Generators: warp-only and (unless `--warp-only`) the LWGAN (the shipped weights
or `--checkpoint`) with its learned fusion, and the same weights with `fusion="visibility"`
(the attention's `q . k` left out: plain visibility weighting, the ablation). Prints a markdown
table; skips with a message when there are no clips.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from mimic.errors import NoPersonError
from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.media.video_read import is_video_path, probe_video
from mimic.pipeline.body import load_body_model
from mimic.pipeline.imitator import VIEW_SHARPNESS, ImitatorConfig
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
    parser.add_argument("--videos", type=Path, default=SHARED / "videos", help="a folder of clips (default: the shared ones)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="an LWGAN checkpoint folder (default: the shipped weights)")
    parser.add_argument("--max-frames", type=int, default=24)
    parser.add_argument("--second", type=int, default=None, help="the second source frame (default: the clip's last)")
    parser.add_argument("--view-sharpness", default=f"0,{VIEW_SHARPNESS:g}", help="comma-separated values for two sources")
    parser.add_argument("--warp-only", action="store_true", help="score the warp-only generator alone")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    videos = sorted(p for p in args.videos.glob("*") if is_video_path(p)) if args.videos.is_dir() else []
    if not videos:
        print(f"no clips under {args.videos}: nothing to measure")
        return
    body = load_body_model("anny", None, None)
    sharpness = [float(v) for v in args.view_sharpness.split(",")]
    print("| video | source frames | view sharpness | generator | frames | SSIM | LPIPS | PSNR (dB) | mask-SSIM |")
    print("|---|---|---|---|---|---|---|---|---|")
    for video in videos:
        second = args.second if args.second is not None else probe_video(video).num_frames - 1
        for frames, value in [((0,), VIEW_SHARPNESS), *(((0, second), v) for v in sharpness)]:
            generators = [WarpOnlyGenerator()]
            if not args.warp_only:
                generators += [lwgan(args.checkpoint, "attention", "lwgan"), lwgan(args.checkpoint, "visibility", "lwgan, visibility fusion")]
            try:
                config = ImitatorConfig(view_sharpness=value)
                results = evaluate_generators(body, generators, video, config, source_frames=frames, max_frames=args.max_frames)
            except NoPersonError as error:
                print(f"| {video.name} | {', '.join(map(str, frames))} | skipped: {error} |||||||")
                break
            for r in results:
                shown = f"{value:g}" if len(frames) > 1 else "-"
                print(f"| {video.name} | {', '.join(map(str, frames))} | {shown} | {r.generator} | {r.frames} | {r.ssim:.3f} | {r.lpips:.3f} | "
                      f"{r.psnr:.2f} | {r.mask_ssim:.3f} |", flush=True)


if __name__ == "__main__":
    main()
