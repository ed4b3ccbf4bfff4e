"""Faults a user hits (issue #17): bad inputs and outputs, damaged caches, videos cut short or
turned, interruptions. Each ends in one line `mimic: error: ...` (or `mimic: interrupted; ...`),
a non-zero exit and nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mimic.core.progress import ConsoleReport
from mimic.media.images import write_image
from mimic.media.video_read import VideoReader, probe_video
from mimic.media.video_write import write_video
from tests.conftest import cache_dir
from tests.media_helpers import cut, faststart_copy

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def _built_model(request):
    request.getfixturevalue("anny_body")


def run_in_process(capfd, *args: str) -> tuple[int, str, str]:
    """`mimic ARGS` through the script's entry point, in this process (no start-up cost):
    exit code, stdout, stderr."""
    from mimic_cli.app import main

    saved_argv, saved = sys.argv, {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    sys.argv = ["mimic", *args]
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    finally:
        sys.argv = saved_argv
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    out, err = capfd.readouterr()
    return code, out, err


def tree(folder: Path) -> list[str]:
    """Every path under `folder`, hidden ones too, relative and sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def media(tmp_path_factory, demo_inputs):
    """Inputs of the table below, in one folder: the demo's photo and driver, and bad ones."""
    folder = tmp_path_factory.mktemp("media")
    source, driver = (Path(shutil.copy(p, folder / p.name)) for p in demo_inputs)
    (folder / "corrupt.png").write_bytes(b"\x89PNG not really")
    (folder / "text.mp4").write_text("not a video\n")
    (folder / "truncated.mp4").write_bytes(Path(driver).read_bytes()[:2000])
    write_image(folder / "wall.png", np.full((200, 150, 3), 180, np.uint8))
    write_video(folder / "one_frame.mp4", [np.full((64, 48, 3), 90, np.uint8)], 10)
    write_video(folder / "empty_room.mp4", [np.full((64, 48, 3), 90, np.uint8)] * 3, 10)
    cut(faststart_copy(driver, folder / "indexed.mp4"), folder / "short.mp4", 0.6)
    os.link(driver, folder / "hardlink.mp4")
    (folder / "symlink.mp4").symlink_to(driver)
    (folder / "a_folder.mp4").mkdir()
    (folder / "cache_file").write_text("a file where the cache folder should be\n")
    return folder


