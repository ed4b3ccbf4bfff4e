"""Tests of mimic.media: image and video I/O on small synthetic files made with PyAV / OpenCV."""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from mimic.errors import InputError, OutputError
from mimic.media.images import read_image, write_image
from mimic.media.video_read import VideoInfo, VideoReader, is_video_path, probe_video
from mimic.media.video_write import VideoWriter, write_video
from tests.media_helpers import cut, faststart_copy

W, H, N = 64, 48, 10
BACKGROUND = (30, 60, 200)  # RGB
SQUARE = (240, 220, 20)


def shared_data_dir() -> Path:
    """The project's shared data folder (``<repo>/../shared/data``); it is not part of the repo."""
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def synthetic_frame(i: int, w: int = W, h: int = H) -> np.ndarray:
    """``(h, w, 3) uint8`` RGB: a flat background with a 16x16 square moving right by 4 px."""
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = BACKGROUND
    x = 4 * i % (w - 16)
    frame[16:32, x : x + 16] = SQUARE
    return frame


def sine(rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def add_audio(container, codec: str, rate: int, seconds: float) -> None:
    """Encode a mono 440 Hz sine into a new audio stream of an open output ``container``."""
    stream = container.add_stream(codec, rate=rate)
    stream.layout = "mono"
    samples = sine(rate, seconds)
    for start in range(0, len(samples), 1024):
        frame = av.AudioFrame.from_ndarray(
            samples[None, start : start + 1024], format="flt", layout="mono"
        )
        frame.sample_rate = rate
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def make_video(path: Path, fps: int = 10, audio: bool = False) -> Path:
    """N frames of `synthetic_frame` (near-lossless H.264), optionally with 1 s of AAC sine."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "0", "preset": "ultrafast"}
        if audio:
            add_audio(container, "aac", 16000, N / fps)
        for i in range(N):
            frame = av.VideoFrame.from_ndarray(synthetic_frame(i), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_audio_only(path: Path, codec: str, seconds: float = 2.0) -> Path:
    with av.open(str(path), "w") as container:
        add_audio(container, codec, 16000, seconds)
    return path


def stream_summary(path: Path) -> dict[str, float]:
    """``{stream type: duration in seconds}`` of a media file."""
    with av.open(str(path)) as container:
        return {
            s.type: float(s.duration * s.time_base) if s.duration else 0.0
            for s in container.streams
        }


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def assert_close_colour(pixel: np.ndarray, rgb: tuple[int, int, int], tol: int = 8) -> None:
    assert np.abs(pixel.astype(int) - np.array(rgb)).max() <= tol, (pixel, rgb)


def assert_like_synthetic(frame: np.ndarray, i: int) -> None:
    """``frame`` decodes `synthetic_frame(i)` (chroma subsampling blurs colour edges a little)."""
    expected = synthetic_frame(i)
    assert np.abs(frame.astype(int) - expected).mean() < 3
    assert_close_colour(frame[4, 4], BACKGROUND)
    x = 4 * i % (W - 16)
    assert_close_colour(frame[24, x + 8], SQUARE)


# --------------------------------------------------------------------------------------------
# images


@pytest.mark.parametrize("size", [(W, H), (33, 17)])
def test_png_round_trip_is_exact(tmp_path: Path, size: tuple[int, int]) -> None:
    image = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    write_image(tmp_path / "a.png", image)
    back = read_image(tmp_path / "a.png")
    assert back.dtype == np.uint8 and back.shape == image.shape
    np.testing.assert_array_equal(back, image)
    assert files_in(tmp_path) == ["a.png"]  # no temporary file left


def test_jpeg_round_trip_is_close(tmp_path: Path) -> None:
    image = synthetic_frame(0)
    write_image(tmp_path / "a.jpg", image)
    back = read_image(tmp_path / "a.jpg")
    assert back.shape == image.shape
    assert np.abs(back.astype(int) - image).mean() < 3
    assert_close_colour(back[4, 4], BACKGROUND)  # RGB order kept


def test_read_image_grayscale_and_alpha_give_rgb(tmp_path: Path) -> None:
    gray = np.arange(H * W, dtype=np.uint8).reshape(H, W)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    back = read_image(tmp_path / "gray.png")
    assert back.shape == (H, W, 3)
    np.testing.assert_array_equal(back, np.repeat(gray[:, :, None], 3, axis=2))

    bgra = np.zeros((H, W, 4), np.uint8)
    bgra[..., 0], bgra[..., 2], bgra[..., 3] = 200, 10, 128  # blue, red, alpha
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)
    back = read_image(tmp_path / "alpha.png")
    assert back.shape == (H, W, 3)
    np.testing.assert_array_equal(back[0, 0], [10, 0, 200])


def test_write_image_replaces_existing_file(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    write_image(tmp_path / "a.png", np.full((4, 4, 3), 7, np.uint8))
    assert read_image(tmp_path / "a.png")[0, 0].tolist() == [7, 7, 7]


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("missing.png", None, "no such file"),
        ("corrupt.jpg", b"this is not a jpeg", "not an image"),
        ("empty.png", b"", "not an image"),
        ("folder.png", "dir", "directory"),
    ],
)
def test_read_image_errors_name_the_file(
    tmp_path: Path, name: str, content: bytes | str | None, reason: str
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=reason) as info:
        read_image(path)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_write_image_errors(tmp_path: Path) -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(OutputError, match="does not exist"):
        write_image(tmp_path / "nope" / "a.png", image)
    with pytest.raises(OutputError, match="extension"):
        write_image(tmp_path / "a.xyz", image)
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "a.png", image.astype(np.float32))
    assert files_in(tmp_path) == []


# --------------------------------------------------------------------------------------------
# probing and reading


def test_is_video_path() -> None:
    assert is_video_path("a.mp4") and is_video_path(Path("x/B.MOV")) and is_video_path("c.webm")
    assert not is_video_path("a.png") and not is_video_path("mp4") and not is_video_path("a.mp3")


def test_probe_video(tmp_path: Path) -> None:
    info = probe_video(make_video(tmp_path / "v.mp4", fps=10))
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height, info.num_frames) == (W, H, N)
    assert info.fps == pytest.approx(10.0) and info.rate == 10 and info.num_frames_exact
    assert info.duration_s == pytest.approx(1.0, abs=0.01)
    assert not info.has_audio
    assert probe_video(make_video(tmp_path / "va.mp4", audio=True)).has_audio


def test_probe_video_estimates_frames_without_a_count(tmp_path: Path) -> None:
    # Matroska stores no frame count: the estimate comes from duration * fps.
    path = tmp_path / "v.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(N):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(synthetic_frame(i))))
        container.mux(stream.encode(None))
    info = probe_video(path)
    assert not info.num_frames_exact
    assert abs(info.num_frames - N) <= 1
    with VideoReader(path) as reader:
        assert sum(1 for _ in reader) == N


@pytest.mark.parametrize(
    "name, reason",
    [
        ("missing.mp4", "no such file"),
        ("corrupt.mp4", "corrupt"),
        ("truncated.mp4", "corrupt"),
        ("audio.m4a", "no video stream"),
        ("folder.mp4", "directory"),
    ],
)
def test_unreadable_videos_raise_input_error(tmp_path: Path, name: str, reason: str) -> None:
    path = tmp_path / name
    if name == "corrupt.mp4":
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    elif name == "truncated.mp4":  # moov (the index) is at the end and gets cut off
        data = make_video(tmp_path / "whole.mp4").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif name == "audio.m4a":
        make_audio_only(path, "aac")
    elif name == "folder.mp4":
        path.mkdir()
    for open_it in (probe_video, VideoReader):
        with pytest.raises(InputError, match=reason) as info:
            open_it(path)
        message = str(info.value)
        assert name in message and message.startswith("cannot read video") and "\n" not in message


def test_reader_is_lazy_and_yields_rgb_frames(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4")
    with VideoReader(path) as reader:
        assert iter(reader) is reader
        assert reader.info.num_frames == N
        first = next(reader)  # one frame decoded, the rest still in the file
        assert first.shape == (H, W, 3) and first.dtype == np.uint8
        assert_like_synthetic(first, 0)
        rest = list(reader)
    assert len(rest) == N - 1
    for i, frame in enumerate(rest, start=1):
        assert_like_synthetic(frame, i)
    assert list(reader) == []  # exhausted and closed; iterating again is empty


def test_reader_close_stops_iteration(tmp_path: Path) -> None:
    reader = VideoReader(make_video(tmp_path / "v.mp4"))
    next(reader)
    reader.close()
    reader.close()
    with pytest.raises(StopIteration):
        next(reader)


def test_shared_dribble_video() -> None:
    path = shared_data_dir() / "videos" / "mmhuman3d_dribble.mp4"
    if not path.is_file():
        pytest.skip(f"shared data not present: {path} (lives outside the repo)")
    info = probe_video(path)
    assert {info.width, info.height} == {1080, 1920}
    assert info.fps == pytest.approx(12.0, abs=0.1)
    assert abs(info.num_frames - 40) <= 1
    assert not info.has_audio
    with VideoReader(path) as reader:
        frame = next(reader)
    assert frame.shape == (info.height, info.width, 3) and frame.dtype == np.uint8


# --------------------------------------------------------------------------------------------
# writing


def test_video_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    n = write_video(out, (synthetic_frame(i) for i in range(N)), fps=Fraction(30000, 1001))
    assert n == N
    assert files_in(tmp_path) == ["out.mp4"]
    info = probe_video(out)
    assert (info.width, info.height, info.num_frames) == (W, H, N)
    assert info.rate == Fraction(30000, 1001)
    with VideoReader(out) as reader:
        frames = list(reader)
    assert len(frames) == N
    for i in (0, N - 1):
        assert_like_synthetic(frames[i], i)


def test_writer_decimal_fps_and_explicit_size(tmp_path: Path) -> None:
    out = tmp_path / "out.mov"
    with VideoWriter(out, fps=29.97, size=(W, H)) as writer:
        for i in range(3):
            writer.write(synthetic_frame(i))
        with pytest.raises(ValueError, match="differs"):
            writer.write(synthetic_frame(0, w=W + 2))
    info = probe_video(out)
    assert info.fps == pytest.approx(29.97) and info.num_frames == 3


def test_writer_pads_odd_sizes(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    frames = [synthetic_frame(i, w=W - 1, h=H - 1) for i in range(3)]
    write_video(out, frames, fps=10)
    info = probe_video(out)
    assert (info.width, info.height) == (W, H)  # padded by one column and one row
    with VideoReader(out) as reader:
        first = next(reader)
    assert_close_colour(first[H - 1, W - 1], BACKGROUND)  # the pad repeats the edge


def test_writer_leaves_nothing_on_exception(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(out, fps=10) as writer:
            writer.write(synthetic_frame(0))
            writer.write(synthetic_frame(1))
            raise RuntimeError("boom")
    assert files_in(tmp_path) == []

    def failing_frames() -> Iterator[np.ndarray]:
        yield synthetic_frame(0)
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError, match="generator failed"):
        write_video(out, failing_frames(), fps=10)
    assert files_in(tmp_path) == []


def test_writer_never_clobbers_existing_destination_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError):
        with VideoWriter(out, fps=10) as writer:
            writer.write(synthetic_frame(0))
            raise RuntimeError
    writer = VideoWriter(out, fps=10)
    writer.write(synthetic_frame(0))
    writer.abort()
    assert out.read_bytes() == b"previous result"
    assert files_in(tmp_path) == ["out.mp4"]


def test_writer_without_frames_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="no frames"):
        write_video(tmp_path / "out.mp4", [], fps=10)
    assert files_in(tmp_path) == []


def test_writer_unwritable_destination_fails_at_open(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "dir.mp4").mkdir()
    for dest, reason in [
        (tmp_path / "nope" / "out.mp4", "does not exist"),
        (tmp_path / "file" / "out.mp4", "not a folder"),
        (tmp_path / "dir.mp4", "directory"),
        (tmp_path / "out.webm", "extension"),
    ]:
        with pytest.raises(OutputError, match=reason) as info:
            VideoWriter(dest, fps=10)
        assert dest.name in str(info.value)
    assert files_in(tmp_path) == ["dir.mp4", "file"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_writer_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            VideoWriter(folder / "out.mp4", fps=10)
        with pytest.raises(OutputError, match="not writable"):
            write_image(folder / "a.png", np.zeros((2, 2, 3), np.uint8))
    finally:
        folder.chmod(0o700)


def test_writer_bad_arguments(tmp_path: Path) -> None:
    for fps in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="fps"):
            VideoWriter(tmp_path / "out.mp4", fps=fps)
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "out.mp4", [np.zeros((H, W, 3), np.float32)], fps=10)
    assert files_in(tmp_path) == []


def test_audio_is_copied(tmp_path: Path) -> None:
    source = make_video(tmp_path / "source.mp4", fps=10, audio=True)
    out = tmp_path / "out.mp4"
    with VideoReader(source) as reader:
        write_video(out, reader, fps=reader.info.rate, audio_from=source)
    durations = stream_summary(out)
    assert set(durations) == {"video", "audio"}
    assert durations["audio"] == pytest.approx(durations["video"], abs=0.15)


def test_audio_is_trimmed_to_the_video(tmp_path: Path) -> None:
    source = make_video(tmp_path / "source.mp4", fps=10, audio=True)  # 1 s of audio
    out = tmp_path / "out.mp4"
    write_video(out, [synthetic_frame(i) for i in range(3)], fps=10, audio_from=source)
    durations = stream_summary(out)
    assert durations["video"] == pytest.approx(0.3, abs=0.01)
    assert durations["audio"] == pytest.approx(0.3, abs=0.15)


@pytest.mark.parametrize("name, codec", [("a.wav", "pcm_s16le"), ("a.mkv", "flac")])
def test_audio_in_other_codecs_is_reencoded_to_aac(tmp_path: Path, name: str, codec: str) -> None:
    source = make_audio_only(tmp_path / name, codec, seconds=2.0)
    out = tmp_path / "out.mp4"
    write_video(out, [synthetic_frame(i) for i in range(N)], fps=10, audio_from=source)
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    durations = stream_summary(out)
    assert durations["audio"] == pytest.approx(durations["video"], abs=0.15)


def test_no_audio_without_audio_from(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    write_video(out, [synthetic_frame(i) for i in range(3)], fps=10)
    assert set(stream_summary(out)) == {"video"}
    silent = make_video(tmp_path / "silent.mp4")  # audio_from without audio: still none
    write_video(out, [synthetic_frame(i) for i in range(3)], fps=10, audio_from=silent)
    assert set(stream_summary(out)) == {"video"}


def test_unreadable_audio_source_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.mp4"):
        VideoWriter(tmp_path / "out.mp4", fps=10, audio_from=tmp_path / "missing.mp4")
    assert files_in(tmp_path) == []


def test_permission_denied_becomes_output_error(tmp_path: Path, monkeypatch) -> None:
    # Same path as the read-only folder test above, but also runs as root.
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("mimic.media.files.os.open", denied)
    with pytest.raises(OutputError, match="not writable"):
        VideoWriter(tmp_path / "out.mp4", fps=10)
    with pytest.raises(OutputError, match="not writable"):
        write_image(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))


def make_phone_video(path: Path, display: np.ndarray, rotation: int = -90, fps: int = 10, frames: int = 4) -> Path:
    """A video stored turned (as phones store portrait clips: landscape frames and a display
    matrix): ``display`` ``(H, W, 3)`` is how it should look, ``rotation`` the matrix's
    counter-clockwise degrees (-90: shown turned clockwise)."""
    stored = np.ascontiguousarray(np.rot90(display, -rotation // 90))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = stored.shape[:2]
        stream.pix_fmt = "yuv444p"
        stream.set_display_rotation(rotation)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("rotation", [-90, 90, 180])
def test_videos_are_read_as_displayed(tmp_path: Path, rotation: int) -> None:
    """Issue #17 item 2: the display matrix phones write is applied on read (was ignored)."""
    display = np.zeros((64, 32, 3), np.uint8)  # portrait, a white top-left corner
    display[:8, :8] = 255
    path = make_phone_video(tmp_path / "phone.mp4", display, rotation)
    info = probe_video(path)
    assert (info.width, info.height, info.rotation) == (32, 64, rotation % 360)
    frames = list(VideoReader(path))
    assert len(frames) == 4 and frames[0].shape == display.shape
    assert frames[0][:8, :8].mean() > 200 and frames[0][-8:, -8:].mean() < 50






def test_a_video_cut_short_is_refused_or_read_as_far_as_it_goes(tmp_path: Path) -> None:
    """Issue #17 item 4: decoders stop at the cut without an error; the reader now compares
    with the container's frame count (and its index, before decoding)."""
    whole = faststart_copy(make_video(tmp_path / "a.mp4"), tmp_path / "whole.mp4")
    short = cut(whole, tmp_path / "short.mp4", 0.9)
    assert not probe_video(whole, whole=True).cut_short
    info = probe_video(short)
    assert info.num_frames == N and info.cut_short and info.frames_in_file < N
    with pytest.raises(InputError, match=rf"short.mp4' is cut short: it holds {info.frames_in_file} of the {N} frames"):
        probe_video(short, whole=True)
    with pytest.raises(InputError, match="cut short"):
        VideoReader(short)
    reader = VideoReader(short, allow_short=True)
    frames = list(reader)
    assert 0 < len(frames) == reader.frames_read < N and reader.ended_early
    complete = VideoReader(whole)
    assert len(list(complete)) == N and not complete.ended_early


def test_a_full_disk_names_the_destination_not_the_temporary_file(tmp_path: Path) -> None:
    """Issue #17 item 9 (a file size limit stands in for a full disk: writes fail with EFBIG)."""
    import subprocess
    import sys

    script = (
        "import resource, signal, sys, numpy as np\n"
        "from mimic.errors import OutputError\n"
        "from mimic.media.video_write import write_video\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
        "noise = np.random.default_rng(0).integers(0, 255, (20, 128, 128, 3), dtype=np.uint8)\n"
        "try:\n"
        "    write_video(sys.argv[1], noise, 10)\n"
        "except OutputError as error:\n"
        "    print(error)\n"
    )
    out = tmp_path / "full.mp4"
    result = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert result.stdout.startswith(f"cannot write video '{out}': "), result.stdout + result.stderr
    assert "partial" not in result.stdout and files_in(tmp_path) == []


def test_text_outputs_have_the_usual_permissions(tmp_path: Path) -> None:
    """Issue #17 item 8: the JSON of `mimic eval` was 0600 (a mkstemp file), other outputs 0644."""
    from mimic.media.files import write_text_atomic

    umask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "scores.json", "[]\n")
    finally:
        os.umask(umask)
    assert (tmp_path / "scores.json").stat().st_mode & 0o777 == 0o644
    assert files_in(tmp_path) == ["scores.json"]
