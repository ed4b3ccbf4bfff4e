"""`mimic app`: a local web page (Gradio) over the one-call helpers of `mimic.api`.

A person uploads photo(s) and a driver video, picks a task (imitate, novel view, swap, text to
pose), watches the progress bar and plays or downloads the result. Errors a user can cause (no
person in the photo, a missing upload) show as a message on the page; the server keeps running.

Gradio because it is what the field's demos use (people know the page) and it gives uploads,
a progress bar, a video player and downloads without hand-written JavaScript. It runs offline:
its page, scripts and styles ship in its wheel; the theme uses the system's fonts (Gradio's
default loads a web font), analytics are off, and nothing else is fetched (the browser test
checks every request the page makes). It binds to 127.0.0.1 unless told otherwise.

Gradio is an optional dependency (`pip install 'mimic-lwgan[app]'`): it is imported when the page
is built, and a clear error says how to install it when it is missing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimic.errors import MimicError, OptionError

__all__ = ["TASKS", "AppConfig", "MimicApp", "build_page", "serve"]

TASKS = ("imitate", "novel view", "swap", "text to pose")
_INSTALL_HINT = "the web app needs Gradio: pip install 'mimic-lwgan[app]'"


@dataclass
class AppConfig:
    """Options of the web app: where it listens, what it runs on, where results go.

    host: interface to bind ("127.0.0.1": this machine only). port: TCP port. device: torch
    device. cache_dir: the body model's cache (None: mimic's default). work_dir: results of the
    runs (None: a new temporary folder). max_frames: the page's default limit of driver frames.
    """

    host: str = "127.0.0.1"
    port: int = 7860
    device: str = "cpu"
    cache_dir: Path | None = None
    work_dir: Path | None = None
    max_frames: int = 48
    size: int = 256


@dataclass
class Result:
    """What one run shows: a video or an image (a file path), and a line of text."""

    video: Path | None = None
    image: Path | None = None
    message: str = ""


def _required(value: Any, message: str) -> Any:
    if not value:
        raise OptionError(message)
    return value


@dataclass
class MimicApp:
    """The runs behind the page, independent of Gradio: one `run` per click. Imitators (body
    model + generator) are built once per generator and kept."""

    config: AppConfig
    _imitators: dict[str, Any] = field(default_factory=dict)
    _runs: int = 0

    def __post_init__(self) -> None:
        if self.config.work_dir is None:
            self.config.work_dir = Path(tempfile.mkdtemp(prefix="mimic-app-"))
        self.config.work_dir.mkdir(parents=True, exist_ok=True)

    def imitator(self, generator: str):
        """The `mimic.api.make_imitator` of `generator` (built on first use)."""
        from mimic.api import make_imitator

        if generator not in self._imitators:
            self._imitators[generator] = make_imitator(
                generator, size=self.config.size, cache_dir=self.config.cache_dir, device=self.config.device
            )
        return self._imitators[generator]

    def run(
        self,
        task: str,
        photos: Sequence[str] | None,
        driver: str | None,
        references: Sequence[str] | None,
        text: str,
        generator: str = "warp",
        max_frames: int | None = None,
        three_panels: bool = False,
    ) -> Result:
        """Runs `task` (`TASKS`) on uploaded files (paths); the result is written into a new
        folder of `work_dir`. Raises MimicError (OptionError for a missing upload)."""
        from mimic import api

        if task not in TASKS:
            raise OptionError(f"pick a task: {', '.join(TASKS)}")
        photos = _required(list(photos or []), "upload a photo of the person (or several of the same person)")
        self._runs += 1
        folder = self.config.work_dir / f"run_{self._runs:04d}"
        folder.mkdir()
        frames = int(max_frames) if max_frames else None
        if task == "imitate":
            _required(driver, "upload a driver video: its motion is what the person will perform")
            imitator = self.imitator(generator)
            out = folder / "imitation.mp4"
            panels = ("source", "driver", "result") if three_panels else ("result",)
            summary = api.imitate_video(photos, driver, out, generator=generator, imitator=imitator, max_frames=frames, panels=panels, cache_dir=self.config.cache_dir)
            missing = f", {summary.frames_without_person} without a person" if summary.frames_without_person else ""
            return Result(video=out, message=f"{summary.frames} frames{missing} in {summary.seconds:.1f} s")
        if task == "novel view":
            out = folder / "turntable.mp4"
            api.novel_views(photos, out, turntable=24, imitator=self.imitator(generator))
            return Result(video=out, message="one full turn in 24 views")
        if task == "swap":
            references = _required(list(references or []), "upload a reference photo: the person whose clothes are worn")
            out = folder / ("swap.mp4" if driver else "swap.png")
            api.swap(photos, references, out, parts="upper", driver=driver, max_frames=frames, imitator=self.imitator(generator))
            return Result(video=out, message="upper clothes swapped") if driver else Result(image=out, message="upper clothes swapped")
        _required((text or "").strip(), "write the pose in words, e.g. 'a man raising both arms above his head'")
        out = folder / "pose.png"
        api.text_to_pose(photos[0], text, out, imitator=self.imitator(generator))
        return Result(image=out, message=f"posed: {text.strip()!r}")


def _gradio():
    try:
        import gradio
    except ImportError:
        raise OptionError(_INSTALL_HINT) from None
    return gradio


def build_page(app: MimicApp):
    """The Gradio Blocks page over `app` (not launched)."""
    gr = _gradio()
    from mimic.core.progress import reporting_to
    from mimic.registry import GENERATOR_NAMES

    def run(task, photos, driver, references, text, generator, max_frames, three_panels, progress=gr.Progress()):
        def listener(description: str, done: int, total: int | None) -> None:
            progress((done, total) if total else None, desc=description)

        progress(None, desc="loading the models and fitting the photo")
        try:
            with reporting_to(listener):
                result = app.run(task, photos, driver, references, text, generator, max_frames, three_panels)
        except MimicError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception as error:  # a bug, not the user's: say so on the page, keep serving
            raise gr.Error(f"mimic failed unexpectedly ({type(error).__name__}: {error}); please report it", print_exception=True) from None
        shown = result.video or result.image
        return (
            gr.update(value=str(result.video) if result.video else None, visible=result.video is not None),
            gr.update(value=str(result.image) if result.image else None, visible=result.image is not None),
            str(shown),
            f"**Done:** {result.message}",
        )

    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    with gr.Blocks(title="mimic", analytics_enabled=False) as page:
        gr.Markdown("# mimic\nMake the person in a photo move like the person in a video. Everything runs on this machine.")
        with gr.Row():
            with gr.Column():
                task = gr.Radio(list(TASKS), value="imitate", label="Task", elem_id="task")
                photos = gr.File(file_count="multiple", file_types=["image"], type="filepath", label="Photo(s) of the person", elem_id="photos")
                driver = gr.Video(sources=["upload"], height=280, label="Driver video (imitate; optional for swap)", elem_id="driver")
                references = gr.File(file_count="multiple", file_types=["image"], type="filepath", label="Reference photo (swap: whose clothes)", elem_id="references")
                text = gr.Textbox(label="Pose in words (text to pose)", placeholder="a man raising both arms above his head", elem_id="text")
                with gr.Row():
                    generator = gr.Dropdown(list(GENERATOR_NAMES), value="warp", label="Generator", elem_id="generator")
                    max_frames = gr.Number(value=app.config.max_frames, precision=0, minimum=1, label="Driver frames (at most)", elem_id="max_frames")
                three_panels = gr.Checkbox(value=False, label="Show source | driver | result", elem_id="three_panels")
                button = gr.Button("Run", variant="primary", elem_id="run")
            with gr.Column():
                video = gr.Video(label="Result", interactive=False, height=420, elem_id="result_video")
                image = gr.Image(label="Result", interactive=False, visible=False, height=420, elem_id="result_image")
                download = gr.File(label="Download", interactive=False, elem_id="download")
                status = gr.Markdown(elem_id="status")
        button.click(run, [task, photos, driver, references, text, generator, max_frames, three_panels], [video, image, download, status])
    return page, theme


def serve(config: AppConfig, block: bool = True):
    """Builds the page and serves it at `config.host:config.port` (offline; see the module
    docstring). With `block`, until interrupted; else returns the running Blocks (`.close()`)."""
    app = MimicApp(config)
    page, theme = build_page(app)
    page.queue(default_concurrency_limit=1)
    try:
        page.launch(
            server_name=config.host, server_port=config.port, theme=theme, prevent_thread_lock=not block,
            allowed_paths=[str(config.work_dir)], show_error=True, share=False, quiet=not block,
        )
    except OSError as error:
        raise OptionError(f"cannot serve on {config.host}:{config.port}: {error}") from None
    return page
