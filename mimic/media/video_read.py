"""Reading videos through PyAV (FFmpeg), one `(H, W, 3) uint8` RGB frame at a time.

Nothing holds a whole video: `VideoReader` decodes lazily. Videos are read as they are
displayed: a display matrix (the rotation phones record) is applied to every frame, and
`VideoInfo` gives the displayed size. `InputError` for a file that cannot be read, or a video
cut short.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mimic.errors import InputError
from mimic.media.files import PathLike, os_reason
from mimic.media.images import check_readable_file

__all__ = ["VIDEO_EXTENSIONS", "VideoInfo", "is_video_path", "open_input", "probe_video", "VideoReader"]

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
"""File extensions (lower case) that `is_video_path` treats as video."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as displayed (its display rotation applied).

    Attributes:
        width, height: displayed frame size in pixels (stored size turned by ``rotation``).
        fps: frames per second.
        rate: the same frame rate as an exact fraction (e.g. 30000/1001), for `VideoWriter`.
        num_frames: frame count; from the container when it says, else estimated as
            ``round(duration_s * fps)`` (the reader may then yield a few more or fewer).
        num_frames_exact: whether ``num_frames`` came from the container.
        duration_s: duration of the video stream in seconds.
        has_audio: the file has at least one audio stream.
        rotation: counter-clockwise degrees (0, 90, 180, 270) the stored frames are turned by
            to be displayed, from the stream's display matrix.
        frames_in_file: frames whose data the file holds, per the container's index of every
            frame (mp4, mov); less than ``num_frames`` when the file is cut short. Equal to
            ``num_frames`` when there is no such index (then only decoding can tell).
    """

    width: int
    height: int
    fps: float
    rate: Fraction
    num_frames: int
    num_frames_exact: bool
    duration_s: float
    has_audio: bool
    rotation: int = 0
    frames_in_file: int = 0

    @property
    def cut_short(self) -> bool:
        """The container announces more frames than the file holds (a truncated copy)."""
        return self.frames_in_file < self.num_frames


def is_video_path(path: PathLike) -> bool:
    """True when ``path``'s extension is a video one (`VIDEO_EXTENSIONS`, any case)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def open_input(path: Path, what: str = "video") -> av.container.InputContainer:
    check_readable_file(path, what)
    try:
        return av.open(str(path), mode="r")
    except av.error.InvalidDataError:
        raise InputError(f"cannot read {what} '{path}': not a media file, or it is corrupt") from None
    except av.error.FFmpegError as e:
        raise InputError(f"cannot read {what} '{path}': {os_reason(e)}") from None
    except OSError as e:
        raise InputError(f"cannot read {what} '{path}': {os_reason(e)}") from None


def _rotation(frame: av.VideoFrame) -> int:
    """Counter-clockwise degrees, a multiple of 90 in [0, 360), that display ``frame``."""
    return int(round(frame.rotation / 90)) % 4 * 90


def _displayed(frame: av.VideoFrame) -> np.ndarray:
    """``(H, W, 3) uint8`` RGB of ``frame`` turned as its display matrix says."""
    image = frame.to_ndarray(format="rgb24")
    turns = _rotation(frame) // 90
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def _frames_in_file(stream: av.video.stream.VideoStream, path: Path, num_frames: int) -> int:
    """Frames whose packets lie inside the file, when the index lists every frame; else ``num_frames``."""
    entries = stream.index_entries
    if len(entries) != num_frames:
        return num_frames
    size = path.stat().st_size
    return sum(1 for entry in entries if entry.pos + entry.size <= size)


def _video_info(container: av.container.InputContainer, path: Path, rotation: int) -> VideoInfo:
    """Describe the first video stream of an open ``container``, whose frames are displayed
    turned by ``rotation`` degrees; InputError if there is none."""
    if not container.streams.video:
        raise InputError(f"cannot read video '{path}': it has no video stream")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if not ctx.width or not ctx.height:
        raise InputError(f"cannot read video '{path}': the video stream has no frame size")

    duration_s = 0.0
    if stream.duration and stream.time_base:
        duration_s = float(stream.duration * stream.time_base)
    elif container.duration:
        duration_s = container.duration / av.time_base

    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate and stream.frames and duration_s > 0:
        rate = Fraction(stream.frames / duration_s).limit_denominator(1001)
    if not rate or rate <= 0:
        raise InputError(f"cannot read video '{path}': its frame rate is unknown")
    rate = Fraction(rate)
    fps = float(rate)

    if stream.frames and stream.frames > 0:
        num_frames, exact = int(stream.frames), True
    else:
        num_frames, exact = int(round(duration_s * fps)), False
    if duration_s <= 0 and num_frames:
        duration_s = num_frames / fps
    width, height = int(ctx.width), int(ctx.height)
    if rotation % 180:
        width, height = height, width
    return VideoInfo(
        width=width,
        height=height,
        fps=fps,
        rate=rate,
        num_frames=num_frames,
        num_frames_exact=exact,
        duration_s=duration_s,
        has_audio=bool(container.streams.audio),
        rotation=rotation,
        frames_in_file=_frames_in_file(stream, path, num_frames) if exact else num_frames,
    )