# (name, args with {m} for the media folder and {o} for an empty output folder, words of the error)
BAD_INPUTS = [
    ("missing source", "video -s {m}/nope.png -d {m}/driver.mp4 -o {o}/r.mp4", ["nope.png", "no such file"]),
    ("corrupt source", "video -s {m}/corrupt.png -d {m}/driver.mp4 -o {o}/r.mp4", ["corrupt.png"]),
    # a folder of photos is a batch (one video per pair), which needs a folder to write into
    ("source folder, video out", "video -s {m} -d {m}/driver.mp4 -o {o}/r.mp4", ["batch", "give --out a folder"]),
    ("missing driver", "video -s {m}/source.png -d {m}/nope.mp4 -o {o}/r.mp4", ["nope.mp4"]),
    ("driver not media", "video -s {m}/source.png -d {m}/text.mp4 -o {o}/r.mp4", ["text.mp4", "not a media file"]),
    ("driver truncated", "video -s {m}/source.png -d {m}/truncated.mp4 -o {o}/r.mp4", ["truncated.mp4"]),
    ("driver cut short", "video -s {m}/source.png -d {m}/short.mp4 -o {o}/r.mp4", ["short.mp4", "cut short", "--allow-short"]),
    ("output is the driver", "video -s {m}/source.png -d {m}/driver.mp4 -o {m}/driver.mp4", ["is the input"]),
    ("output is the driver by ..", "video -s {m}/source.png -d {m}/driver.mp4 -o {m}/../{mname}/driver.mp4", ["is the input"]),
    ("output links to the driver", "video -s {m}/source.png -d {m}/driver.mp4 -o {m}/symlink.mp4", ["is the input"]),
    ("output is a hard link", "video -s {m}/source.png -d {m}/driver.mp4 -o {m}/hardlink.mp4", ["is the input"]),
    ("output is the source", "video -s {m}/source.png -d {m}/driver.mp4 -o {m}/source.png", ["is the input"]),
    ("output folder missing", "video -s {m}/source.png -d {m}/driver.mp4 -o {o}/no/such/r.mp4", ["does not exist"]),
    ("output is a folder", "video -s {m}/source.png -d {m}/driver.mp4 -o {m}/a_folder.mp4", ["directory"]),
    ("output extension", "video -s {m}/source.png -d {m}/driver.mp4 -o {o}/r.webm", [".webm"]),
    ("size past memory", "video -s {m}/source.png -d {m}/driver.mp4 -o {o}/r.mp4 --size 100000", ["size 100000", "largest size that fits is"]),
    ("model dir with anny", "video -s {m}/source.png -d {m}/driver.mp4 -o {o}/r.mp4 --model-dir {m}", ["--model-dir", "anny"]),
    ("unknown generator", "video -s {m}/source.png -d {m}/driver.mp4 -o {o}/r.mp4 --generator nope", ["nope"]),
    ("unknown body model", "video -s {m}/source.png -d {m}/driver.mp4 -o {o}/r.mp4 --body-model mannequin", ["mannequin"]),
    ("smpl without files", "video -s {m}/source.png -d {m}/driver.mp4 -o {o}/r.mp4 --body-model smpl", ["smpl.is.tue.mpg.de"]),
    ("bad device", "video -s {m}/source.png -d {m}/driver.mp4 -o {o}/r.mp4 --device nope", ["nope"]),
    ("cache folder is a file", "video -s {m}/source.png -d {m}/driver.mp4 -o {o}/r.mp4 --cache-dir {m}/cache_file", ["cache folder", "is a file"]),
    ("no person in the source", "video -s {m}/wall.png -d {m}/driver.mp4 -o {o}/r.mp4", ["no person"]),
    ("fit: missing input", "fit {m}/nope.png -o {o}/fit", ["nope.png"]),
    ("fit: corrupt input", "fit {m}/corrupt.png -o {o}/fit", ["corrupt.png"]),
    ("fit: cut short", "fit {m}/short.mp4 -o {o}/fit", ["cut short"]),
    ("fit: output folder is a file", "fit {m}/source.png -o {m}/corrupt.png", ["is a file"]),
    ("fit: writes over its input", "fit {m}/overlay.png -o {m}", ["is the input"]),
    ("fit: cache folder is a file", "fit {m}/source.png -o {o}/fit --cache-dir {m}/cache_file", ["cache folder"]),
    ("fit: no person", "fit {m}/wall.png -o {o}/fit", ["no person"]),
    ("eval: one frame", "eval -v {m}/one_frame.mp4 --json {o}/s.json", ["nothing to score", "one_frame.mp4"]),
    ("eval: source frame past the end", "eval -v {m}/driver.mp4 --source-frames 99", ["99", "past the end"]),
    ("eval: bad source frames", "eval -v {m}/driver.mp4 --source-frames a,b", ["--source-frames"]),
    ("eval: json is the video", "eval -v {m}/driver.mp4 --json {m}/driver.mp4", ["is the input"]),
    ("eval: json folder missing", "eval -v {m}/driver.mp4 --json {o}/no/s.json", ["does not exist"]),
    ("eval: sheet folder is a file", "eval -v {m}/driver.mp4 --sheet {m}/corrupt.png", ["is a file"]),
    ("eval: no person in the source frame", "eval -v {m}/empty_room.mp4", ["no person found in source frame 0 of", "empty_room.mp4"]),
]


