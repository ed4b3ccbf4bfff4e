"""Body models by name: what the `--body-model` option chooses from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bodymesh.body_model import BodyModel
from bodymesh.errors import ModelFilesError, OptionError

if TYPE_CHECKING:  # anny (and warp beneath it) load only with the anny model
    from bodymesh.anny_data import BuildReport

BODY_MODELS = ("anny", "smpl", "smplx")


def load_body_model(
    name: str = "anny",
    model_dir: Path | None = None,
    *,
    cache_dir: Path,
    report: "BuildReport | None" = None,
) -> BodyModel:
    """Loads a body model.

    Args:
        name: "anny" (default, ships with its package), "smpl" or "smplx" (licensed files the
            user downloads; `model_dir` is their folder, in smplx's layout).
        model_dir: folder of the SMPL / SMPL-X files; ignored for anny.
        cache_dir: where anny's one-time build is kept; ignored for SMPL.
        report: where anny's one-time build is shown (None: nowhere).
    """
    if name == "anny":
        from bodymesh.anny_body import AnnyBody

        return AnnyBody.load(cache_dir, report)
    if name in ("smpl", "smplx"):
        from bodymesh.smpl_body import SMPLBody, SMPLXBody

        if model_dir is None:
            raise ModelFilesError(
                f"the {name.upper()} body model needs its model files: download them from "
                f"{'https://smpl.is.tue.mpg.de' if name == 'smpl' else 'https://smpl-x.is.tue.mpg.de'} "
                "(free registration, licence) and pass their folder with --model-dir or MIMIC_SMPL_DIR"
            )
        return SMPLBody(model_dir) if name == "smpl" else SMPLXBody(model_dir)
    raise OptionError(f"unknown body model {name!r}; choose one of {', '.join(BODY_MODELS)}")
