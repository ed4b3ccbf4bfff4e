"""Clothed subject vs naked body: how well the subject's rendered silhouette covers the person.

    PYTHONPATH=. python benchmarks/clothes.py [--max-frames N] [--threads N] [--size 256]

Photos: every shared photo is prepared as a subject (`Imitator.prepare`); IoU between the
rendered subject and the person mask, and the share of the mask left uncovered, naked body
and clothed subject side by side. Videos (self-imitation): the subject from a clip's first
frame, driven through the clip (`Imitator.imitate`); each frame's rendered subject against that
frame's own person mask (BlazePose on the driver crop), mean over the frames with a person.
Prints markdown tables. Reads the shared media from ../shared/data (skipped when absent).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import torch

from bodymesh.body_model import BodyModel
from bodymesh.detect import BlazePoseDetector
from mimic.core.bundles import SourceBundle, TargetBundle
from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.media.images import read_image
from mimic.media.video_read import VideoReader
from mimic.pipeline.body import load_body_model
from mimic.pipeline.clothing import ClothesConfig, silhouette_overlap
from mimic.pipeline.imitator import Imitator, ImitatorConfig

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
KINDS = {"naked body": None, "clothed": ClothesConfig()}


class _Recorder(WarpOnlyGenerator):
    """The warp-only generator, keeping the last target's face ids."""

    face_id: torch.Tensor | None = None

    def generate(self, source: SourceBundle, target: TargetBundle) -> torch.Tensor:
        self.face_id = target.fragments.face_id
        return super().generate(source, target)


def photos(body: BodyModel, size: int) -> None:
    print("\n| photo | naked IoU | naked uncovered | clothed IoU | clothed uncovered | prepare naked (s) | prepare clothed (s) |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted((SHARED / "images").glob("*")):
        photo, row = read_image(path), []
        for clothes in KINDS.values():
            imitator = Imitator(body, WarpOnlyGenerator(), ImitatorConfig(size=size, clothes=clothes))
            start = time.perf_counter()
            bundle = imitator.prepare([photo]).bundle
            seconds = time.perf_counter() - start
            iou, uncovered = silhouette_overlap(bundle.fragments.face_id, bundle.masks[:, 0])
            row.append((float(iou[0]), float(uncovered[0]), seconds))
        (a, b, c), (d, e, f) = row
        print(f"| {path.name} | {a:.3f} | {100 * b:.1f}% | {d:.3f} | {100 * e:.1f}% | {c:.1f} | {f:.1f} |")


def videos(body: BodyModel, size: int, max_frames: int | None) -> None:
    print("\n| video | frames | naked IoU | clothed IoU | naked uncovered | clothed uncovered |\n|---|---|---|---|---|---|")
    for path in sorted((SHARED / "videos").glob("*.mp4")):
        with VideoReader(path) as reader:
            first = next(iter(reader))
        scores = {}
        for name, clothes in KINDS.items():
            recorder = _Recorder()
            imitator = Imitator(body, recorder, ImitatorConfig(size=size, clothes=clothes))
            subject = imitator.prepare([first])
            values = []
            with VideoReader(path) as reader, BlazePoseDetector(video=False) as judge:
                for result in imitator.imitate(subject, itertools.islice(reader, max_frames), reader.info.rate):
                    own = judge.detect(result.driver) if result.found else None
                    if own is None:
                        continue
                    mask = torch.from_numpy(own.mask)[None].float()
                    iou, uncovered = silhouette_overlap(recorder.face_id.cpu(), mask)
                    values.append((float(iou[0]), float(uncovered[0])))
            scores[name] = np.array(values)
        naked, clothed = scores["naked body"], scores["clothed"]
        print(
            f"| {path.name} | {len(clothed)} | {naked[:, 0].mean():.3f} | {clothed[:, 0].mean():.3f} | "
            f"{100 * naked[:, 1].mean():.1f}% | {100 * clothed[:, 1].mean():.1f}% |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-frames", type=int, default=None, help="Use at most this many frames of each video.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not SHARED.exists():
        print(f"no shared media at {SHARED}")
        return
    body = load_body_model()
    photos(body, args.size)
    videos(body, args.size, args.max_frames)


if __name__ == "__main__":
    main()
