"""`mimic swap`: the source person wearing the reference person's clothes on named parts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import (
    BodyModelOption, CacheDirOption, CheckpointOption, DeviceOption, GeneratorOption, ModelDirOption, NakedBodyOption, check_device, clothes,
)


def swap(
    source: Annotated[list[Path], typer.Option("--source", "-s", help="Photo of the person (identity and pose); repeat for front/back.", show_default=False)],
    reference: Annotated[list[Path], typer.Option("--reference", "-r", help="Photo of the person whose clothes are worn; repeat for front/back.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output image (.png/.jpg), or a video (.mp4) with --driver.", show_default=False)],
    parts: Annotated[str, typer.Option(help="What to take from the reference: upper, lower, upper,lower, full, or body part names.")] = "upper",
    driver: Annotated[Optional[Path], typer.Option("--driver", "-d", help="Video whose motion the dressed person performs.")] = None,
    max_frames: Annotated[Optional[int], typer.Option(help="Use at most this many driver frames.", min=1)] = None,
    side_by_side: Annotated[bool, typer.Option("--side-by-side", help="With --driver: put the driver's crop left of the result.")] = False,
    size: Annotated[int, typer.Option(help="Side of the square person crop, pixels.", min=32)] = 256,
    generator: GeneratorOption = "warp",
    checkpoint: CheckpointOption = None,
    body_model: BodyModelOption = "anny",
    model_dir: ModelDirOption = None,
    cache_dir: CacheDirOption = None,
    naked_body: NakedBodyOption = False,
    device: DeviceOption = "cpu",
) -> None:
    """Appearance transfer: the source person's face, hair, skin and pose with the reference
    person's clothes on the named parts; with --driver, performing the driver's motion."""
    import time

    from mimic.errors import OptionError, OutputError
    from mimic.media.images import read_image, write_image
    from mimic.media.video_read import is_video_path, probe_video
    from mimic.pipeline.body import load_body_model
    from mimic.pipeline.imitator import Imitator, ImitatorConfig
    from mimic.registry import GeneratorOptions, load_generator
    from mimic.tasks.swap import parse_parts, swap_photo, swap_video
    from mimic.tasks.video import SIDE_BY_SIDE

    device = check_device(device)
    chosen_parts = parse_parts(parts)
    if driver is None and is_video_path(out):
        raise OptionError(f"--out '{out}' is a video name: add --driver V.mp4, or give an image file")
    if driver is not None and not is_video_path(out):
        raise OptionError(f"with --driver the output is a video: give --out a file such as out.mp4, got '{out}'")
    if driver is None and (max_frames is not None or side_by_side):
        raise OptionError("--max-frames and --side-by-side need --driver")
    if driver is None and not out.parent.is_dir():
        raise OutputError(f"cannot write '{out}': folder '{out.parent}' does not exist")
    photos = [read_image(path) for path in source]
    references = [read_image(path) for path in reference]
    if driver is not None:
        probe_video(driver)
    chosen = load_generator(generator, GeneratorOptions(checkpoint=checkpoint, device=device))
    model = load_body_model(body_model, model_dir, cache_dir, progress=True).to(device)
    imitator = Imitator(model, chosen, ImitatorConfig(size=size, clothes=clothes(naked_body)), device)
    if driver is None:
        start = time.perf_counter()
        write_image(out, swap_photo(imitator, photos, references, chosen_parts))
        typer.echo(f"swapped {parts} in {time.perf_counter() - start:.1f} s")
    else:
        summary = swap_video(
            imitator, source, references, chosen_parts, driver, out, SIDE_BY_SIDE if side_by_side else ("result",), max_frames, progress=True
        )
        missing = f", {summary.frames_without_person} without a person (last pose kept)" if summary.frames_without_person else ""
        typer.echo(
            f"{summary.frames} frames{missing} in {summary.seconds:.1f} s "
            f"({summary.frames_per_second:.1f} frames/s after {summary.prepare_seconds:.1f} s of preparation)"
        )
    typer.echo(f"wrote {out}")
