"""`mimic video`: source photo(s) + driver video -> a video of the subject doing the driver's motion."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mimic.core.progress import track
from mimic.core.tensors import to_image
from mimic.errors import OptionError
from mimic.media.images import read_image
from mimic.media.video_read import VideoReader
from mimic.media.video_write import VideoWriter
from mimic.pipeline.imitator import ImitatedFrame, Imitator, Subject

PANELS = ("source", "driver", "result")
"""What an output frame can show, left to right in the order given: the first source photo's
crop, the driver (its crop, or its frame with `full_frame`), the result."""
SIDE_BY_SIDE = ("driver", "result")


def parse_panels(text: str) -> tuple[str, ...]:
    """`"source,driver,result"` -> the panel names in order; OptionError for an unknown, repeated
    or missing "result" panel."""
    panels = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [p for p in panels if p not in PANELS]
    if unknown or len(set(panels)) != len(panels) or "result" not in panels:
        raise OptionError(f"--panels must name each of {', '.join(PANELS)} at most once, result among them; got {text!r}")
    return panels


def _height_matched(image: np.ndarray, height: int) -> np.ndarray:
    """`image` (H, W, 3) scaled to `height` rows, keeping its aspect (no-op when already so)."""
    if image.shape[0] == height:
        return image
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


@dataclass
class Personalization:
    """A generator personalized to the source photos: its subject file and whether it came from the cache."""

    generator: str
    path: Path
    reused: bool


@dataclass
class VideoSummary:
    """What `mimic video` reports."""

    frames: int
    frames_without_person: int
    several_people: bool  # the driver showed several people; the most prominent one was followed
    seconds: float
    prepare_seconds: float
    stage_ms: dict[str, float]  # mean per frame
    frames_announced: int = 0  # frames the driver's container announces
    ended_early: bool = False  # the driver ended before those (read with allow_short)
    personalization: Personalization | None = None  # set by `mimic.api.imitate_video`

    @property
    def frames_per_second(self) -> float:
        return self.frames / max(self.seconds - self.prepare_seconds, 1e-9)


def _timed(frames: Iterator[np.ndarray], max_frames: int | None, seconds: list[float]) -> Iterator[np.ndarray]:
    """At most `max_frames` of `frames`, appending the seconds each took to decode to `seconds`."""
    index = 0
    while max_frames is None or index < max_frames:
        clock = time.perf_counter()
        frame = next(frames, None)
        if frame is None:
            return
        seconds.append(time.perf_counter() - clock)
        index += 1
        yield frame


def imitate_video(
    imitator: Imitator,
    sources: Sequence[Path],
    driver: Path,
    out: Path,
    panels: Sequence[str] = ("result",),
    max_frames: int | None = None,
    progress: bool = False,
    full_frame: bool = False,
    prepare: Callable[[list[np.ndarray]], Subject] | None = None,
    allow_short: bool = False,
) -> VideoSummary:
    """Streams `driver` through `imitator` with the subject of the `sources` photos into `out`
    (H.264, the driver's frame rate and audio); `out` appears only when the whole video is done.
    Frames are the person crops, or with `full_frame` the driver's frames with the crop pasted
    back (at the driver's size); `panels` (`PANELS`, e.g. `SIDE_BY_SIDE`) lays out several side
    by side, the source crop scaled to the frame's height. `prepare` makes the subject from the
    source photos (default `imitator.prepare`; e.g. an appearance swap). A driver cut short
    raises InputError (nothing written), or with `allow_short` is used as far as it goes (the
    summary says so)."""
    panels = parse_panels(",".join(panels))
    start = time.perf_counter()
    photos = [read_image(path) for path in sources]
    with VideoReader(driver, allow_short) as reader:  # opened first: a bad driver fails before the slow part
        subject = (prepare or imitator.prepare)(photos)
        source_crop = to_image(subject.bundle.images[:1])
        prepared = time.perf_counter()
        total = reader.info.num_frames if max_frames is None else min(max_frames, reader.info.num_frames)
        decode_seconds: list[float] = []
        frames = _timed(reader, max_frames, decode_seconds)
        stages: dict[str, list[float]] = {}
        count = missing = 0
        several_people = False
        with VideoWriter(out, reader.info.rate, audio_from=driver) as writer:
            results: Iterator[ImitatedFrame] = imitator.imitate(subject, frames, reader.info.rate)
            for result in track(results, "imitating", total=total, enabled=progress):
                clock = time.perf_counter()
                made, real = (result.full_frame(), result.frame) if full_frame else (result.image, result.driver)
                shown = {"source": _height_matched(source_crop, made.shape[0]), "driver": real, "result": made}
                writer.write(np.concatenate([shown[p] for p in panels], axis=1) if len(panels) > 1 else made)
                result.seconds["encode"] = time.perf_counter() - clock
                result.seconds["decode"] = decode_seconds[count]
                for stage, seconds in result.seconds.items():
                    stages.setdefault(stage, []).append(seconds)
                count += 1
                missing += not result.found
                several_people = result.several_people
    return VideoSummary(
        count, missing, several_people, time.perf_counter() - start, prepared - start,
        {stage: 1000 * float(np.mean(values)) for stage, values in stages.items()},
        reader.info.num_frames, reader.ended_early,
    )
