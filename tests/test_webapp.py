"""`mimic app` in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

The page is served by `mimic app` in a subprocess; the browser uploads the shared photo and a
short driver, runs "imitate", waits for the result video and checks that it plays (duration > 0,
frames decoded) after the page showed the progress of the frames; a run without a photo shows
an error message on the page and the server keeps serving; and every request the page made went to the app itself (it works offline).
Screenshots during and after the run are written to MIMIC_SCREENSHOTS (a folder) when set,
else to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mimic.webapp import AppConfig, MimicApp
from tests.conftest import cache_dir, shared_file

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def test_app_run_says_what_is_missing(tmp_path: Path) -> None:
    from mimic.errors import OptionError

    app = MimicApp(AppConfig(work_dir=tmp_path))
    with pytest.raises(OptionError, match="upload a photo"):
        app.run("imitate", [], None, None, "")
    with pytest.raises(OptionError, match="upload a driver video"):
        app.run("imitate", [str(tmp_path / "me.jpg")], None, None, "")
    with pytest.raises(OptionError, match="pick a task"):
        app.run("dance", [str(tmp_path / "me.jpg")], None, None, "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served_app(tmp_path: Path):
    """`mimic app` on a free port of 127.0.0.1: yields its URL; stopped afterwards."""
    pytest.importorskip("gradio", reason="the app extra is not installed (pip install 'mimic-lwgan[app]')")
    port = _free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    if cache_dir() is not None:
        env["MIMIC_CACHE_DIR"] = str(cache_dir())
    log = open(tmp_path / "app.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-c", "from mimic_cli.app import main; main()", "app", "--port", str(port), "--work-dir", str(tmp_path / "runs")],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mimic app did not start: {(tmp_path / 'app.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_app_in_headless_chromium(served_app: str, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (pip install playwright; no browser download)")
    photo = shared_file("images", "pexels_man_wall.jpg")
    driver = shared_file("videos", "mmhuman3d_dribble.mp4")
    shots = Path(os.environ.get("MIMIC_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("request", lambda request: requests.append(request.url))
        page.goto(served_app, wait_until="networkidle")

        # A run without a photo: a message on the page, not a crash.
        page.click("#run")
        page.get_by_text("upload a photo of the person").first.wait_for(timeout=60_000)
        page.screenshot(path=str(shots / "app_error.png"), full_page=True)
        page.reload(wait_until="networkidle")  # the server still serves

        page.set_input_files("#photos input[type=file]", str(photo))
        page.set_input_files("#driver input[type=file]", str(driver))
        page.fill("#max_frames input", "6")
        page.check("#three_panels input")
        page.wait_for_selector("#driver video", timeout=60_000)  # the upload is in
        page.click("#run")
        page.get_by_text(re.compile(r"imitating")).first.wait_for(timeout=600_000)  # the progress of the frames
        page.screenshot(path=str(shots / "app_running.png"), full_page=True)
        page.wait_for_selector("#result_video video[src]", timeout=600_000)
        playback = page.evaluate(
            """async () => {
                const video = document.querySelector('#result_video video');
                video.muted = true;
                if (video.readyState < 1) await new Promise(r => video.addEventListener('loadedmetadata', r, {once: true}));
                await video.play();
                await new Promise(r => setTimeout(r, 1500));
                return {duration: video.duration, width: video.videoWidth, height: video.videoHeight,
                        frames: video.getVideoPlaybackQuality().totalVideoFrames, time: video.currentTime};
            }"""
        )
        page.screenshot(path=str(shots / "app_done.png"), full_page=True)
        status = page.inner_text("#status")
        browser.close()
    assert playback["duration"] > 0 and playback["frames"] > 0 and playback["time"] > 0, playback
    assert playback["width"] == 3 * playback["height"], playback  # source | driver | result
    assert "6 frames" in status
    outside = [url for url in requests if not url.startswith((served_app, "data:", "blob:"))]
    assert not outside, f"the page fetched from outside the app: {outside[:5]}"


def test_app_without_gradio_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mimic.errors import OptionError
    from mimic.webapp import build_page

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now raises ImportError
    with pytest.raises(OptionError, match=r"pip install 'mimic-lwgan\[app\]'"):
        build_page(MimicApp(AppConfig(work_dir=tmp_path)))
