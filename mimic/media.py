"""Image and video I/O: RGB uint8 arrays in, RGB uint8 arrays out, one frame at a time.

Images go through OpenCV, videos through PyAV (FFmpeg). Every array this module returns or
accepts is ``(H, W, 3) uint8`` RGB. Nothing holds a whole video: `VideoReader` decodes lazily,
`VideoWriter` encodes each frame as it arrives (audio copied from another file is interleaved
as the video advances).

Failures a user can cause end in one line: `InputError` for a file that cannot be read (or a
video cut short), `OutputError` for a destination that cannot be written. Writes are atomic
(`atomic_path`, the one helper every output of mimic goes through): the data goes to a hidden
temporary file in the destination's folder and is renamed onto the destination only when it is
complete, so a failure never leaves a half-written (or clobbered) destination.

Videos are read as they are displayed: a display matrix (the rotation phones record) is applied
to every frame, and `VideoInfo` gives the displayed size.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from mimic.errors import InputError, OutputError

PathLike = str | os.PathLike[str]

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
"""File extensions (lower case) that `is_video_path` treats as video."""

WRITABLE_VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".m4v"})
"""Extensions `VideoWriter` can write: containers that accept H.264 (WebM does not)."""

_REMUX_AUDIO_CODECS = frozenset({"aac", "mp3"})
"""Audio codecs copied packet by packet; any other audio is re-encoded to AAC."""


# --------------------------------------------------------------------------------------------
# helpers


def _check_frame(frame: np.ndarray, what: str = "frame") -> np.ndarray:
    """Return ``frame`` as a C-contiguous ``(H, W, 3) uint8`` array or raise ValueError."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"{what} must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{what} must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{what} is empty: {frame.shape}")
    return np.ascontiguousarray(frame)


def _create_temp_next_to(dest: Path, action: str) -> Path:
    """Create an empty hidden file in ``dest``'s folder with ``dest``'s extension.

    Created exclusively with mode 0o666 minus the umask, so the renamed result gets the same
    permissions a plain ``open(dest, "w")`` would give. Raises OutputError when the folder is
    missing or not writable.
    """
    folder = dest.parent
    if dest.is_dir():
        raise OutputError(f"cannot {action} '{dest}': it is a directory")
    if not folder.exists():
        raise OutputError(f"cannot {action} '{dest}': folder '{folder}' does not exist")
    if not folder.is_dir():
        raise OutputError(f"cannot {action} '{dest}': '{folder}' is not a folder")
    for _ in range(10):
        temp = folder / f".{dest.stem}.{secrets.token_hex(4)}.partial{dest.suffix}"
        try:
            fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        except OSError as e:
            raise OutputError(
                f"cannot {action} '{dest}': folder '{folder}' is not writable ({e.strerror})"
            ) from None
        os.close(fd)
        return temp
    raise OutputError(f"cannot {action} '{dest}': no free temporary name in '{folder}'")


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _reason(error: OSError | av.error.FFmpegError) -> str:
    """Why an I/O call failed, without the file name it was given (a temporary one, for writes)."""
    return error.strerror or type(error).__name__


def check_writable(dest: PathLike, action: str = "write") -> None:
    """Raises OutputError unless ``atomic_path(dest)`` could write: tested by creating and
    deleting the hidden file it would use; ``dest`` itself is not touched."""
    _remove_quietly(_create_temp_next_to(Path(dest), action))


@contextlib.contextmanager
def atomic_path(dest: PathLike, action: str = "write") -> Iterator[Path]:
    """Yields a new hidden file next to ``dest`` (same folder and extension) for the caller to
    fill; it is renamed onto ``dest`` when the block ends normally and deleted when it raises.

    The file has the permissions a plain ``open(dest, "w")`` would give (0o666 minus the
    umask). An OSError of the block or of the rename becomes `OutputError` ``cannot {action}
    '{dest}': {reason}``, naming ``dest``, never the temporary file.

    Raises:
        OutputError: ``dest`` is a folder, its folder is missing or not writable, or writing
            failed (full disk, ...).
    """
    dest = Path(dest)
    temp = _create_temp_next_to(dest, action)
    try:
        yield temp
        os.replace(temp, dest)
    except OSError as e:
        _remove_quietly(temp)
        raise OutputError(f"cannot {action} '{dest}': {_reason(e)}") from None
    except BaseException:
        _remove_quietly(temp)
        raise


