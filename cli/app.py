"""The `mimic` command: thin commands over the library, progress on stderr, one-line errors.

The environment is read here and nowhere else: MIMIC_CACHE_DIR (where one-time builds are
kept, default ~/.cache/mimic) and MIMIC_SMPL_DIR (the user's SMPL / SMPL-X files).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.options import BodyModelOption, CacheDirOption, CheckpointOption, DeviceOption, GeneratorOption, ModelDirOption, NakedBodyOption, check_device, clothes
from cli.personalize_command import BudgetOption, StepsOption, personalize as personalize_command, resolve_cache_dir
from cli.pose_command import pose
from cli.swap_command import swap
from cli.train_command import train
from cli.view_command import view
from mimic.generators.registry import GENERATOR_NAMES
from mimic.errors import MimicError, OptionError

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
    input: Annotated[Path, typer.Argument(help="A photo or a video of one person.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("fit_out"),
    body_model: BodyModelOption = "anny",
    model_dir: ModelDirOption = None,
    cache_dir: CacheDirOption = None,
    device: DeviceOption = "cpu",
    max_frames: Annotated[Optional[int], typer.Option(help="Fit at most this many video frames.", min=1)] = None,
) -> None:
    """Fit a 3D body mesh to the person in a photo or in every frame of a video.

    Writes fit.npz (per-frame pose, shape, camera, keypoints), summary.json and an overlay
    (overlay.png or overlay.mp4) of the mesh drawn over the input.
    """
    from bodymesh.registry import load_body_model
    from mimic.fit_media import fit_file
    from mimic.media import probe_video, is_video_path, read_image

    device = check_device(device)
    # Check the input before the (possibly long) model load.
    if is_video_path(input):
        probe_video(input)
    else:
        read_image(input)
    model = load_body_model(body_model, model_dir, cache_dir, progress=True).to(device)
    summary = fit_file(input, out, model, device=device, max_frames=max_frames, progress=True)
    frames = f"{summary.frames} frame{'s' * (summary.frames != 1)}"
    missing = f", {summary.frames_without_person} without a person" if summary.frames_without_person else ""
    typer.echo(
        f"fitted {frames}{missing} in {summary.seconds:.1f} s; keypoint error "
        f"{summary.keypoint_error_px:.1f} px ({100 * summary.keypoint_error_height:.1f}% of height)"
    )
    typer.echo(f"wrote {', '.join(str(out / name) for name in summary.outputs)}")


@app.command()
def video(
    source: Annotated[list[Path], typer.Option("--source", "-s", help="Photo of the person to animate; repeat for front/back photos.", show_default=False)],
    driver: Annotated[Path, typer.Option("--driver", "-d", help="Video whose motion the person performs.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output video (.mp4).")] = Path("mimic_out.mp4"),
    size: Annotated[int, typer.Option(help="Side of the square person crop, pixels.", min=32)] = 256,
    generator: GeneratorOption = "warp",
    checkpoint: CheckpointOption = None,
    side_by_side: Annotated[bool, typer.Option("--side-by-side", help="Put the driver's crop left of the result.")] = False,
    keep_source_placement: Annotated[
        bool, typer.Option("--keep-source-placement", help="Keep the source person's size and place; follow only the driver's motion.")
    ] = False,
    driver_background: Annotated[bool, typer.Option("--driver-background", help="Use the driver's background instead of the source's.")] = False,
    full_frame: Annotated[
        bool, typer.Option("--full-frame", help="Output at the driver's size: the driver's frames with its person replaced (implies --driver-background).")
    ] = False,
    max_frames: Annotated[Optional[int], typer.Option(help="Use at most this many driver frames.", min=1)] = None,
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
) -> None:
    """Make the person in the source photo(s) perform the motion of the driver video."""
    from bodymesh.registry import load_body_model
    from mimic.media import probe_video, read_image
    from mimic.generators.registry import GeneratorOptions, load_generator
    from mimic.pipeline import Imitator, ImitatorConfig
    from mimic.training.registry import personalizable_names
    from mimic.video_job import imitate_video

    device = check_device(device)
    for path in source:
        read_image(path)
    probe_video(driver)
    config = ImitatorConfig(
        size=size,
        placement="source" if keep_source_placement else "driver",
        background="driver" if driver_background or full_frame else "source",
        clothes=clothes(naked_body),
    )
    if subject is not None and checkpoint is not None:
        raise OptionError("--subject already holds the generator's weights; give it or --checkpoint, not both")
    personalizable = personalizable_names()
    if subject is not None and generator not in personalizable:
        raise OptionError(f"--subject needs --generator {', '.join(personalizable)} (the one it was made for), not {generator!r}")
    tuned = personalize and subject is None and generator in personalizable
    chosen = load_generator(generator, GeneratorOptions(checkpoint=subject or checkpoint, device=device))
    model = load_body_model(body_model, model_dir, cache_dir, progress=True).to(device)
    imitator = Imitator(model, chosen, config, device)
    if tuned:
        from mimic.personalize import PersonalizeConfig, personalized_generator

        settings = PersonalizeConfig(steps=personalize_steps, seconds=personalize_budget)
        imitator.generator, path, reused = personalized_generator(
            imitator, source, resolve_cache_dir(cache_dir), checkpoint, settings, progress=True, generator=generator
        )
        typer.echo(f"{'reused the cached' if reused else 'made the'} {generator} personalization ({path})")
    summary = imitate_video(imitator, source, driver, out, side_by_side, max_frames, progress=True, full_frame=full_frame)
    missing = f", {summary.frames_without_person} without a person (last pose kept)" if summary.frames_without_person else ""
    typer.echo(
        f"{summary.frames} frames{missing} in {summary.seconds:.1f} s "
        f"({summary.frames_per_second:.1f} frames/s after {summary.prepare_seconds:.1f} s of preparation)"
    )
    if summary.several_people:
        typer.echo("the driver shows several people: followed the most prominent one at the start, then by overlap")
    typer.echo(f"wrote {out}")


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
    from mimic.video_job import imitate_video

    device = check_device(device)
    model = load_body_model("anny", None, cache_dir, progress=True).to(device)
    with spinner("rendering the demo's source photo and driver video"):
        source, driver = render_demo_inputs(model, out / "inputs", frames=frames)
    result = out / "demo.mp4"
    summary = imitate_video(Imitator(model, load_generator("warp"), device=device), [source], driver, result, side_by_side=True, progress=True)
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
    size: Annotated[int, typer.Option(help="Side of the square person crop, pixels.", min=32)] = 256,
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
    """Self-imitation benchmark (iPER protocol): SSIM, PSNR, mask-SSIM and pose fidelity (PCK),
    one table over every --generator on the same frames."""
    import json

    from bodymesh.registry import load_body_model
    from mimic.errors import OptionError, OutputError
    from mimic.evaluate import evaluate_generators, format_table
    from mimic.generators.registry import GeneratorOptions, load_generator
    from mimic.media import probe_video
    from mimic.outputs import write_text_atomic
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
        probe_video(path)
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


def main() -> None:
    """Entry point of the `mimic` script: user errors become one line and exit code 1."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        app()
    except MimicError as error:
        typer.echo(f"mimic: error: {error}", err=True)
        sys.exit(1)
