"""The `mimic` command: thin commands over the library, progress on stderr, one-line errors.

The environment is read here and nowhere else: MIMIC_CACHE_DIR (where one-time builds are
kept, default ~/.cache/mimic) and MIMIC_SMPL_DIR (the user's SMPL / SMPL-X files).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app_command import app as app_command
from .options import (
    AllowShortOption, BodyModelOption, CacheDirOption, CheckpointOption, DeviceOption, GeneratorOption, ModelDirOption, NakedBodyOption,
    check_device, check_model_dir, clothes,
)
from .personalize_command import BudgetOption, StepsOption, personalize as personalize_command, resolve_cache_dir
from .pose_command import pose
from .swap_command import swap
from .train_command import train
from .view_command import view
from bodymesh.smoothing import DEFAULT_LAG
from mimic.generators.registry import GENERATOR_NAMES
from mimic.errors import MimicError

app = typer.Typer(
    name="mimic",
    help="Human motion imitation with 3D body meshes: make the person in a photo move like the person in a video.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.callback()
def _root() -> None:
    """mimic: human motion imitation with 3D body meshes."""


@app.command()
def fit(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="A photo or a video of one person.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("fit_out"),
    body_model: BodyModelOption = "anny",
    model_dir: ModelDirOption = None,
    cache_dir: CacheDirOption = None,
    device: DeviceOption = "cpu",
    max_frames: Annotated[Optional[int], typer.Option(help="Fit at most this many video frames.", min=1)] = None,
    allow_short: AllowShortOption = False,
    glb: Annotated[
        Optional[Path], typer.Option("--glb", help="Also write an animated, skinned glTF (.glb) of the fitted body here (textured for a photo).")
    ] = None,
    obj: Annotated[bool, typer.Option("--obj", help="Also write one OBJ mesh per frame into OUT/meshes/.")] = False,
) -> None:
    """Fit a 3D body mesh to the person in a photo or in every frame of a video.

    Writes fit.npz (per-frame pose, shape, camera, keypoints; with smpl/smplx also smplx's
    keys), summary.json and an overlay (overlay.png or overlay.mp4) of the mesh drawn over the input.
    """
    from bodymesh.registry import load_body_model
    from mimic.api import people_bundle
    from mimic.errors import OptionError
    from mimic.fit_media import FitExports, fit_file, output_names
    from mimic.media import probe_video, is_video_path, read_image
    from mimic.outputs import check_outputs

    device = check_device(device)
    check_model_dir(ctx, body_model)
    if glb is not None and glb.suffix.lower() != ".glb":
        raise OptionError(f"--glb writes a binary glTF: give a file name ending in .glb, got '{glb}'")
    # Check the input and the outputs before the (possibly long) model load.
    if is_video_path(input):
        probe_video(input, whole=not allow_short)
    else:
        read_image(input)
    exports = [glb] if glb is not None else []
    check_outputs([input], files=[out / name for name in output_names(input)] + exports, folders=[out])
    model = load_body_model(body_model, model_dir, cache_dir, progress=True).to(device)
    options = (
        {"max_frames": max_frames, "progress": True, "allow_short": allow_short, "people_bundle": people_bundle(cache_dir)}  # every person fitted
        if is_video_path(input) else {}
    )
    summary = fit_file(input, out, model, device=device, exports=FitExports(glb, obj), **options)
    if summary.ended_early:
        _warn_short(input, summary.frames, summary.frames_announced)
    frames = f"{summary.frames} frame{'s' * (summary.frames != 1)}"
    missing = f", {summary.frames_without_person} without a person" if summary.frames_without_person else ""
    typer.echo(
        f"fitted {frames}{missing} in {summary.seconds:.1f} s; keypoint error "
        f"{summary.keypoint_error_px:.1f} px ({100 * summary.keypoint_error_height:.1f}% of height)"
    )
    typer.echo(f"wrote {', '.join([str(out / name) for name in summary.outputs] + ([str(glb)] if glb is not None else []))}")


def _warn_short(path: Path, read: int, announced: int) -> None:
    from mimic.progress import notice

    notice(f"warning: '{path}' ends early: read {read} of the {announced} frames its container announces (--allow-short)")


@app.command()
def video(
    ctx: typer.Context,
    source: Annotated[
        Optional[list[Path]],
        typer.Option("--source", "-s", help="Photo of the person to animate; repeat for front/back photos. A folder: each photo in it, in turn.", show_default=False),
    ] = None,
    driver: Annotated[
        Optional[Path], typer.Option("--driver", "-d", help="Video whose motion the person performs. A folder: each video in it, in turn.", show_default=False)
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output video (.mp4); a folder for a batch (folders or --pairs).")] = Path("mimic_out.mp4"),
    pairs: Annotated[
        Optional[Path], typer.Option("--pairs", help="A batch from a list file: one 'SOURCE DRIVER' pair a line (photos of one person joined by +).")
    ] = None,
    size: Annotated[int, typer.Option(help="Side of the square person crop, pixels (at most what fits in memory, ~512 bytes a pixel).", min=32)] = 256,
    generator: GeneratorOption = "warp",
    checkpoint: CheckpointOption = None,
    side_by_side: Annotated[bool, typer.Option("--side-by-side", help="Put the driver's crop left of the result (--panels driver,result).")] = False,
    panels: Annotated[
        Optional[str], typer.Option("--panels", help="What each frame shows, left to right: comma-separated source, driver, result (e.g. source,driver,result).")
    ] = None,
    keep_source_placement: Annotated[
        bool, typer.Option("--keep-source-placement", help="Keep the source person's size and place; follow only the driver's motion.")
    ] = False,
    driver_background: Annotated[bool, typer.Option("--driver-background", help="Use the driver's background instead of the source's.")] = False,
    full_frame: Annotated[
        bool, typer.Option("--full-frame", help="Output at the driver's size: the driver's frames with its person replaced (implies --driver-background).")
    ] = False,
    max_frames: Annotated[Optional[int], typer.Option(help="Use at most this many driver frames.", min=1)] = None,
    allow_short: AllowShortOption = False,
    personalize: Annotated[
        bool, typer.Option("--personalize/--no-personalize", help="lwgan, pg2, patn: fine-tune it on the source photo(s) first (cached per photo).")
    ] = True,
    personalize_steps: StepsOption = 60,
    personalize_budget: BudgetOption = 55.0,
    subject: Annotated[
        Optional[Path], typer.Option("--subject", help="lwgan, pg2, patn: a subject file of it from `mimic personalize` (skips personalizing).")
    ] = None,
    body_model: BodyModelOption = "anny",
    model_dir: ModelDirOption = None,
    cache_dir: CacheDirOption = None,
    naked_body: NakedBodyOption = False,
    device: DeviceOption = "cpu",
    person: Annotated[
        Optional[str],
        typer.Option(
            "--person",
            help="Which person of the driver to follow: 1, 2, ... left to right where first seen (default: the largest); "
            "all: each person performed by the next --source photo's person, at the driver's size.",
        ),
    ] = None,
    smooth: Annotated[
        int, typer.Option("--smooth", help="Smooth the driver's fitted motion over this many frames either side (0: not).", min=0)
    ] = DEFAULT_LAG,
) -> None:
    """Make the person in the source photo(s) perform the motion of the driver video.

    With a folder of photos and/or of videos (or --pairs), every pair is made into OUT/<photo>__<video>.mp4;
    outputs that exist are skipped, and one table sums the batch up."""
    from mimic.api import check_weights, imitate_video, make_imitator
    from mimic.batch import batch_jobs, format_batch_table, read_pairs, run_batch
    from mimic.errors import OptionError, OutputError
    from mimic.media import is_video_path
    from mimic.memory import check_canvas_fits
    from mimic.video_job import SIDE_BY_SIDE, parse_panels

    device = check_device(device)
    check_model_dir(ctx, body_model)
    check_canvas_fits(size, device)
    if side_by_side and panels is not None:
        raise OptionError("give --side-by-side or --panels, not both")
    chosen_panels = parse_panels(panels) if panels is not None else SIDE_BY_SIDE if side_by_side else ("result",)
    if pairs is not None and (source or driver is not None):
        raise OptionError("--pairs lists the sources and drivers: give it without --source and --driver")
    if pairs is None and (not source or driver is None):
        raise OptionError("give --source PHOTO and --driver VIDEO (or folders of them, or --pairs FILE)")
    batch = pairs is not None or driver.is_dir() or any(path.is_dir() for path in source)
    if batch and is_video_path(out):
        raise OptionError(f"a batch writes one video per pair: give --out a folder, not '{out}'")
    if person is not None and person != "all" and not (person.isdigit() and int(person) >= 1):
        raise OptionError(f"--person takes a number from 1, or all; got {person!r}")
    if person == "all":
        if batch or panels is not None or side_by_side:
            raise OptionError("--person all makes one video at the driver's size: give it without a batch, --panels or --side-by-side")
        from mimic.api import imitate_group

        summary = imitate_group(
            source, driver, out, generator=generator, checkpoint=checkpoint, size=size, max_frames=max_frames, body_model=body_model,
            model_dir=model_dir, cache_dir=cache_dir, device=device, progress=True, allow_short=allow_short, naked_body=naked_body, smooth=smooth,
        )
        _report_video(summary)
        typer.echo(f"wrote {out}")
        return
    options = dict(
        generator=generator, checkpoint=checkpoint, subject=subject, personalize=personalize, personalize_steps=personalize_steps,
        personalize_budget=personalize_budget, full_frame=full_frame, panels=chosen_panels, max_frames=max_frames,
        allow_short=allow_short, cache_dir=cache_dir, device=device, progress=True,
    )
    imitator_options = dict(
        size=size, placement="source" if keep_source_placement else "driver", background="driver" if driver_background or full_frame else "source",
        body_model=body_model, model_dir=model_dir, naked_body=naked_body, person=None if person is None else int(person), smooth=smooth,
    )
    if not batch:
        summary = imitate_video(source, driver, out, **options, **imitator_options)
        _report_video(summary)
        if summary.ended_early:
            _warn_short(driver, summary.frames, summary.frames_announced)
        typer.echo(f"wrote {out}")
        return
    jobs = read_pairs(pairs, out) if pairs is not None else batch_jobs(source, driver, out)
    check_weights(generator, checkpoint, subject)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot write to '{out}': {error.strerror or error}") from None
    imitator = make_imitator(
        generator, checkpoint=subject or checkpoint, cache_dir=cache_dir, device=device, progress=True, **imitator_options
    )

    def report(row) -> None:
        typer.echo(f"{row.status}: {row.job.out}{': ' + row.error if row.error else ''}")

    rows = run_batch(jobs, lambda job: imitate_video(job.sources, job.driver, job.out, imitator=imitator, **options), report)
    typer.echo(format_batch_table(rows))
    failed = sum(row.status == "failed" for row in rows)
    if failed:
        raise OptionError(f"{failed} of {len(rows)} pairs failed (see the table)")


def _report_video(summary) -> None:
    """The lines `mimic video` prints about one finished video."""
    if summary.personalization is not None:
        made = summary.personalization
        typer.echo(f"{'reused the cached' if made.reused else 'made the'} {made.generator} personalization ({made.path})")
    missing = f", {summary.frames_without_person} without a person (last pose kept)" if summary.frames_without_person else ""
    typer.echo(
        f"{summary.frames} frames{missing} in {summary.seconds:.1f} s "
        f"({summary.frames_per_second:.1f} frames/s after {summary.prepare_seconds:.1f} s of preparation)"
    )
    if summary.several_people:
        typer.echo("the driver shows several people: followed one of them (choose with --person N, 1 = leftmost where first seen)")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("mimic_demo"),
    frames: Annotated[int, typer.Option(help="Frames of the synthetic driver video (24 fps).", min=2)] = 48,
    cache_dir: CacheDirOption = None,
    device: DeviceOption = "cpu",
) -> None:
    """Run mimic on inputs it renders itself: a synthetic person imitates a synthetic dancer."""
    from bodymesh.registry import load_body_model
    from mimic.demo import render_demo_inputs
    from mimic.generators.registry import load_generator
    from mimic.pipeline import Imitator
    from mimic.progress import spinner
    from mimic.video_job import SIDE_BY_SIDE, imitate_video

    device = check_device(device)
    model = load_body_model("anny", None, cache_dir, progress=True).to(device)
    with spinner("rendering the demo's source photo and driver video"):
        source, driver = render_demo_inputs(model, out / "inputs", frames=frames)
    result = out / "demo.mp4"
    summary = imitate_video(Imitator(model, load_generator("warp"), device=device), [source], driver, result, SIDE_BY_SIDE, progress=True)
    typer.echo(f"{summary.frames} frames in {summary.seconds:.1f} s ({summary.frames_per_second:.1f} frames/s)")
    typer.echo(f"inputs: {source}, {driver}")
    typer.echo(f"result (driver | imitation): {result}")


@app.command("eval")
def evaluate(
    video_path: Annotated[list[Path], typer.Option("--video", "-v", help="Video of one person; repeat to evaluate several.", show_default=False)],
    source_frames: Annotated[str, typer.Option(help="Comma-separated frame numbers used as source photos.")] = "0",
    generator: Annotated[
        Optional[list[str]],
        typer.Option("--generator", help=f"What draws the frames: {', '.join(GENERATOR_NAMES)}; repeat to compare several on the same frames [default: warp].", show_default=False),
    ] = None,
    size: Annotated[int, typer.Option(help="Side of the square person crop, pixels (at most what fits in memory, ~512 bytes a pixel).", min=32)] = 256,
    max_frames: Annotated[Optional[int], typer.Option(help="Use at most this many frames of each video.", min=2)] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the results as JSON here.")] = None,
    personalize: Annotated[
        bool, typer.Option("--personalize", help="Also score every lwgan, pg2, patn personalized to the source frames (rows 'NAME, personalized').")
    ] = False,
    personalize_steps: StepsOption = 60,
    personalize_budget: BudgetOption = 55.0,
    sheet: Annotated[
        Optional[Path],
        typer.Option("--sheet", help="Also write a contact sheet per video here (DIR/<video>.png): the real frame and every generator's, side by side."),
    ] = None,
    sheet_rows: Annotated[int, typer.Option("--sheet-rows", help="Frames on each contact sheet, spread over the clip.", min=1)] = 4,
    cache_dir: CacheDirOption = None,
    naked_body: NakedBodyOption = False,
    device: DeviceOption = "cpu",
) -> None:
    """Self-imitation benchmark (iPER protocol): SSIM, LPIPS (alex), PSNR, mask-SSIM and pose
    fidelity (PCK), one table over every --generator on the same frames."""
    import json

    from bodymesh.registry import load_body_model
    from mimic.errors import OptionError, OutputError
    from mimic.evaluate import check_scorable, evaluate_generators, format_table
    from mimic.generators.registry import GeneratorOptions, load_generator
    from mimic.memory import check_canvas_fits
    from mimic.outputs import check_outputs, write_text_atomic
    from mimic.personalize import PersonalizeConfig
    from mimic.pipeline import ImitatorConfig

    device = check_device(device)
    try:
        frames = [int(f) for f in source_frames.split(",") if f.strip()]
    except ValueError:
        raise OptionError(f"--source-frames must be comma-separated frame numbers, got {source_frames!r}") from None
    if not frames or min(frames) < 0:
        raise OptionError(f"--source-frames must be comma-separated frame numbers, got {source_frames!r}")
    names = list(dict.fromkeys(generator or ["warp"]))  # in order, each once
    for path in video_path:
        check_scorable(path, frames, max_frames)
    sheets = [sheet / f"{path.stem}.png" for path in video_path] if sheet is not None else []
    check_outputs(video_path, files=[*sheets, *([json_path] if json_path is not None else [])], folders=[sheet] if sheet is not None else [])
    check_canvas_fits(size, device)
    if sheet is not None:
        try:
            sheet.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"cannot write contact sheets to '{sheet}': {error.strerror or error}") from None
    generators = [load_generator(name, GeneratorOptions(device=device)) for name in names]
    model = load_body_model("anny", None, cache_dir, progress=True).to(device)
    settings = PersonalizeConfig(steps=personalize_steps, seconds=personalize_budget) if personalize else None
    results = [
        row
        for path in video_path
        for row in evaluate_generators(
            model, generators, path, ImitatorConfig(size=size, clothes=clothes(naked_body)), device, frames, max_frames, progress=True,
            personalize=settings, cache_dir=resolve_cache_dir(cache_dir),
            sheet=sheet / f"{path.stem}.png" if sheet is not None else None, sheet_rows=sheet_rows,
        )
    ]
    typer.echo(format_table(results))
    if json_path is not None:
        write_text_atomic(json_path, json.dumps([r.as_dict() for r in results], indent=2) + "\n")
        typer.echo(f"wrote {json_path}")


app.command("view")(view)
app.command("swap")(swap)
app.command("train")(train)
app.command("personalize")(personalize_command)
app.command("pose")(pose)
app.command("app")(app_command)


def _stop_on_signal(received: list[int]) -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread (so every `finally` and
    `with` cleans up: temporary files, staging and build folders) and record the signal;
    further ones are ignored while that cleanup runs."""

    def stop(signum: int, frame: object) -> None:
        received.append(signum)
        for other in (signal.SIGINT, signal.SIGTERM):
            signal.signal(other, signal.SIG_IGN)
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)


def main() -> None:
    """Entry point of the `mimic` script: user errors become one line and exit code 1; an
    interruption (Ctrl-C, SIGTERM) one line and 128 + the signal's number."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    received: list[int] = []
    _stop_on_signal(received)
    try:
        app()
    except MimicError as error:
        typer.echo(f"mimic: error: {error}", err=True)
        sys.exit(1)
    except (SystemExit, KeyboardInterrupt):
        if not received:
            raise
        kept = "the checkpoints written so far are kept (run it again to resume)" if sys.argv[1:2] == ["train"] else "nothing written"
        typer.echo(f"mimic: interrupted; {kept}", err=True)
        sys.exit(128 + received[0])
