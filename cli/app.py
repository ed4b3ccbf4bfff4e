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

from mimic.errors import MimicError

app = typer.Typer(
    name="mimic",
    help="Human motion imitation with 3D body meshes: make the person in a photo move like the person in a video.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

BodyModelOption = Annotated[
    str, typer.Option("--body-model", help="Body model: anny (ships with mimic), smpl or smplx (your own licensed files).")
]
ModelDirOption = Annotated[
    Optional[Path],
    typer.Option("--model-dir", envvar="MIMIC_SMPL_DIR", help="Folder of the SMPL / SMPL-X model files (smplx layout)."),
]
CacheDirOption = Annotated[
    Optional[Path],
    typer.Option("--cache-dir", envvar="MIMIC_CACHE_DIR", help="Where one-time builds are kept [default: ~/.cache/mimic]."),
]
DeviceOption = Annotated[str, typer.Option("--device", help="torch device to fit on: cpu, cuda, cuda:1, mps ...")]


@app.callback()
def _root() -> None:
    """mimic: human motion imitation with 3D body meshes."""


def _fail(message: str) -> None:
    typer.echo(f"mimic: error: {message}", err=True)
    raise typer.Exit(code=1)


def _check_device(device: str) -> str:
    import torch

    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        _fail(f"device '{device}' is not usable here: {str(error).splitlines()[0]}")
    return device


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

    device = _check_device(device)
    # Check the input before the (possibly long) model load.
    probe_video(input) if is_video_path(input) else read_image(input)
    model = load_body_model(body_model, model_dir, cache_dir, progress=True).to(device)
    summary = fit_file(input, out, model, device=device, max_frames=max_frames, progress=True)
    frames = f"{summary.frames} frame{'s' * (summary.frames != 1)}"
    missing = f", {summary.frames_without_person} without a person" if summary.frames_without_person else ""
    typer.echo(
        f"fitted {frames}{missing} in {summary.seconds:.1f} s; keypoint error "
        f"{summary.keypoint_error_px:.1f} px ({100 * summary.keypoint_error_height:.1f}% of height)"
    )
    typer.echo(f"wrote {', '.join(str(out / name) for name in summary.outputs)}")


def main() -> None:
    """Entry point of the `mimic` script: user errors become one line and exit code 1."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        app()
    except MimicError as error:
        typer.echo(f"mimic: error: {error}", err=True)
        sys.exit(1)
