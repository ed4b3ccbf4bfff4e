"""Options and checks shared by the commands of the `mimic` app."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from mimic.registry import GENERATOR_NAMES

if TYPE_CHECKING:
    from mimic.pipeline.clothing import ClothesConfig

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
GeneratorOption = Annotated[str, typer.Option("--generator", help=f"What draws the frames: {', '.join(GENERATOR_NAMES)}.")]
CheckpointOption = Annotated[
    Optional[Path],
    typer.Option("--checkpoint", help="Weights of the generator from `mimic train` (a checkpoint or run folder) [default: those shipped with mimic]."),
]
DeviceOption = Annotated[str, typer.Option("--device", help="torch device to fit on: cpu, cuda, cuda:1, mps ...")]
AllowShortOption = Annotated[
    bool,
    typer.Option("--allow-short", help="Use a video that ends before the frames its container announces (a cut-off copy) instead of failing; says how many were read."),
]


NakedBodyOption = Annotated[
    bool,
    typer.Option("--naked-body", help="Draw the fitted naked body instead of the subject with its hair and clothes (for comparison)."),
]


def clothes(naked_body: bool) -> "ClothesConfig | None":
    """The `ImitatorConfig.clothes` of the --naked-body flag: the default clothes fit, or None."""
    from mimic.pipeline.clothing import ClothesConfig

    return None if naked_body else ClothesConfig()


def fail(message: str) -> None:
    """Prints `mimic: error: message` on stderr and exits with code 1."""
    typer.echo(f"mimic: error: {message}", err=True)
    raise typer.Exit(code=1)


def check_model_dir(ctx: typer.Context, body_model: str) -> None:
    """OptionError when --model-dir was given on the command line for a body model that takes
    none (anny ships with mimic); from MIMIC_SMPL_DIR it is left unused without a word."""
    from mimic.errors import OptionError

    source = ctx.get_parameter_source("model_dir")
    if body_model == "anny" and source is not None and source.name == "COMMANDLINE":
        raise OptionError("--model-dir is for --body-model smpl or smplx; anny ships with mimic and takes no model files")


def check_device(device: str) -> str:
    """`device` if torch can allocate on it; otherwise a one-line error and exit 1."""
    import torch

    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        fail(f"device '{device}' is not usable here: {str(error).splitlines()[0]}")
    return device


def warn_short(path: Path, read: int, announced: int) -> None:
    from mimic.core.progress import notice

    notice(f"warning: '{path}' ends early: read {read} of the {announced} frames its container announces (--allow-short)")
