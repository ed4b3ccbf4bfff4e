"""`mimic eval`: the self-imitation benchmark (iPER protocol) over one or more generators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mimic.registry import GENERATOR_NAMES

from .options import CacheDirOption, DeviceOption, NakedBodyOption, check_device, clothes
from .personalize_command import BudgetOption, StepsOption


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

    from mimic.core.paths import resolve_cache_dir
    from mimic.errors import OptionError, OutputError
    from mimic.media.files import check_outputs, write_text_atomic
    from mimic.pipeline.body import load_body_model
    from mimic.pipeline.imitator import ImitatorConfig
    from mimic.pipeline.memory import check_canvas_fits
    from mimic.registry import GeneratorOptions, load_generator
    from mimic.tasks.evaluate import check_scorable, evaluate_generators, format_table
    from mimic.tasks.personalize import PersonalizeConfig

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
