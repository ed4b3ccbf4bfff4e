"""`mimic view`: the person of the source photo(s) seen from other angles, or a full turn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import (
    BodyModelOption, CacheDirOption, CheckpointOption, DeviceOption, GeneratorOption, ModelDirOption, NakedBodyOption, check_device, clothes,
)

DEFAULT_ANGLES = "0,90,180,270"


def view(
    source: Annotated[list[Path], typer.Option("--source", "-s", help="Photo of the person; repeat for front/back photos.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder of views (--angles), or a video (.mp4) with --turntable.", show_default=False)],
    angles: Annotated[
        Optional[str], typer.Option(help=f"Comma-separated turn angles, degrees (-360..360; 90 shows the right side); default {DEFAULT_ANGLES}.")
    ] = None,
    turntable: Annotated[Optional[int], typer.Option(help="Write a video of one full turn in this many frames instead.", min=2)] = None,
    tilt: Annotated[float, typer.Option(help="Tilt, degrees (-90..90; positive: seen from above).")] = 0.0,
    fps: Annotated[float, typer.Option(help="Frame rate of the --turntable video.", min=1.0)] = 24.0,
    size: Annotated[int, typer.Option(help="Side of the square person crop, pixels.", min=32)] = 256,
    generator: GeneratorOption = "warp",
    checkpoint: CheckpointOption = None,
    body_model: BodyModelOption = "anny",
    model_dir: ModelDirOption = None,
    cache_dir: CacheDirOption = None,
    naked_body: NakedBodyOption = False,
    device: DeviceOption = "cpu",
) -> None:
    """Turn the person of the source photo(s) about their vertical axis: one image per angle, or
    a turntable video. The first photo sets the pose; a back photo (--source again) textures the back."""
    import time

    from mimic.errors import OptionError
    from mimic.media.images import read_image
    from mimic.media.video_read import is_video_path
    from mimic.pipeline.body import load_body_model
    from mimic.pipeline.imitator import Imitator, ImitatorConfig
    from mimic.registry import GeneratorOptions, load_generator
    from mimic.tasks.novel_view import parse_angles, view_rotation, write_turntable, write_views

    device = check_device(device)
    if turntable is not None and angles is not None:
        raise OptionError("give --angles or --turntable, not both")
    if turntable is not None and not is_video_path(out):
        raise OptionError(f"--turntable writes a video: give --out a video file such as spin.mp4, got '{out}'")
    if turntable is None and is_video_path(out):
        raise OptionError(f"--out '{out}' is a video name: add --turntable N for a full turn, or give a folder for --angles")
    chosen_angles = parse_angles(angles or DEFAULT_ANGLES) if turntable is None else []
    view_rotation(0.0, tilt)  # checks the tilt before the slow part
    photos = [read_image(path) for path in source]
    chosen = load_generator(generator, GeneratorOptions(checkpoint=checkpoint, device=device))
    model = load_body_model(body_model, model_dir, cache_dir, progress=True).to(device)
    imitator = Imitator(model, chosen, ImitatorConfig(size=size, clothes=clothes(naked_body)), device)
    start = time.perf_counter()
    if turntable is not None:
        write_turntable(imitator, photos, turntable, out, fps, tilt, progress=True)
        typer.echo(f"{turntable} views in {time.perf_counter() - start:.1f} s")
        typer.echo(f"wrote {out}")
    else:
        written = write_views(imitator, photos, chosen_angles, out, tilt, progress=True)
        typer.echo(f"{len(written)} views in {time.perf_counter() - start:.1f} s")
        typer.echo(f"wrote {', '.join(str(path) for path in written)}")
