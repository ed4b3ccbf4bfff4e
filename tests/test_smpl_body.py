"""SMPLBody / SMPLXBody on synthetic, structurally valid model files built in a temp folder.

The real SMPL files are licensed and never in the repository. The synthetic files have the real
sizes (6890 / 10475 vertices, 24 / 55 joints, SMPL's kinematic tree and roughly SMPL's rest joint
positions, each joint regressed from one vertex) and random shape / pose blend shapes.
"""

from __future__ import annotations

import pickle
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from bodymesh.body_model import BodyModel, zero_pose, zero_shape
from bodymesh.keypoints import KEYPOINT_INDEX, NUM_KEYPOINTS
from bodymesh.parts import NUM_PARTS, PART_INDEX
from bodymesh.smpl_body import SMPL_JOINT_NAMES, SMPLBody, SMPLXBody
from mimic.errors import ModelFilesError
from tests.smpl_arrays import SMPL_F, SMPL_PARENTS, SMPL_V, SMPLX_F, SMPLX_V, model_arrays, smplx_parents

# Rest joints close to SMPL's (metres, x = the person's left, y up, z forward).








@pytest.fixture(scope="module")
def smpl_arrays() -> dict:
    return model_arrays(SMPL_V, SMPL_PARENTS, SMPL_F)


@pytest.fixture(scope="module")
def smpl_dir(tmp_path_factory: pytest.TempPathFactory, smpl_arrays: dict) -> Path:
    root = tmp_path_factory.mktemp("models")
    (root / "smpl").mkdir()
    np.savez(root / "smpl" / "SMPL_NEUTRAL.npz", **smpl_arrays)
    return root


@pytest.fixture(scope="module")
def smpl(smpl_dir: Path) -> SMPLBody:
    return SMPLBody(smpl_dir)


@pytest.fixture(scope="module")
def smplx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models_x")
    (root / "smplx").mkdir()
    arrays = model_arrays(SMPLX_V, smplx_parents(), SMPLX_F, seed=1)
    arrays["posedirs"] = np.zeros_like(arrays["posedirs"])  # 61 MB of zeros compress well
    arrays["hands_meanl"] = np.full(45, 0.1)
    arrays["hands_meanr"] = np.full(45, -0.1)
    np.savez_compressed(root / "smplx" / "SMPLX_NEUTRAL.npz", **arrays)
    return root