@pytest.mark.parametrize("name, args, words", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_inputs_are_one_line_and_leave_nothing(capfd, tmp_path, media, name, args, words):
    if name == "fit: writes over its input":
        write_image(media / "overlay.png", np.full((64, 48, 3), 90, np.uint8))
    before = tree(media)
    driver = (media / "driver.mp4").read_bytes()
    argv = args.format(m=media, o=tmp_path, mname=media.name).split()
    code, _, err = run_in_process(capfd, *argv)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("mimic: error: "), err
    for word in words:
        assert word in lines[0], lines[0]
    assert tree(media) == before and tree(tmp_path) == []
    assert (media / "driver.mp4").read_bytes() == driver


def test_output_checks_come_before_the_preparation(capfd, tmp_path, media, monkeypatch):
    """Issue #17 item 9: `--out` in a missing folder failed only after the source was prepared."""
    import mimic.pipeline.imitator

    def prepare(*args, **kwargs):
        raise AssertionError("prepared before the output was checked")

    monkeypatch.setattr(mimic.pipeline.imitator.Imitator, "prepare", prepare)
    code, _, err = run_in_process(capfd, "video", "-s", str(media / "source.png"), "-d", str(media / "driver.mp4"), "-o", str(tmp_path / "no" / "r.mp4"))
    assert code == 1 and "does not exist" in err


def test_eval_scores_are_valid_json(tmp_path):
    """Issue #17 item 8: an undefined metric (NaN) was written as `NaN`, which JSON has not."""
    from mimic.tasks.evaluate import EvalResult

    row = EvalResult("v.mp4", "warp", [0], 3, 0.5, float("nan"), 20.0, float("nan"), float("nan"), 1.0).as_dict()
    assert row["lpips"] is None and row["mask_ssim"] is None and row["pck"] is None
    assert json.loads(json.dumps(row, allow_nan=False)) == row


@pytest.mark.slow
def test_driver_cut_short_with_allow_short_says_how_many_frames(capfd, tmp_path, media):
    """Issue #17 item 4: a driver cut at 60% gave a short video, exit 0, no word."""
    out = tmp_path / "r.mp4"
    code, stdout, err = run_in_process(capfd, "video", "-s", str(media / "source.png"), "-d", str(media / "short.mp4"), "-o", str(out), "--allow-short")
    read = probe_video(out).num_frames
    assert code == 0, err
    assert 0 < read < 10 and f"read {read} of the 10 frames its container announces" in err, err


@pytest.mark.slow
def test_phone_video_is_imitated_upright(capfd, tmp_path, media):
    """Issue #17 item 2: a portrait driver stored landscape with a display matrix was processed
    sideways (`--full-frame` wrote it landscape, the subject lying down)."""
    frames = list(VideoReader(media / "driver.mp4"))[:3]
    phone = tmp_path / "phone.mp4"
    _phone_clip(phone, frames)
    assert next(iter(VideoReader(phone))).shape == frames[0].shape  # read upright
    out = tmp_path / "full.mp4"
    code, stdout, err = run_in_process(capfd, "video", "-s", str(media / "source.png"), "-d", str(phone), "-o", str(out), "--full-frame")
    assert code == 0, err
    assert "without a person" not in stdout
    info = probe_video(out)
    assert (info.width, info.height) == (frames[0].shape[1], frames[0].shape[0])  # portrait, as displayed


def _phone_clip(path: Path, frames: list[np.ndarray]) -> None:
    """`frames` (as displayed) stored turned a quarter counter-clockwise with a -90 degrees
    display matrix, as a phone records a portrait clip."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.height, stream.width = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.set_display_rotation(-90)
        for index, frame in enumerate(frames):
            packed = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(frame, 1)), format="rgb24")
            packed.pts = index
            container.mux(stream.encode(packed))
        container.mux(stream.encode(None))


# -- the body-model cache ----------------------------------------------------------------------


@pytest.fixture
def cache_copy(tmp_path, anny_body):
    """A cache folder holding a copy of the built compact model file (and its check)."""
    from bodymesh.anny_data import compact_files
    from mimic.core.paths import default_cache_dir

    built = compact_files(cache_dir() or default_cache_dir())[0]
    cache = tmp_path / "cache"
    target = cache / built.relative_to(built.parents[2])
    target.parent.mkdir(parents=True)
    shutil.copyfile(built, target)
    return cache, target, built


@pytest.mark.parametrize("damage", ["truncated", "bit flipped", "truncated, no check file"])
def test_damaged_cache_entry_is_rebuilt_with_a_notice(capfd, monkeypatch, cache_copy, damage):
    """Issue #17 item 3: a truncated model file in the cache failed every later run with a
    SafetensorError traceback. (The two-minute build is replaced by a copy of the real file.)"""
    import bodymesh.anny_data as anny_data

    cache, target, built = cache_copy
    anny_data.load_anny(cache)  # records the check file
    assert target.with_name(target.name + anny_data.CHECK_SUFFIX).is_file()
    data = bytearray(target.read_bytes())
    if damage == "bit flipped":
        data[len(data) // 2] ^= 1
        target.write_bytes(bytes(data))
    else:
        target.write_bytes(bytes(data[: len(data) * 2 // 3]))
    if damage.endswith("no check file"):
        target.with_name(target.name + anny_data.CHECK_SUFFIX).unlink()
    builds = []

    def build(data_dir: Path, progress: bool) -> None:
        builds.append(data_dir)
        shutil.copyfile(built, target)
        anny_data._record(target)

    monkeypatch.setattr(anny_data, "_build", build)
    capfd.readouterr()
    model = anny_data.load_anny(cache, ConsoleReport())
    assert model is not None and len(builds) == 1
    err = capfd.readouterr().err
    assert f"mimic: the cached body model '{target}' is damaged; building it again" in err
    anny_data.load_anny(cache)
    assert len(builds) == 1  # intact again: not rebuilt


def test_stale_build_folders_are_swept(cache_copy):
    """Issue #17 item 6: a build killed (SIGKILL) left its 437 MB `building-*` folder forever."""
    from bodymesh.anny_data import anny_data_dir, load_anny

    cache, _, _ = cache_copy
    stale = anny_data_dir(cache) / "building-4194303"
    (stale / "v14").mkdir(parents=True)
    (stale / "v14" / "blendshapes.pt").write_bytes(b"\0" * 1000)
    load_anny(cache)
    assert not stale.exists()


def test_a_run_waiting_for_anothers_build_says_so(capfd, cache_copy):
    """Issue #17 item 9: a run waiting on another's build lock printed nothing."""
    import fcntl

    from bodymesh.anny_data import WAIT_MESSAGE, anny_data_dir, load_anny

    cache, _, _ = cache_copy
    lock = open(anny_data_dir(cache) / ".lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    threading.Timer(1.0, lock.close).start()  # the other process finishes its build
    capfd.readouterr()
    load_anny(cache, ConsoleReport())
    assert WAIT_MESSAGE in capfd.readouterr().err


# -- interruptions -----------------------------------------------------------------------------


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from mimic_cli.app import main; main()", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env=env or dict(os.environ, **({"MIMIC_CACHE_DIR": str(cache_dir())} if cache_dir() else {})),
    )


def _wait_for(condition, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _stop(process: subprocess.Popen, signum: int) -> str:
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, err
    assert err.strip().splitlines()[-1] == "mimic: interrupted; nothing written", err
    return err


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_writing_leaves_nothing(tmp_path, tmp_path_factory, media, signum):
    """Issue #17 item 6: SIGTERM during `mimic fit` left hidden `.partial` files and an empty
    output folder; Ctrl-C (SIGINT) exited without a word."""
    out = tmp_path / "deep" / "fit"
    driver = tmp_path_factory.mktemp("long") / "driver.mp4"  # the demo's 10 frames 6 times: seconds left to interrupt
    with VideoReader(media / "driver.mp4") as reader:
        write_video(driver, list(reader) * 6, 10)
    process = _start(["fit", str(driver), "-o", str(out)])
    _wait_for(lambda: out.exists() and any(out.glob(".partial-*/*")), process, 120)
    time.sleep(0.3)  # frames are being written
    _stop(process, signum)
    assert tree(tmp_path) == []


@pytest.mark.slow
def test_sigterm_during_the_model_build_leaves_no_build_folder(tmp_path, media):
    """Issue #17 item 6: SIGTERM during the one-time build left a 437 MB `building-*` folder."""
    cache = tmp_path / "cache"
    env = dict(os.environ, MIMIC_CACHE_DIR=str(cache))
    process = _start(["fit", str(media / "source.png"), "-o", str(tmp_path / "fit")], env)
    _wait_for(lambda: any(cache.glob("anny-*/building-*/*")), process, 120)
    time.sleep(3.0)  # the build is writing its intermediate files
    _stop(process, signal.SIGTERM)
    assert not list(cache.glob("anny-*/building-*")) and not (tmp_path / "fit").exists()
