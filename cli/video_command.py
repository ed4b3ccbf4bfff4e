"""`mimic video`: the person of the source photo(s) performs the driver video's motion; folders or a
list of pairs make a batch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import (
    AllowShortOption, BodyModelOption, CacheDirOption, CheckpointOption, DeviceOption, GeneratorOption, ModelDirOption, NakedBodyOption, check_device,
    check_model_dir, warn_short,
)
from .personalize_command import BudgetOption, StepsOption


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
        Optional[float],
        typer.Option(
            "--smooth",
            help="Smooth the driver's fitted motion over this many seconds either side (0: not; default 0.083: 2 frames at 24 frames/s).",
            min=0,
        ),
    ] = None,
) -> None:
    """Make the person in the source photo(s) perform the motion of the driver video.

    With a folder of photos and/or of videos (or --pairs), every pair is made into OUT/<photo>__<video>.mp4;
    outputs that exist are skipped, and one table sums the batch up."""
    from mimic.api import check_weights, imitate_video, make_imitator
    from mimic.errors import OptionError, OutputError
    from mimic.media.video_read import is_video_path
    from mimic.pipeline.memory import check_canvas_fits
    from mimic.tasks.batch import batch_jobs, format_batch_table, read_pairs, run_batch
    from mimic.tasks.video import SIDE_BY_SIDE, parse_panels

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
    smoothing = {} if smooth is None else {"smooth": smooth}  # None: the library's default (bodymesh.smoothing.DEFAULT_SECONDS)
    if person == "all":
        if batch or panels is not None or side_by_side:
            raise OptionError("--person all makes one video at the driver's size: give it without a batch, --panels or --side-by-side")
        from mimic.api import imitate_group

        summary = imitate_group(
            source, driver, out, generator=generator, checkpoint=checkpoint, size=size, max_frames=max_frames, body_model=body_model,
            model_dir=model_dir, cache_dir=cache_dir, device=device, progress=True, allow_short=allow_short, naked_body=naked_body, **smoothing,
        )
        report_video(summary)
        typer.echo(f"wrote {out}")
        return
    options = dict(
        generator=generator, checkpoint=checkpoint, subject=subject, personalize=personalize, personalize_steps=personalize_steps,
        personalize_budget=personalize_budget, full_frame=full_frame, panels=chosen_panels, max_frames=max_frames,
        allow_short=allow_short, cache_dir=cache_dir, device=device, progress=True,
    )
    imitator_options = dict(
        size=size, placement="source" if keep_source_placement else "driver", background="driver" if driver_background or full_frame else "source",
        body_model=body_model, model_dir=model_dir, naked_body=naked_body, person=None if person is None else int(person), **smoothing,
    )
    if not batch:
        summary = imitate_video(source, driver, out, **options, **imitator_options)
        report_video(summary)
        if summary.ended_early:
            warn_short(driver, summary.frames, summary.frames_announced)
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


def report_video(summary) -> None:
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