def _cut_short_error(path: Path, read: int, announced: int) -> InputError:
    return InputError(
        f"video '{path}' is cut short: it holds {read} of the {announced} frames its container "
        "announces (a truncated copy or download?); --allow-short uses the frames it holds"
    )


def probe_video(path: PathLike, whole: bool = False) -> VideoInfo:
    """Read a video file's header and first frame (for the display rotation) and describe it.

    Args:
        whole: also raise InputError when the container's index shows the file is cut short.

    Raises:
        InputError: missing, unreadable, not a media file, no video stream, no decodable
            frame, or (with ``whole``) cut short.
    """
    path = Path(path)
    with VideoReader(path, allow_short=not whole) as reader:
        return reader.info




class VideoReader:
    """Decode a video's frames one at a time (first video stream, multi-threaded decoding).

    Use as ``with VideoReader(path) as reader: for frame in reader: ...``. The reader is its
    own iterator: it can be iterated once, and it closes the file when exhausted (or on
    `close`, or on leaving the ``with`` block). Frames are ``(H, W, 3) uint8`` RGB as
    displayed: the stream's display rotation is applied.

    A file that ends before the frames its container announces (a truncated copy; decoders
    often stop there without an error) raises InputError, at opening when the container's
    index shows it, else when the stream ends early or fails to decode, unless
    ``allow_short``: then the frames up to there are read and ``ended_early`` says so.

    Attributes:
        path: the file.
        info: `VideoInfo` from the header (``info.num_frames`` may be an estimate).
        frames_read: frames yielded so far.
        ended_early: the stream ended before ``info.num_frames`` (an exact count) frames.
    """

    def __init__(self, path: PathLike, allow_short: bool = False) -> None:
        """Open ``path``, read its header and decode the first frame. Raises InputError for a
        missing, unreadable or frameless file, and for one cut short (unless ``allow_short``)."""
        self.path = Path(path)
        self.frames_read = 0
        self.ended_early = False
        self._allow_short = allow_short
        self._container: av.container.InputContainer | None = open_input(self.path)
        try:
            if not self._container.streams.video:
                raise InputError(f"cannot read video '{self.path}': it has no video stream")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
            announced = self._stream.frames
            whole = _frames_in_file(self._stream, self.path, announced) if announced else 0
            self._decoded = self._demux_and_decode(whole if whole < announced else None)
            first = self._next_decoded()
            if first is None and whole < announced:
                raise _cut_short_error(self.path, whole, announced)
            if first is None:
                raise InputError(f"cannot read video '{self.path}': it has no decodable frame")
            self.info = _video_info(self._container, self.path, _rotation(first))
            if self.info.cut_short and not allow_short:
                raise _cut_short_error(self.path, self.info.frames_in_file, self.info.num_frames)
        except BaseException:
            self.close()
            raise
        self._frames = self._decode(first)

    def _demux_and_decode(self, whole: int | None) -> Iterator[av.VideoFrame]:
        """The stream's frames; with ``whole``, from only the first ``whole`` packets (those
        the index shows inside a truncated file): the one the copy was cut in is not decoded
        (it would fail, and take the frames still in the threaded decoder with it)."""
        assert self._container is not None
        packets = 0
        for packet in self._container.demux(self._stream):  # ends with the flushing packet
            if packet.size and whole is not None and packets == whole:
                yield from self._stream.codec_context.decode(None)  # flush here instead
                return
            packets += bool(packet.size)
            yield from packet.decode()

    def _next_decoded(self) -> av.VideoFrame | None:
        """The next decoded frame; None at the end, or at a decoding error past the first
        frame with ``allow_short`` (the frames before it are what the file holds)."""
        try:
            return next(self._decoded, None)
        except av.error.FFmpegError as e:
            if self._allow_short and self.frames_read:
                return None
            raise InputError(f"cannot read video '{self.path}': decoding failed ({os_reason(e)})") from None

    def _decode(self, first: av.VideoFrame) -> Iterator[np.ndarray]:
        try:
            frame: av.VideoFrame | None = first
            while frame is not None:
                self.frames_read += 1
                yield _displayed(frame)
                frame = self._next_decoded()
            if self.frames_read < self.info.num_frames and (self.info.num_frames_exact or self.info.cut_short):
                self.ended_early = True
                if not self._allow_short:
                    raise _cut_short_error(self.path, self.frames_read, self.info.num_frames)
        finally:
            self.close()

    def __iter__(self) -> VideoReader:
        return self

    def __next__(self) -> np.ndarray:
        """Next frame, ``(H, W, 3) uint8`` RGB. StopIteration at the end or after `close`."""
        if self._container is None:
            raise StopIteration
        return next(self._frames)

    def close(self) -> None:
        """Release the file; further iteration stops. Safe to call more than once."""
        container, self._container = self._container, None
        if container is not None:
            container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