def _check_readable_file(path: Path, what: str) -> None:
    """Raise InputError unless ``path`` is an existing regular file."""
    if not path.exists():
        raise InputError(f"cannot read {what} '{path}': no such file")
    if path.is_dir():
        raise InputError(f"cannot read {what} '{path}': it is a directory")


# --------------------------------------------------------------------------------------------
# images


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as RGB.

    Grayscale images are repeated to three channels, an alpha channel is dropped (not
    composited), 16-bit images are scaled to 8 bits and the EXIF orientation is applied (what
    OpenCV's ``IMREAD_COLOR`` does).

    Args:
        path: any format OpenCV reads (PNG, JPEG, BMP, TIFF, WebP, ...).

    Returns:
        ``(H, W, 3) uint8`` RGB array.

    Raises:
        InputError: the file is missing, a directory, unreadable, or not a decodable image.
    """
    path = Path(path)
    _check_readable_file(path, "image")
    try:
        data = np.fromfile(path, dtype=np.uint8)  # not cv2.imread: handles non-ASCII paths
    except OSError as e:
        raise InputError(f"cannot read image '{path}': {_reason(e)}") from None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise InputError(f"cannot read image '{path}': not an image file, or it is corrupt")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def encode_image(image: np.ndarray, suffix: str = ".png", path: PathLike | None = None) -> bytes:
    """The bytes of an image file of ``(H, W, 3) uint8`` RGB ``image`` in the format of
    ``suffix`` (".png" losslessly, ".jpg" at quality 95). ``path`` names the file in the
    OutputError raised for a format OpenCV cannot write."""
    image = _check_frame(image, "image")
    params: list[int] = []
    if suffix.lower() in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    try:
        ok, encoded = cv2.imencode(suffix, image[:, :, ::-1], params)
    except cv2.error:
        ok = False
    if not ok:
        raise OutputError(
            f"cannot write image '{path if path is not None else 'image' + suffix}': unknown image extension '{suffix}' "
            "(use .png or .jpg)"
        )
    return encoded.tobytes()


def write_image(path: PathLike, image: np.ndarray) -> None:
    """Write an RGB image atomically; the format follows the extension (.png, .jpg, ...).

    JPEG is written at quality 95, PNG losslessly.

    Args:
        path: destination file; its folder must exist.
        image: ``(H, W, 3) uint8`` RGB.

    Raises:
        ValueError: ``image`` is not ``(H, W, 3) uint8``.
        OutputError: the folder is missing or not writable, or the extension is not an image
            format OpenCV can write.
    """
    path = Path(path)
    encoded = encode_image(image, path.suffix, path)
    with atomic_path(path, "write image") as temp:
        temp.write_bytes(encoded)


# --------------------------------------------------------------------------------------------
# video probing


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


def _open_input(path: Path, what: str = "video") -> av.container.InputContainer:
    _check_readable_file(path, what)
    try:
        return av.open(str(path), mode="r")
    except av.error.InvalidDataError:
        raise InputError(f"cannot read {what} '{path}': not a media file, or it is corrupt") from None
    except av.error.FFmpegError as e:
        raise InputError(f"cannot read {what} '{path}': {_reason(e)}") from None
    except OSError as e:
        raise InputError(f"cannot read {what} '{path}': {_reason(e)}") from None


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


# --------------------------------------------------------------------------------------------
# reading


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
        self._container: av.container.InputContainer | None = _open_input(self.path)
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
            raise InputError(f"cannot read video '{self.path}': decoding failed ({_reason(e)})") from None

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


# --------------------------------------------------------------------------------------------
# writing


def _to_rate(fps: float | Fraction) -> Fraction:
    """Frame rate as a Fraction: 25 -> 25, 29.97 -> 2997/100, Fraction(30000, 1001) as is."""
    if isinstance(fps, Fraction):
        rate = fps
    else:
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps):
            raise ValueError(f"fps must be a positive finite number, got {fps!r}")
        rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    return rate


class VideoWriter:
    """Encode RGB frames to an H.264 video (libx264, yuv420p), atomically.

    Use as::

        with VideoWriter("out.mp4", fps=25, audio_from="driver.mp4") as writer:
            for frame in frames:
                writer.write(frame)

    The video goes to a hidden temporary file next to ``path`` (same folder and extension)
    that is renamed onto ``path`` when the ``with`` block ends normally (or on `close`). If the
    block raises, or on `abort`, the temporary file is deleted and ``path`` is left untouched.

    yuv420p needs even sizes: an odd width or height is *padded* by one column / row that
    repeats the last one (nothing is cropped), so the output is at most one pixel larger.

    Audio: when ``audio_from`` has an audio stream, its first audio stream is copied into the
    output: AAC and MP3 packets are remuxed as they are, other codecs re-encoded to AAC.
    Audio past the video's end is dropped (to packet / frame granularity).

    Attributes:
        path: the destination.
        rate: the output frame rate as a Fraction.
        size: ``(W, H)`` of the frames accepted (None until the first frame when not given).
        frames_written: frames encoded so far.
    """

    def __init__(
        self,
        path: PathLike,
        fps: float | Fraction,
        size: tuple[int, int] | None = None,
        audio_from: PathLike | None = None,
        crf: int = 20,
        preset: str = "medium",
    ) -> None:
        """Check the destination and open the temporary output.

        Args:
            path: destination; extension one of `WRITABLE_VIDEO_EXTENSIONS`; folder must exist.
            fps: frames per second, e.g. 25, 29.97 or ``Fraction(30000, 1001)``.
            size: ``(W, H)`` of the frames; None takes it from the first frame.
            audio_from: a media file whose audio is copied into the output (none when it
                has no audio stream).
            crf: x264 constant rate factor, 0 (lossless) to 51; lower is better quality.
            preset: x264 speed preset (``ultrafast`` ... ``veryslow``).

        Raises:
            ValueError: bad fps, size or crf.
            OutputError: unsupported extension, or the folder is missing or not writable.
            InputError: ``audio_from`` cannot be read.
        """
        self.path = Path(path)
        self.rate = _to_rate(fps)
        if size is not None:
            w, h = size
            if int(w) != w or int(h) != h or w <= 0 or h <= 0:
                raise ValueError(f"size must be (W, H) positive integers, got {size!r}")
            size = (int(w), int(h))
        self.size: tuple[int, int] | None = size
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in [0, 51], got {crf}")
        self._crf = int(crf)
        self._preset = preset
        self.frames_written = 0
        self._container: av.container.OutputContainer | None = None
        self._video: av.video.stream.VideoStream | None = None
        self._audio_in: av.container.InputContainer | None = None
        self._audio_src: av.audio.stream.AudioStream | None = None
        self._audio_out: av.audio.stream.AudioStream | None = None
        self._audio_iter: Iterator | None = None
        self._audio_pending: object | None = None  # a packet or frame read ahead
        self._remux_audio = False
        self._temp: Path | None = None
        self._done = False

        ext = self.path.suffix.lower()
        if ext not in WRITABLE_VIDEO_EXTENSIONS:
            allowed = ", ".join(sorted(WRITABLE_VIDEO_EXTENSIONS))
            raise OutputError(
                f"cannot write video '{self.path}': extension '{self.path.suffix}' is not "
                f"one of {allowed}"
            )
        if audio_from is not None:
            audio_path = Path(audio_from)
            self._audio_in = _open_input(audio_path, "audio source")
            if self._audio_in.streams.audio:
                self._audio_src = self._audio_in.streams.audio[0]
            else:
                self._audio_in.close()
                self._audio_in = None
        try:
            self._temp = _create_temp_next_to(self.path, "write video")
            self._container = av.open(str(self._temp), mode="w")
        except BaseException:
            self._cleanup(delete_temp=True)
            raise
        if self.size is not None:
            try:
                self._start(self.size)
            except BaseException:
                self._cleanup(delete_temp=True)
                raise

    # -- setup ---------------------------------------------------------------------------

    def _start(self, size: tuple[int, int]) -> None:
        """Add the streams once the frame size is known."""
        assert self._container is not None
        w, h = size
        video = self._container.add_stream("libx264", rate=self.rate)
        video.width = w + (w % 2)
        video.height = h + (h % 2)
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = 1 / self.rate
        video.options = {"crf": str(self._crf), "preset": self._preset}
        self._video = video
        if self._audio_src is not None:
            src = self._audio_src
            if src.codec_context.name in _REMUX_AUDIO_CODECS:
                self._audio_out = self._container.add_stream_from_template(src)
                self._remux_audio = True
                self._audio_iter = iter(self._audio_in.demux(src))
            else:
                rate = src.codec_context.sample_rate or 44100
                out = self._container.add_stream("aac", rate=rate)
                out.layout = "mono" if src.codec_context.layout.nb_channels == 1 else "stereo"
                self._audio_out = out
                self._audio_iter = iter(self._audio_in.decode(src))

    # -- writing -------------------------------------------------------------------------

    def write(self, frame: np.ndarray) -> None:
        """Encode one ``(H, W, 3) uint8`` RGB frame; its size must equal ``size``.

        Raises:
            ValueError: wrong dtype / shape / size, or the writer is closed.
            OutputError: the encoder or the disk failed (the output is then aborted).
        """
        if self._done:
            raise ValueError(f"VideoWriter for '{self.path}' is closed")
        frame = _check_frame(frame)
        h, w = frame.shape[:2]
        if self.size is None:
            self.size = (w, h)
            self._start(self.size)
        if (w, h) != self.size:
            raise ValueError(
                f"frame size {w}x{h} differs from the video's {self.size[0]}x{self.size[1]}"
            )
        if w % 2 or h % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        assert self._container is not None and self._video is not None
        av_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        av_frame.pts = self.frames_written
        av_frame.time_base = 1 / self.rate
        try:
            self._container.mux(self._video.encode(av_frame))
            self.frames_written += 1
            self._mux_audio_until(self.frames_written / self.rate)
        except av.error.FFmpegError as e:
            self.abort()
            raise OutputError(f"cannot write video '{self.path}': {_reason(e)}") from None

    def _mux_audio_until(self, end: Fraction) -> None:
        """Copy source audio that starts before ``end`` seconds into the output."""
        if self._audio_iter is None:
            return
        assert self._container is not None and self._audio_out is not None
        while True:
            item = self._audio_pending
            if item is None:
                item = next(self._audio_iter, None)
                if item is None:
                    self._audio_iter = None
                    return
            if item.pts is None:  # demuxer's empty flush packet
                self._audio_pending = None
                continue
            if item.pts * item.time_base >= end:
                self._audio_pending = item
                return
            self._audio_pending = None
            if self._remux_audio:
                item.stream = self._audio_out
                self._container.mux(item)
            else:
                item.pts = None  # let the encoder number the resampled frames
                self._container.mux(self._audio_out.encode(item))

    # -- finishing -----------------------------------------------------------------------

    def close(self) -> None:
        """Flush the encoders and move the finished video onto ``path``.

        Raises:
            OutputError: no frame was written, or flushing / renaming failed; the temporary
                file is removed and ``path`` is untouched.
        """
        if self._done:
            return
        if self.frames_written == 0:
            self.abort()
            raise OutputError(f"cannot write video '{self.path}': no frames were given")
        assert self._container is not None and self._video is not None and self._temp
        try:
            self._container.mux(self._video.encode(None))
            self._mux_audio_until(self.frames_written / self.rate)
            if self._audio_out is not None and not self._remux_audio:
                self._container.mux(self._audio_out.encode(None))
            self._container.close()
            self._container = None
            os.replace(self._temp, self.path)
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise OutputError(f"cannot write video '{self.path}': {_reason(e)}") from None
        self._temp = None
        self._cleanup(delete_temp=False)

    def abort(self) -> None:
        """Stop without writing: delete the temporary file; ``path`` is not touched."""
        if not self._done:
            self._cleanup(delete_temp=True)

    def _cleanup(self, delete_temp: bool) -> None:
        self._done = True
        self._audio_iter = None
        self._audio_pending = None
        for name in ("_container", "_audio_in"):
            container = getattr(self, name)
            setattr(self, name, None)
            if container is not None:
                try:
                    container.close()
                except av.error.FFmpegError:
                    pass
        if delete_temp and self._temp is not None:
            _remove_quietly(self._temp)
            self._temp = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # A writer dropped without close(): leave no temporary file behind.
        if not getattr(self, "_done", True):
            self.abort()


def write_video(
    path: PathLike,
    frames: Iterable[np.ndarray],
    fps: float | Fraction,
    audio_from: PathLike | None = None,
    crf: int = 20,
) -> int:
    """Encode ``frames`` (each ``(H, W, 3) uint8`` RGB, one size) to ``path`` atomically.

    Consumes ``frames`` lazily (a generator is fine). Sizes, padding, audio and errors as in
    `VideoWriter`; if iterating ``frames`` raises, nothing is written and the error propagates.

    Returns:
        the number of frames written.
    """
    with VideoWriter(path, fps, audio_from=audio_from, crf=crf) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.frames_written
