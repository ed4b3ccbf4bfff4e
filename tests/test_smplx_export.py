"""fit.npz's smplx keys: `smplx.create(...)(**params)` reproduces the fitted meshes.

On a synthetic SMPL file of the real sizes (tests.test_smpl_body) always, and on the user's real
SMPL / SMPL-X files end to end when MIMIC_SMPL_DIR holds them.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import smplx
import torch

from bodymesh.smpl_body import SMPLBody, SMPLXBody
from tests.smpl_arrays import SMPL_F, SMPL_PARENTS, SMPL_V, model_arrays

KEYS = ("global_orient", "body_pose", "betas", "transl")


@pytest.fixture(scope="module")
def fake_smpl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("smpl_models")
    (root / "smpl").mkdir()
    # smplx reads SMPL from .pkl only (plain arrays here; the official file holds chumpy ones).
    with open(root / "smpl" / "SMPL_NEUTRAL.pkl", "wb") as file:
        pickle.dump(model_arrays(SMPL_V, SMPL_PARENTS, SMPL_F), file)
    return root


def _random(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return 0.4 * torch.randn(batch, 22, 3, generator=generator), torch.randn(1, 10, generator=generator)


def test_smplx_parameters_layout_and_smplx_reproduces_the_mesh(fake_smpl_dir: Path) -> None:
    body = SMPLBody(fake_smpl_dir)
    pose, shape = _random(3)
    params = body.smplx_parameters(pose, shape)
    assert {k: tuple(v.shape) for k, v in params.items()} == {
        "global_orient": (3, 3), "body_pose": (3, 69), "betas": (3, 10), "transl": (3, 3),
    }
    reference = smplx.create(str(fake_smpl_dir), model_type="smpl", gender="neutral")
    vertices = reference(**params).vertices
    expected = body.forward(pose, shape.expand(3, -1)).vertices
    torch.testing.assert_close(vertices, expected, atol=1e-5, rtol=0)


def test_smpl_skinning_without_pose_blend_shapes_is_the_mesh(fake_smpl_dir: Path) -> None:
    """`skinning` leaves SMPL's pose correctives out: with them zeroed it is exactly the mesh."""
    body = SMPLBody(fake_smpl_dir)
    body.posedirs.zero_()
    pose, shape = _random(2)
    skin = body.skinning(pose, shape)
    transforms = skin.posed_bones @ torch.linalg.inv(skin.rest_bones)
    homogeneous = torch.cat((skin.rest_vertices, torch.ones_like(skin.rest_vertices[:, :1])), dim=1)
    skinned = torch.einsum("vj,bjxy,vy->bvx", skin.weights, transforms, homogeneous)[..., :3]
    torch.testing.assert_close(skinned, body.forward(pose, shape.expand(2, -1)).vertices, atol=1e-5, rtol=0)


def _real_model_dir() -> Path:
    value = os.environ.get("MIMIC_SMPL_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("MIMIC_SMPL_DIR is not set to a folder of the licensed SMPL / SMPL-X files (they cannot ship with mimic)")
    return Path(value)


@pytest.mark.slow
@pytest.mark.parametrize("name, model_class", [("smpl", SMPLBody), ("smplx", SMPLXBody)])
def test_mimic_fit_smplx_keys_reproduce_the_fit_with_real_files(tmp_path: Path, name: str, model_class: type) -> None:
    """`mimic fit PHOTO --body-model NAME`, then exactly what a user does with fit.npz."""
    from tests.cli_helpers import run_mimic
    from tests.conftest import shared_file

    model_dir = _real_model_dir()
    try:
        body = model_class(model_dir)
    except Exception as error:  # noqa: BLE001 - the skip says why
        pytest.skip(f"no usable {name} file in MIMIC_SMPL_DIR: {error}")
    photo = shared_file("images", "pexels_man_wall.jpg")
    result = run_mimic("fit", str(photo), "--out", str(tmp_path), "--body-model", name, "--model-dir", str(model_dir))
    assert result.returncode == 0, result.stderr
    fit = np.load(tmp_path / "fit.npz")
    assert fit["cam"].shape == (1, 3)
    params = {key: torch.from_numpy(fit[key]) for key in KEYS}
    reference = smplx.create(str(model_dir), model_type=name, gender="neutral")
    vertices = reference(**params).vertices
    expected = body.forward(torch.from_numpy(fit["pose"]), torch.from_numpy(fit["shape"])[None]).vertices
    torch.testing.assert_close(vertices, expected, atol=1e-4, rtol=0)
