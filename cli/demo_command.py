"""`mimic demo`: mimic on inputs it renders itself, so a new install shows it works without any data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import CacheDirOption, DeviceOption, check_device


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("mimic_demo"),
    frames: Annotated[int, typer.Option(help="Frames of the synthetic driver video (24 fps).", min=2)] = 48,
    cache_dir: CacheDirOption = None,
    device: DeviceOption = "cpu",
) -> None:
    """Run mimic on inputs it renders itself: a synthetic person imitates a synthetic dancer."""
    from mimic.core.progress import spinner
    from mimic.pipeline.body import load_body_model
    from mimic.pipeline.imitator import Imitator
    from mimic.registry import load_generator
    from mimic.tasks.demo import render_demo_inputs
    from mimic.tasks.video import SIDE_BY_SIDE, imitate_video

    device = check_device(device)
    model = load_body_model("anny", None, cache_dir, progress=True).to(device)
    with spinner("rendering the demo's source photo and driver video"):
        source, driver = render_demo_inputs(model, out / "inputs", frames=frames)
    result = out / "demo.mp4"
    summary = imitate_video(Imitator(model, load_generator("warp"), device=device), [source], driver, result, SIDE_BY_SIDE, progress=True)
    typer.echo(f"{summary.frames} frames in {summary.seconds:.1f} s ({summary.frames_per_second:.1f} frames/s)")
    typer.echo(f"inputs: {source}, {driver}")
    typer.echo(f"result (driver | imitation): {result}")
