"""Writing videos through PyAV (FFmpeg): `VideoWriter` encodes each `(H, W, 3) uint8` RGB frame
as it arrives (audio copied from another file is interleaved as the video advances) into a
`mimic.media.files.StagedFile`, renamed onto the destination when the video is complete.
`OutputError` for a destination that cannot be written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from mimic.errors import OutputError
from mimic.media.files import PathLike, StagedFile, os_reason
from mimic.media.images import check_frame
from mimic.media.video_read import open_input

__all__ = ["WRITABLE_VIDEO_EXTENSIONS", "VideoWriter", "write_video"]

WRITABLE_VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".m4v"})
"""Extensions `VideoWriter` can write: containers that accept H.264 (WebM does not)."""

_REMUX_AUDIO_CODECS = frozenset({"aac", "mp3"})
"""Audio codecs copied packet by packet; any other audio is re-encoded to AAC."""


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
        self._staged: StagedFile | None = None
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
            self._audio_in = open_input(audio_path, "audio source")
            if self._audio_in.streams.audio:
                self._audio_src = self._audio_in.streams.audio[0]
            else:
                self._audio_in.close()
                self._audio_in = None
        try:
            self._staged = StagedFile(self.path, "write video")
            self._container = av.open(str(self._staged.temp), mode="w")
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
        frame = check_frame(frame)
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
            raise OutputError(f"cannot write video '{self.path}': {os_reason(e)}") from None

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
        assert self._container is not None and self._video is not None and self._staged is not None
        try:
            self._container.mux(self._video.encode(None))
            self._mux_audio_until(self.frames_written / self.rate)
            if self._audio_out is not None and not self._remux_audio:
                self._container.mux(self._audio_out.encode(None))
            self._container.close()
            self._container = None
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise OutputError(f"cannot write video '{self.path}': {os_reason(e)}") from None
        self._cleanup(delete_temp=False)
        self._staged.commit()

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
        if delete_temp and self._staged is not None:
            self._staged.discard()

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