def _random_inputs(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    pose = 0.4 * torch.randn(batch, 22, 3, generator=g)
    shape = torch.randn(batch, 10, generator=g)
    return pose, shape


def test_protocol_attributes(smpl: SMPLBody) -> None:
    assert isinstance(smpl, BodyModel)
    assert smpl.name == "smpl"
    assert smpl.joint_names == SMPL_JOINT_NAMES and len(smpl.joint_names) == 22
    assert smpl.joint_names[0] == "pelvis" and smpl.joint_names[-1] == "right_wrist"
    assert smpl.num_shape == 10
    assert smpl.num_vertices == SMPL_V
    assert smpl.faces.shape == (SMPL_F, 3) and smpl.faces.dtype == torch.int64
    assert smpl.uv_coords is None and smpl.uv_faces is None
    assert smpl.up_axis == (0.0, 1.0, 0.0)
    prior = smpl.pose_prior
    assert prior.weights.shape == (22,) and prior.weights[0] == 0
    assert prior.lower.shape == prior.upper.shape == (22, 3)
    assert torch.all(prior.lower <= prior.upper)


def test_forward_shapes_dtype_and_keypoints(smpl: SMPLBody) -> None:
    pose, shape = _random_inputs(3)
    out = smpl(pose, shape)
    assert out.vertices.shape == (3, SMPL_V, 3)
    assert out.joints.shape == (3, 22, 3)
    assert out.keypoints.shape == (3, NUM_KEYPOINTS, 3)
    assert all(t.dtype == torch.float32 for t in out)
    torch.testing.assert_close(smpl.keypoints(pose, shape), out.keypoints)
    kp = out.keypoints
    torch.testing.assert_close(kp[:, KEYPOINT_INDEX["nose"]], out.vertices[:, 332])
    torch.testing.assert_close(kp[:, KEYPOINT_INDEX["left_heel"]], out.vertices[:, 3387])
    torch.testing.assert_close(kp[:, KEYPOINT_INDEX["left_shoulder"]], out.joints[:, 16])
    torch.testing.assert_close(kp[:, KEYPOINT_INDEX["right_ankle"]], out.joints[:, 8])
    # One shape for the batch, float64 input.
    out1 = smpl(pose.double(), shape[:1].double())
    assert out1.vertices.dtype == torch.float32
    torch.testing.assert_close(out1.vertices[0], out.vertices[0])


def test_pelvis_is_origin(smpl: SMPLBody) -> None:
    pose, shape = _random_inputs(4, seed=3)
    pose[:, 0] = torch.randn(4, 3)
    out = smpl(pose, shape)
    torch.testing.assert_close(out.joints[:, 0], torch.zeros(4, 3))


def test_rest_pose_is_the_template(smpl: SMPLBody, smpl_arrays: dict) -> None:
    out = smpl(zero_pose(smpl), zero_shape(smpl))
    template = smpl_arrays["v_template"]
    expected = torch.as_tensor(template - template[0], dtype=torch.float32)
    torch.testing.assert_close(out.vertices[0], expected)
    torch.testing.assert_close(out.joints[0], expected[:22])


def test_turning_about_up_axis(smpl: SMPLBody) -> None:
    pose = zero_pose(smpl, 2)
    pose[1, 0] = torch.tensor(smpl.up_axis) * torch.pi
    out = smpl(pose, zero_shape(smpl, 2))
    turned = out.vertices[0] * torch.tensor([-1.0, 1.0, -1.0])  # x and z flip, y stays
    torch.testing.assert_close(out.vertices[1], turned, atol=1e-5, rtol=0)


def test_pose_prior_limits_bend_the_right_way(smpl: SMPLBody) -> None:
    """Within the limits, knees swing the shin backwards and elbows the forearm forwards."""
    prior = smpl.pose_prior
    names = smpl.joint_names
    rest = smpl.keypoints(zero_pose(smpl), zero_shape(smpl))[0]
    for joint, keypoint, axis in (
        ("left_knee", "left_ankle", 0),
        ("right_knee", "right_ankle", 0),
        ("left_elbow", "left_wrist", 1),
        ("right_elbow", "right_wrist", 1),
    ):
        j = names.index(joint)
        lo, hi = prior.lower[j, axis].item(), prior.upper[j, axis].item()
        assert (lo == 0.0 and hi >= 2.0) or (hi == 0.0 and lo <= -2.0), joint  # one way only
        angle = hi if hi > 0 else lo  # the allowed bend
        pose = zero_pose(smpl)
        pose[0, j, axis] = angle / 2
        moved = smpl.keypoints(pose, zero_shape(smpl))[0, KEYPOINT_INDEX[keypoint]]
        dz = (moved - rest[KEYPOINT_INDEX[keypoint]])[2].item()
        assert (dz < -0.05) if "knee" in joint else (dz > 0.05), (joint, dz)


def test_gradients_reach_pose_and_shape(smpl: SMPLBody) -> None:
    pose, shape = _random_inputs(2, seed=5)
    pose.requires_grad_(True)
    shape.requires_grad_(True)
    smpl.keypoints(pose, shape).square().sum().backward()
    assert torch.isfinite(pose.grad).all() and pose.grad[:, 1:].abs().sum() > 0
    assert torch.isfinite(shape.grad).all() and shape.grad.abs().sum() > 0


def test_part_labels(smpl: SMPLBody) -> None:
    labels = smpl.part_labels
    assert labels.shape == (SMPL_V,) and labels.dtype == torch.int64
    assert labels.min() >= 0 and labels.max() < NUM_PARTS
    # Vertex j is skinned to joint j alone in the synthetic model.
    for joint, part in (
        (0, "torso"), (4, "left_lower_leg"), (5, "right_lower_leg"), (12, "head"), (13, "torso"),
        (16, "left_upper_arm"), (19, "right_lower_arm"), (22, "left_hand"), (10, "left_foot"),
    ):
        assert labels[joint] == PART_INDEX[part], joint
    assert len(torch.unique(labels)) == NUM_PARTS


def test_input_checks(smpl: SMPLBody) -> None:
    with pytest.raises(ValueError, match="pose must be"):
        smpl(torch.zeros(1, 24, 3), torch.zeros(1, 10))
    with pytest.raises(ValueError, match="shape must be"):
        smpl(torch.zeros(2, 22, 3), torch.zeros(3, 10))
    with pytest.raises(ValueError, match="model.to"):
        smpl(torch.zeros(1, 22, 3, device="meta"), torch.zeros(1, 10, device="meta"))
    with pytest.raises(ValueError, match="gender"):
        SMPLBody(Path("."), gender="other")


def test_to_moves_buffers_and_prior(smpl_dir: Path) -> None:
    model = SMPLBody(smpl_dir)
    assert model.to("meta") is model
    prior = model.pose_prior
    tensors = [model.faces, model.part_labels, model.v_template, model.posedirs]
    tensors += [model.keypoint_index, prior.weights, prior.lower, prior.upper]
    assert all(t.device.type == "meta" for t in tensors)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_matches_cpu(smpl_dir: Path) -> None:
    pose, shape = _random_inputs(2, seed=7)
    cpu = SMPLBody(smpl_dir)(pose, shape)
    model = SMPLBody(smpl_dir).to("cuda")
    gpu = model(pose.cuda(), shape.cuda())
    assert gpu.vertices.device.type == "cuda"
    for a, b in zip(cpu, gpu):
        torch.testing.assert_close(b.cpu(), a, atol=1e-5, rtol=1e-4)


def test_folder_layouts(smpl_dir: Path, smpl: SMPLBody, tmp_path: Path) -> None:
    pose, shape = _random_inputs(1)
    expected = smpl(pose, shape).vertices
    for where in (smpl_dir / "smpl", smpl_dir / "smpl" / "SMPL_NEUTRAL.npz"):
        torch.testing.assert_close(SMPLBody(where)(pose, shape).vertices, expected)
    with pytest.raises(ModelFilesError, match="SMPL_FEMALE.pkl"):
        SMPLBody(smpl_dir, gender="female")


def test_missing_folder_says_where_and_how(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ModelFilesError) as info:
        SMPLBody(missing)
    message = str(info.value)
    assert str(missing / "smpl" / "SMPL_NEUTRAL.pkl") in message
    assert "does not exist" in message
    for part in ("https://smpl.is.tue.mpg.de", "licen", "--model-dir", "MIMIC_SMPL_DIR"):
        assert part in message
    assert "\n" not in message


def test_folder_named_smpl_is_the_model_folder(tmp_path: Path) -> None:
    (tmp_path / "smpl").mkdir()
    with pytest.raises(ModelFilesError) as info:
        SMPLBody(tmp_path / "smpl", gender="male")
    assert str(tmp_path / "smpl" / "SMPL_MALE.pkl") in str(info.value)
    assert "does not exist" not in str(info.value)


def test_smplx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFilesError) as info:
        SMPLXBody(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "smplx" / "SMPLX_NEUTRAL.npz") in message
    for part in ("https://smpl-x.is.tue.mpg.de", "--model-dir", "MIMIC_SMPL_DIR"):
        assert part in message


