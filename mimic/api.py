"""One-call helpers: what the `mimic` commands do, as functions of paths and plain options.

Each loads what it needs (body model, generator), runs, writes its outputs atomically and
returns a summary; errors a user can cause raise `mimic.MimicError` subclasses with a message to
act on. For many runs with one model, build an `Imitator` once with `make_imitator` and pass it
(`imitator=`): the body model and generator are then loaded once.

    import mimic
    summary = mimic.imitate_video("me.jpg", "dance.mp4", "me_dancing.mp4", max_frames=48)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bodymesh.smoothing import DEFAULT_SECONDS
from mimic.pipeline.imitator import Imitator, ImitatorConfig
from mimic.tasks.video import Personalization, VideoSummary

if TYPE_CHECKING:
    from mimic.tasks.fit import FitSummary

__all__ = ["PathLike", "check_weights", "make_imitator", "imitate_video", "imitate_group", "novel_views", "swap", "fit", "text_to_pose"]

PathLike = str | os.PathLike
"""A file or folder path: `str` or `pathlib.Path`."""


def _paths(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    return [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]


def make_imitator(
    generator: str = "warp",
    *,
    checkpoint: PathLike | None = None,
    size: int = 256,
    placement: str = "driver",
    background: str = "source",
    body_model: str = "anny",
    model_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    device: str = "cpu",
    progress: bool = False,
    naked_body: bool = False,
    person: int | None = None,
    smooth: float = DEFAULT_SECONDS,
) -> Imitator:
    """An `Imitator` with the named generator (`mimic.GENERATOR_NAMES`; `checkpoint`: weights
    from `mimic train` or a subject file, default the shipped ones) and body model
    (`mimic.BODY_MODELS`; `model_dir` holds SMPL files), on a `size`-pixel square canvas with the
    driver's or the source's `placement` and the `background` of the source or the driver; the
    subject wears its hair and clothes (`mimic.pipeline.clothing`) unless `naked_body`. Every
    person of the driver is tracked (the multi-person pose model is built into the cache folder
    on first use) and `person` followed (1-based, left to right where first seen; None: the
    largest); the fitted motion is smoothed over `smooth` seconds either side (0: not)."""
    from mimic.pipeline.body import load_body_model, people_bundle
    from mimic.registry import GeneratorOptions, load_generator

    config = ImitatorConfig(size=size, placement=placement, background=background, smooth=smooth)
    if naked_body:
        config.clothes = None
    chosen = load_generator(generator, GeneratorOptions(checkpoint=None if checkpoint is None else Path(checkpoint), device=device))
    model = load_body_model(body_model, model_dir, cache_dir, progress=progress)
    # after the body model, whose cache-folder errors come first; `replace` checks `person`
    config = dataclasses.replace(config, people_bundle=people_bundle(cache_dir), person=person)
    return Imitator(model.to(device), chosen, config, device)


def _check_video_job(sources: list[Path], driver: Path, out: Path, weights: Sequence[PathLike | None], allow_short: bool) -> None:
    """Before any work: every source photo reads, the driver is whole (or `allow_short`), and
    `out` is a writable video path that is none of the inputs (the photos, the driver, the
    `weights` files given)."""
    from mimic.media.files import check_outputs
    from mimic.media.images import read_image
    from mimic.media.video_read import probe_video
    from mimic.media.video_write import WRITABLE_VIDEO_EXTENSIONS

    for path in sources:
        read_image(path)
    probe_video(driver, whole=not allow_short)
    inputs = [*sources, driver, *(Path(path) for path in weights if path is not None)]
    check_outputs(inputs, files=[out], extensions=WRITABLE_VIDEO_EXTENSIONS)


def check_weights(generator: str, checkpoint: PathLike | None, subject: PathLike | None) -> None:
    """OptionError unless the generator's weights are given at most once: a `checkpoint`, or a
    `subject` file of `mimic personalize` (which needs the personalizable generator it was made for)."""
    from mimic.errors import OptionError
    from mimic.registry import personalizable_names

    if subject is not None and checkpoint is not None:
        raise OptionError("--subject already holds the generator's weights; give it or --checkpoint, not both")
    personalizable = personalizable_names()
    if subject is not None and generator not in personalizable:
        raise OptionError(f"--subject needs --generator {', '.join(personalizable)} (the one it was made for), not {generator!r}")


def imitate_video(
    source: PathLike | Sequence[PathLike],
    driver: PathLike,
    out: PathLike,
    *,
    generator: str = "warp",
    checkpoint: PathLike | None = None,
    subject: PathLike | None = None,
    personalize: bool = True,
    personalize_steps: int = 60,
    personalize_budget: float = 55.0,
    size: int = 256,
    placement: str = "driver",
    background: str = "source",
    full_frame: bool = False,
    panels: Sequence[str] = ("result",),
    max_frames: int | None = None,
    body_model: str = "anny",
    model_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    device: str = "cpu",
    progress: bool = False,
    allow_short: bool = False,
    naked_body: bool = False,
    person: int | None = None,
    smooth: float = DEFAULT_SECONDS,
    imitator: Imitator | None = None,
) -> VideoSummary:
    """The person of the `source` photo(s) (front / back of one person) performing the motion of
    the `driver` video, written to `out` (.mp4, H.264, the driver's frame rate and audio).

    `panels`: what each frame shows left to right (`mimic.tasks.video.PANELS`: source, driver,
    result). `full_frame`: frames at the driver's size, its person replaced (the driver's
    background). lwgan / pg2 / patn are first fine-tuned on the photos (`personalize`, cached
    per photo) unless `subject` gives a subject file of `mimic personalize`; the summary's
    `personalization` says which file was used. `imitator`: a prepared one (its generator and
    options are used; `generator` must then name its generator, `size`, ... are ignored). A
    driver cut short raises InputError before any work, or with `allow_short` is used as far as
    it goes (the summary's `ended_early`). An `out` that is one of the inputs, or cannot be
    written, raises OutputError before any work. `person`, `smooth`: see `make_imitator`."""
    from mimic.registry import personalizable_names
    from mimic.tasks.video import imitate_video as run

    sources, driver, out = _paths(source), Path(driver), Path(out)
    _check_video_job(sources, driver, out, (checkpoint, subject), allow_short)
    check_weights(generator, checkpoint, subject)
    personalizable = personalizable_names()
    if imitator is None:
        imitator = make_imitator(
            generator, checkpoint=subject or checkpoint, size=size, body_model=body_model, model_dir=model_dir, cache_dir=cache_dir,
            device=device, progress=progress, placement=placement, background="driver" if full_frame else background, naked_body=naked_body,
            person=person, smooth=smooth,
        )
    personalization = None
    if personalize and subject is None and generator in personalizable:
        import copy

        from mimic.core.paths import resolve_cache_dir
        from mimic.tasks.personalize import PersonalizeConfig, personalized_generator

        settings = PersonalizeConfig(steps=personalize_steps, seconds=personalize_budget)
        imitator = copy.copy(imitator)  # the caller's keeps its generator
        imitator.generator, path, reused = personalized_generator(
            imitator, sources, resolve_cache_dir(cache_dir),
            None if checkpoint is None else Path(checkpoint), settings, progress=progress, generator=generator,
        )
        personalization = Personalization(generator, path, reused)
    summary = run(imitator, sources, driver, out, panels, max_frames, progress=progress, full_frame=full_frame, allow_short=allow_short)
    summary.personalization = personalization
    return summary


def imitate_group(
    sources: Sequence[PathLike],
    driver: PathLike,
    out: PathLike,
    *,
    generator: str = "warp",
    checkpoint: PathLike | None = None,
    size: int = 256,
    max_frames: int | None = None,
    body_model: str = "anny",
    model_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    device: str = "cpu",
    progress: bool = False,
    allow_short: bool = False,
    naked_body: bool = False,
    smooth: float = DEFAULT_SECONDS,
) -> VideoSummary:
    """Every person of the `driver` (1, 2, ... left to right where first seen) performed by the
    person of the matching `sources` photo (one photo a person; people beyond them stay as they
    are), written to `out` at the driver's size (`mimic.tasks.group`). The generator runs as it is
    (no personalization). Errors as `imitate_video`."""
    from mimic.tasks.group import imitate_group_video

    sources, driver, out = _paths(sources), Path(driver), Path(out)
    _check_video_job(sources, driver, out, (checkpoint,), allow_short)
    imitator = make_imitator(
        generator, checkpoint=checkpoint, size=size, body_model=body_model, model_dir=model_dir, cache_dir=cache_dir, device=device,
        progress=progress, background="driver", naked_body=naked_body, smooth=smooth,
    )
    return imitate_group_video(imitator, sources, driver, out, max_frames, progress=progress, allow_short=allow_short)


def novel_views(
    source: PathLike | Sequence[PathLike],
    out: PathLike,
    *,
    angles: Sequence[float] = (0.0, 90.0, 180.0, 270.0),
    turntable: int | None = None,
    tilt: float = 0.0,
    fps: float = 24.0,
    progress: bool = False,
    imitator: Imitator | None = None,
    **options,
) -> list[Path]:
    """The person of the `source` photo(s) turned about their vertical axis: one PNG per angle
    (degrees; `mimic.tasks.novel_view`) in the folder `out`, or with `turntable=N` one video `out`
    (.mp4) of a full turn in N frames at `fps`. `options`: those of `make_imitator`. Returns the
    files written."""
    from mimic.media.images import read_image
    from mimic.tasks.novel_view import write_turntable, write_views

    photos = [read_image(p) for p in _paths(source)]
    imitator = imitator or make_imitator(progress=progress, **options)
    if turntable is not None:
        write_turntable(imitator, photos, turntable, Path(out), fps, tilt, progress=progress)
        return [Path(out)]
    return write_views(imitator, photos, list(angles), Path(out), tilt, progress=progress)


def swap(
    source: PathLike | Sequence[PathLike],
    reference: PathLike | Sequence[PathLike],
    out: PathLike,
    *,
    parts: str = "upper",
    driver: PathLike | None = None,
    panels: Sequence[str] = ("result",),
    max_frames: int | None = None,
    progress: bool = False,
    imitator: Imitator | None = None,
    **options,
) -> Path:
    """Appearance transfer: the person of `source` wearing the clothes of the person of
    `reference` on `parts` ("upper", "lower", "full" or part names, `mimic.tasks.swap`),
    as an image `out`, or with a `driver` video performing its motion (a video `out`).
    `options`: those of `make_imitator`. Returns `out`."""
    from mimic.media.images import read_image, write_image
    from mimic.media.video_read import probe_video
    from mimic.tasks.swap import parse_parts, swap_photo, swap_video

    chosen = parse_parts(parts)
    sources, out = _paths(source), Path(out)
    photos = [read_image(p) for p in sources]
    references = [read_image(p) for p in _paths(reference)]
    if driver is not None:
        probe_video(driver)
    imitator = imitator or make_imitator(progress=progress, **options)
    if driver is None:
        write_image(out, swap_photo(imitator, photos, references, chosen))
    else:
        swap_video(imitator, sources, references, chosen, Path(driver), out, panels, max_frames, progress=progress)
    return out


def fit(
    input: PathLike,
    out: PathLike = "fit_out",
    *,
    body_model: str = "anny",
    glb: PathLike | None = None,
    obj: bool = False,
    max_frames: int | None = None,
    model_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> "FitSummary":
    """Fits the body model to the person of a photo or of every frame of a video; writes
    fit.npz (a video's: every person's track), summary.json and an overlay into the folder `out`
    (`mimic.tasks.fit`), an animated
    skinned glTF to `glb` and per-frame OBJs into `out/meshes/` (`obj`) when asked. Returns the
    `FitSummary`."""
    from mimic.media.video_read import is_video_path
    from mimic.pipeline.body import load_body_model, people_bundle
    from mimic.tasks.fit import FitExports, fit_file

    model = load_body_model(body_model, model_dir, cache_dir, progress=progress)
    exports = FitExports(None if glb is None else Path(glb), obj)
    return fit_file(
        Path(input), Path(out), model.to(device), device=device, max_frames=max_frames, progress=progress, exports=exports,
        people_bundle=people_bundle(cache_dir) if is_video_path(input) else None,
    )


def text_to_pose(
    source: PathLike,
    text: str,
    out: PathLike,
    *,
    seed: int = 0,
    checkpoint: PathLike | None = None,
    progress: bool = False,
    imitator: Imitator | None = None,
    **options,
) -> np.ndarray:
    """The person of the `source` photo in a pose described by `text` (the shipped text2pose
    model, or `checkpoint`), written to the image `out`; returns the image `(size, size, 3)` uint8."""
    import torch

    from mimic.media.images import read_image, write_image
    from mimic.tasks.pose import check_text, load_text2pose, pose_person
    from mimic.text2pose.pose_text import embed_pose_texts
    from mimic.text2pose.text_encoder import SentenceEncoder

    text = check_text(text)
    photo = read_image(source)
    imitator = imitator or make_imitator(progress=progress, **options)
    text2pose = load_text2pose(None if checkpoint is None else Path(checkpoint), imitator.device)
    embedding = embed_pose_texts(SentenceEncoder.load(device=imitator.device), [text])
    keypoints = text2pose.keypoints(embedding, text2pose.noise(1, torch.Generator().manual_seed(seed)))[0]
    image = pose_person(imitator, imitator.prepare([photo]), keypoints).image
    write_image(out, image)
    return image
