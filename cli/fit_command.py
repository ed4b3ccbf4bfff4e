"""`mimic fit`: a 3D body fitted to the person of a photo or of every frame of a video, with its exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import AllowShortOption, BodyModelOption, CacheDirOption, DeviceOption, ModelDirOption, check_device, check_model_dir, warn_short


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
    from mimic.errors import OptionError
    from mimic.media.files import check_outputs
    from mimic.media.images import read_image
    from mimic.media.video_read import is_video_path, probe_video
    from mimic.pipeline.body import load_body_model, people_bundle
    from mimic.tasks.fit import FitExports, fit_file, output_names

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
        warn_short(input, summary.frames, summary.frames_announced)
    frames = f"{summary.frames} frame{'s' * (summary.frames != 1)}"
    missing = f", {summary.frames_without_person} without a person" if summary.frames_without_person else ""
    typer.echo(
        f"fitted {frames}{missing} in {summary.seconds:.1f} s; keypoint error "
        f"{summary.keypoint_error_px:.1f} px ({100 * summary.keypoint_error_height:.1f}% of height)"
    )
    typer.echo(f"wrote {', '.join([str(out / name) for name in summary.outputs] + ([str(glb)] if glb is not None else []))}")