def _write_smpl(tmp_path: Path, arrays: dict) -> Path:
    (tmp_path / "smpl").mkdir(exist_ok=True)
    np.savez(tmp_path / "smpl" / "SMPL_NEUTRAL.npz", **arrays)
    return tmp_path


def test_malformed_npz(tmp_path: Path, smpl_arrays: dict) -> None:
    without = {k: v for k, v in smpl_arrays.items() if k != "shapedirs"}
    with pytest.raises(ModelFilesError, match="shapedirs"):
        SMPLBody(_write_smpl(tmp_path, without))
    wrong = dict(smpl_arrays, posedirs=smpl_arrays["posedirs"][:, :, :100])
    with pytest.raises(ModelFilesError, match="posedirs.*expected"):
        SMPLBody(_write_smpl(tmp_path, wrong))
    loop = dict(smpl_arrays, kintree_table=np.stack([np.arange(24)[::-1], np.arange(24)]))
    with pytest.raises(ModelFilesError, match="kintree_table"):
        SMPLBody(_write_smpl(tmp_path, loop))
    (tmp_path / "smpl" / "SMPL_NEUTRAL.npz").write_text("not a zip")
    with pytest.raises(ModelFilesError, match="not an .npz"):
        SMPLBody(tmp_path)


def test_text_file_named_pkl(tmp_path: Path) -> None:
    (tmp_path / "smpl").mkdir()
    (tmp_path / "smpl" / "SMPL_NEUTRAL.pkl").write_text("hello, I am not a model\n")
    with pytest.raises(ModelFilesError, match="not a valid SMPL model file") as info:
        SMPLBody(tmp_path)
    assert "https://smpl.is.tue.mpg.de" in str(info.value)


