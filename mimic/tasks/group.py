"""`mimic video --person all`: every person of the driver replaced, each by their own subject (a
dance group of your own friends).

The driver's people are tracked (`bodymesh.follow.TrackedPeople`) and numbered 1, 2, ... left to
right where first seen; person n is performed by the n-th subject (people beyond the subjects
stay as they are). Each runs its own `mimic.pipeline.driver_stream.DriverStream` over the driver's
background; the frames are composed at the driver's size, the people farther away first (the
lower edge of a person higher in the frame), each laid where their subject is drawn and where
the driver's person was.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from bodymesh.detect import Detection
from bodymesh.detect_people import PeopleDetector
from bodymesh.fit import BodyFit
from bodymesh.follow import OtherPeople, TrackedPeople
from mimic.core.progress import track
from mimic.errors import NoPersonError, OptionError
from mimic.media.images import read_image
from mimic.media.video_read import VideoReader
from mimic.media.video_write import VideoWriter
from mimic.pipeline.driver_stream import DriverStream
from mimic.pipeline.imitator import DEFAULT_RATE, DETECTION_SIDE, ImitatedFrame, Imitator, Subject
from mimic.pipeline.prefetch import prefetch
from mimic.tasks.video import VideoSummary

_GROW = np.ones((5, 5), np.uint8)  # the subject's drawn area is grown by 2 canvas pixels (soft edges)


def _laid(canvas: np.ndarray, result: ImitatedFrame, mask: np.ndarray | None) -> np.ndarray:
    """`canvas (H, W, 3)` uint8 with `result`'s crop laid over it where its subject is drawn
    and where the driver's person was (`mask (H, W)` in [0, 1], or None)."""
    size = result.image.shape[0]
    region = cv2.dilate(result.silhouette.astype(np.uint8), _GROW).astype(np.float32)
    if mask is not None:
        region = np.maximum(region, result.box.crop(mask, size))
    weight = result.box.paste(region, np.zeros(canvas.shape[:2], np.float32))[..., None]
    pasted = result.box.paste(result.image, canvas)
    return (canvas * (1 - weight) + pasted * weight).round().astype(np.uint8)


def imitate_group(
    imitator: Imitator, subjects: Sequence[Subject], frames: Iterable[np.ndarray], rate: float = DEFAULT_RATE
) -> Iterator[tuple[np.ndarray, int]]:
    """Streams the driver `frames` ((H, W, 3) uint8 RGB, `rate` frames/s): yields each frame
    with its people 1 .. len(subjects) performed by `subjects`, and how many of those were in view.

    Raises NoPersonError when the driver has nobody. `imitator.config` needs the multi-person
    pose model (`people_bundle`) and the driver's background."""
    if imitator.config.people_bundle is None or imitator.config.background != "driver":
        raise OptionError("a group needs the multi-person pose model (people_bundle) and the driver's background")
    streams = [DriverStream(imitator, subject, rate) for subject in subjects]
    ready: list[deque[ImitatedFrame]] = [deque() for _ in streams]
    people: deque[dict[int, Detection]] = deque()  # the people of each frame not yet composed
    detector = PeopleDetector(imitator.config.people_bundle, max_side=DETECTION_SIDE, frame_rate=rate)
    with TrackedPeople(detector) as tracked:

        def detect(frame: np.ndarray) -> tuple[np.ndarray, dict[int, Detection], list[dict[str, float]], list[tuple[BodyFit | None, bool]]]:
            clock = time.perf_counter()
            found = tracked.track(frame)
            seconds = [{"detect": time.perf_counter() - clock} for _ in streams]
            # the fits on this worker too (`DriverStream.fit`), the rendering on the caller's
            return frame, found, seconds, [stream.fit(found.get(number), s) for number, (stream, s) in enumerate(zip(streams, seconds), start=1)]

        def composed() -> Iterator[tuple[np.ndarray, int]]:
            while people and all(ready):
                found, results = people.popleft(), [queue.popleft() for queue in ready]
                canvas = results[0].frame
                order = sorted(range(len(results)), key=lambda n: found[n + 1].bbox()[3] if n + 1 in found else -1.0)
                for n in order:
                    if results[n].box is not None:
                        canvas = _laid(canvas, results[n], found[n + 1].mask if n + 1 in found else None)
                yield canvas, sum(n + 1 in found for n in range(len(results)))

        for frame, found, seconds, fits in prefetch(frames, detect):
            people.append(found)
            for number, (stream, queue, fitted, spent) in enumerate(zip(streams, ready, fits, seconds), start=1):
                queue.extend(stream.place(frame, found.get(number), *fitted, spent, OtherPeople(None, None)))
            yield from composed()
        for stream, queue in zip(streams, ready):
            queue.extend(stream.flush())
        yield from composed()
        if tracked.tracker.people_seen == 0:
            raise NoPersonError("no person found in any frame of the driver")


def imitate_group_video(
    imitator: Imitator, sources: Sequence[Path], driver: Path, out: Path, max_frames: int | None = None, progress: bool = False,
    allow_short: bool = False,
) -> VideoSummary:
    """The driver's people 1, 2, ... performed by the people of the `sources` photos (one photo
    each, in order), written to `out` at the driver's size, frame rate and audio (`out` appears
    only when done). The summary's frames_without_person counts frames where one of them was
    out of view."""
    start = time.perf_counter()
    photos = [read_image(path) for path in sources]
    with VideoReader(driver, allow_short) as reader:
        subjects = [imitator.prepare([photo], names=[f"source photo {n} ('{path}')"]) for n, (photo, path) in enumerate(zip(photos, sources), 1)]
        prepared = time.perf_counter()
        total = reader.info.num_frames if max_frames is None else min(max_frames, reader.info.num_frames)
        frames = (frame for index, frame in zip(range(total), reader))
        count = missing = 0
        with VideoWriter(out, reader.info.rate, audio_from=driver) as writer:
            for frame, in_view in track(imitate_group(imitator, subjects, frames, reader.info.rate), "imitating", total=total, enabled=progress):
                writer.write(frame)
                count += 1
                missing += in_view < len(subjects)
    return VideoSummary(
        count, missing, False, time.perf_counter() - start, prepared - start, {}, reader.info.num_frames, reader.ended_early
    )
