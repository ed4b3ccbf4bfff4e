"""`mimic eval`: the self-imitation protocol of the iPER benchmark.

Source frame(s) of a video are the subject; the same video is the driver; every generated frame
is compared with the real one (both in the driver's crop): SSIM, PSNR, mask-SSIM (SSIM over the
real person's box) and pose fidelity: BlazePose on the generated frame against BlazePose on the
real one, PCK at 0.05 of the person's height. Source frames themselves are not scored.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from bodymesh.detect import BlazePoseDetector
from bodymesh.keypoints import person_height
from mimic.errors import OptionError
from mimic.media import VideoReader
from mimic.metrics import masked_mean, pck, psnr, ssim_map
from mimic.pipeline import Imitator, to_tensor
from mimic.progress import track

METRICS = ("ssim", "psnr", "mask_ssim", "pck")


@dataclass
class EvalResult:
    """Means over the scored frames (NaN-free: frames where a metric is undefined are skipped)."""

    video: str
    generator: str
    source_frames: list[int]
    frames: int
    ssim: float
    psnr: float
    mask_ssim: float
    pck: float
    frames_per_second: float

    def as_dict(self) -> dict:
        return asdict(self)


def _source_photos(video: Path, indices: Sequence[int]) -> list[np.ndarray]:
    wanted = sorted(set(indices))
    photos: dict[int, np.ndarray] = {}
    with VideoReader(video) as reader:
        for index, frame in enumerate(reader):
            if index in wanted:
                photos[index] = frame
            if index >= wanted[-1]:
                break
    missing = [i for i in wanted if i not in photos]
    if missing:
        raise OptionError(f"source frame(s) {missing} are past the end of '{video}'")
    return [photos[i] for i in indices]


def evaluate_self_imitation(
    imitator: Imitator,
    video: Path,
    source_frames: Sequence[int] = (0,),
    max_frames: int | None = None,
    progress: bool = False,
) -> EvalResult:
    """Runs the self-imitation protocol on `video` with `imitator`'s generator."""
    subject = imitator.prepare(_source_photos(video, source_frames))
    scores: dict[str, list[float]] = {name: [] for name in METRICS}
    scored = 0
    start = time.perf_counter()
    with VideoReader(video) as reader, BlazePoseDetector(video=False) as judge:
        total = reader.info.num_frames if max_frames is None else min(max_frames, reader.info.num_frames)
        frames = itertools.islice(reader, max_frames)
        for index, result in enumerate(track(imitator.imitate(subject, frames), "evaluating", total=total, enabled=progress)):
            if index in source_frames or not result.found:
                continue
            real, fake = to_tensor(result.driver, "cpu"), to_tensor(result.image, "cpu")
            similarity = ssim_map(fake, real)
            scores["ssim"].append(float(masked_mean(similarity)[0]))
            scores["psnr"].append(float(psnr(fake, real)[0]))
            reference = judge.detect(result.driver)
            if reference is not None:
                x0, y0, x1, y1 = (int(round(v)) for v in reference.bbox())
                box = np.zeros(result.driver.shape[:2], dtype=bool)
                box[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
                scores["mask_ssim"].append(float(masked_mean(similarity, torch.from_numpy(box)[None])[0]))
                generated = judge.detect(result.image)
                predicted = generated.keypoints if generated is not None else np.zeros_like(reference.keypoints)
                value = pck(predicted, reference.keypoints, 0.05 * person_height(reference.keypoints))
                if not math.isnan(value):
                    scores["pck"].append(value)
            scored += 1
    seconds = time.perf_counter() - start
    means = {name: float(np.mean(values)) if values else float("nan") for name, values in scores.items()}
    return EvalResult(
        str(video), imitator.generator.name, list(source_frames), scored,
        means["ssim"], means["psnr"], means["mask_ssim"], means["pck"], scored / max(seconds, 1e-9),
    )


def format_table(results: Sequence[EvalResult]) -> str:
    """A markdown table of evaluation results, one row each."""
    lines = [
        "| video | generator | frames | SSIM | PSNR (dB) | mask-SSIM | PCK@0.05 | frames/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {Path(r.video).name} | {r.generator} | {r.frames} | {r.ssim:.3f} | {r.psnr:.2f} | "
            f"{r.mask_ssim:.3f} | {r.pck:.3f} | {r.frames_per_second:.2f} |"
        )
    return "\n".join(lines)