def test_pkl_refuses_other_objects(tmp_path: Path) -> None:
    (tmp_path / "smpl").mkdir()
    with open(tmp_path / "smpl" / "SMPL_NEUTRAL.pkl", "wb") as f:
        pickle.dump({"v_template": shutil.rmtree}, f)
    with pytest.raises(ModelFilesError, match="unexpected object shutil.rmtree"):
        SMPLBody(tmp_path)


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **classes: type) -> None:
    """Registers `name` (and its parent packages) in sys.modules with `classes`, for pickling."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        monkeypatch.setitem(sys.modules, ".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    for cls_name, cls in classes.items():
        cls.__module__, cls.__qualname__, cls.__name__ = name, cls_name, cls_name
        setattr(sys.modules[name], cls_name, cls)


def test_pkl_with_chumpy_and_sparse_needs_neither(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smpl_arrays: dict, smpl: SMPLBody
) -> None:
    """Official SMPL .pkl files hold chumpy arrays and a scipy CSC regressor (protocol 2)."""

    class Ch:  # pickles like chumpy.ch.Ch: its __dict__ with the array in `x`
        pass

    class csc_matrix:  # pickles like scipy.sparse.csc_matrix: its __dict__
        pass

    _fake_module(monkeypatch, "chumpy.ch", Ch=Ch)
    _fake_module(monkeypatch, "scipy.sparse._csc", csc_matrix=csc_matrix)
    shapedirs = Ch()
    shapedirs.__dict__.update(x=smpl_arrays["shapedirs"], _dirty_vars=set())
    regressor = np.asarray(smpl_arrays["J_regressor"])
    dense_cols = regressor.T  # CSC: columns compressed
    sparse = csc_matrix()
    sparse.__dict__.update(
        _shape=regressor.shape,
        data=dense_cols[dense_cols != 0],
        indices=np.nonzero(dense_cols)[1],
        indptr=np.concatenate([[0], np.cumsum((dense_cols != 0).sum(1))]),
        maxprint=50,
    )
    data = dict(smpl_arrays, shapedirs=shapedirs, J_regressor=sparse, bs_style="lbs")
    (tmp_path / "smpl").mkdir()
    with open(tmp_path / "smpl" / "SMPL_NEUTRAL.pkl", "wb") as f:
        pickle.dump(data, f, protocol=2)
    for name in ("chumpy.ch", "chumpy", "scipy.sparse._csc", "scipy.sparse", "scipy"):
        monkeypatch.delitem(sys.modules, name)  # reading needs neither chumpy nor scipy

    model = SMPLBody(tmp_path)
    pose, shape = _random_inputs(2, seed=9)
    torch.testing.assert_close(model(pose, shape).vertices, smpl(pose, shape).vertices)


def test_uv_obj_is_read_when_present(tmp_path: Path, smpl_dir: Path, smpl: SMPLBody) -> None:
    folder = tmp_path / "smpl"
    folder.mkdir()
    (folder / "SMPL_NEUTRAL.npz").symlink_to(smpl_dir / "smpl" / "SMPL_NEUTRAL.npz")
    faces = smpl.faces.numpy()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(faces))
    lines = [f"v {x} {y} {z}" for x, y, z in np.zeros((SMPL_V, 3))]
    lines += [f"vt {i / SMPL_V:.6f} {1 - i / SMPL_V:.6f}" for i in range(SMPL_V)]  # vt i <-> v i
    for k, (a, b, c) in enumerate(faces[order]):
        a, b, c = (b, c, a) if k % 2 else (a, b, c)  # another starting corner
        lines.append(f"f {a + 1}/{a + 1} {b + 1}/{b + 1} {c + 1}/{c + 1}")
    (folder / "smpl_uv.obj").write_text("\n".join(lines) + "\n")

    model = SMPLBody(tmp_path)
    assert model.uv_coords.shape == (SMPL_V, 2) and model.uv_faces.shape == (SMPL_F, 3)
    assert model.uv_faces.dtype == torch.int64
    torch.testing.assert_close(model.uv_faces, smpl.faces)

    (folder / "smpl_uv.obj").write_text("vt 0 0\nf 1/1 2/1 3/1\n")
    with pytest.raises(ModelFilesError, match="UV file"):
        SMPLBody(tmp_path)


def test_smplx_forward(smplx_dir: Path) -> None:
    model = SMPLXBody(smplx_dir)
    assert model.name == "smplx" and model.num_vertices == SMPLX_V
    assert model.faces.shape == (SMPLX_F, 3)
    pose, shape = _random_inputs(2, seed=11)
    out = model(pose, shape)
    assert out.vertices.shape == (2, SMPLX_V, 3)
    assert out.joints.shape == (2, 22, 3)
    assert out.keypoints.shape == (2, NUM_KEYPOINTS, 3)
    torch.testing.assert_close(out.joints[:, 0], torch.zeros(2, 3))
    torch.testing.assert_close(out.keypoints[:, KEYPOINT_INDEX["nose"]], out.vertices[:, 9120])
    # Fingers rest in the file's mean hand pose; jaw and eyes at zero.
    assert torch.all(model.rest_tail[:3] == 0)
    torch.testing.assert_close(model.rest_tail[3:18], torch.full((15, 3), 0.1))
    labels = model.part_labels
    assert labels[22] == PART_INDEX["head"] and labels[30] == PART_INDEX["left_hand"]
    assert labels[50] == PART_INDEX["right_hand"]
    assert labels.max() < NUM_PARTS


def test_smplx_malformed(tmp_path: Path, smpl_arrays: dict) -> None:
    (tmp_path / "smplx").mkdir()
    np.savez(tmp_path / "smplx" / "SMPLX_NEUTRAL.npz", **smpl_arrays)  # an SMPL file in its place
    with pytest.raises(ModelFilesError, match="not a valid SMPL-X model file.*v_template"):
        SMPLXBody(tmp_path)
