"""`mimic video`: source photo(s) + driver video -> a video of the subject doing the driver's motion."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mimic.media import VideoReader, VideoWriter, read_image
from mimic.pipeline import ImitatedFrame, Imitator, Subject
from mimic.progress import track


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
    side_by_side: bool = False,
    max_frames: int | None = None,
    progress: bool = False,
    full_frame: bool = False,
    prepare: Callable[[list[np.ndarray]], Subject] | None = None,
    allow_short: bool = False,
) -> VideoSummary:
    """Streams `driver` through `imitator` with the subject of the `sources` photos into `out`
    (H.264, the driver's frame rate and audio); `out` appears only when the whole video is done.
    Frames are the person crops, or with `full_frame` the driver's frames with the crop pasted
    back (at the driver's size); `side_by_side` puts the driver on the left. `prepare` makes the
    subject from the source photos (default `imitator.prepare`; e.g. an appearance swap). A
    driver cut short raises InputError (nothing written), or with `allow_short` is used as far
    as it goes (the summary says so)."""
    start = time.perf_counter()
    photos = [read_image(path) for path in sources]
    with VideoReader(driver, allow_short) as reader:  # opened first: a bad driver fails before the slow part
        subject = (prepare or imitator.prepare)(photos)
        prepared = time.perf_counter()
        total = reader.info.num_frames if max_frames is None else min(max_frames, reader.info.num_frames)
        decode_seconds: list[float] = []
        frames = _timed(reader, max_frames, decode_seconds)
        stages: dict[str, list[float]] = {}
        count = missing = 0
        several_people = False
        with VideoWriter(out, reader.info.rate, audio_from=driver) as writer:
            results: Iterator[ImitatedFrame] = imitator.imitate(subject, frames)
            for result in track(results, "imitating", total=total, enabled=progress):
                clock = time.perf_counter()
                made, real = (result.full_frame(), result.frame) if full_frame else (result.image, result.driver)
                writer.write(np.concatenate([real, made], axis=1) if side_by_side else made)
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
