"""SMPL and SMPL-X behind the `BodyModel` protocol, for users who have the licensed model files.

The files cannot ship with mimic. They follow smplx's folder layout:
`<model dir>/smpl/SMPL_NEUTRAL.pkl` (or `.npz`; `MALE`, `FEMALE`) and
`<model dir>/smplx/SMPLX_NEUTRAL.npz` (or `.pkl`); `model_dir` may also point straight at the
`smpl/` or `smplx/` folder, or at the file itself. The CLI finds the
folder from `--model-dir` or the environment variable `MIMIC_SMPL_DIR`; this module reads no
environment.

The files are read here (not by smplx's model classes) and posed with smplx's pure
`smplx.lbs.lbs`. Official SMPL `.pkl` files hold chumpy arrays and a scipy sparse joint regressor;
they are read without chumpy or scipy (a restricted unpickler that keeps only their arrays), so
neither needs to be installed. `.npz` files are read with `allow_pickle=False`.

Frame: SMPL's canonical frame (x = the person's left, y up, the face towards +z) already is the
project's model frame (`bodymesh.body_model`); the posed pelvis joint is subtracted, so the pelvis
is the origin for every pose and shape (no translation).

Pose: `(B, 22, 3)` axis-angle of the SMPL body joints 0..21 (`joint_names`; joint 0 is the
global orientation). The joints beyond them stay at rest: SMPL's two hand joints; SMPL-X's jaw,
eyes and fingers (the fingers in the file's relaxed mean hand pose, `hands_meanl/r`, as smplx does
by default). At rest every joint frame is aligned with the model frame: a knee bends about +x, the
left elbow about -y and the right elbow about +y (`pose_prior` holds these limits).

Keypoints (project order, `bodymesh.keypoints`): shoulders, elbows, wrists, hips, knees and
ankles are SMPL joints; nose, eyes, ears, toes and heels are the vertices of smplx's
`vertex_ids` table (`smplh` for SMPL, which shares its topology, `smplx` for SMPL-X). SMPL's hip
joints sit higher and closer together than COCO's annotated hips (a few centimetres); a fitter
may down-weight the hips.

UVs: if the model folder (or `model_dir`) holds `smpl_uv.obj` / `smplx_uv.obj` (e.g. the UV
template from the SMPL site), its `vt` lines and the `v/vt` pairs of its `f` lines give
`uv_coords` / `uv_faces`, matched to the model's faces by their vertices; otherwise both are None.

Part labels: each vertex takes the part of the joint with the largest skinning weight
(`_SMPL_JOINT_PARTS`; SMPL-X adds jaw and eyes to the head, fingers to the hands).
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from smplx.joint_names import JOINT_NAMES as _SMPLX_JOINT_NAMES
from smplx.lbs import batch_rigid_transform, batch_rodrigues, blend_shapes, lbs, vertices2joints
from smplx.vertex_ids import vertex_ids as _VERTEX_IDS

from bodymesh.body_model import BodyOutput, PosePrior, Skinning
from bodymesh.errors import ModelFilesError
from bodymesh.keypoints import KEYPOINT_NAMES
from bodymesh.parts import PART_INDEX

__all__ = ["SMPLBody", "SMPLXBody", "SMPL_JOINT_NAMES", "GENDERS"]

GENDERS: tuple[str, ...] = ("neutral", "male", "female")

# The posed joints: SMPL's 22 body joints, the same in SMPL-X (pelvis = global orientation first).
SMPL_JOINT_NAMES: tuple[str, ...] = tuple(_SMPLX_JOINT_NAMES[:22])
_NUM_BODY_JOINTS = len(SMPL_JOINT_NAMES)
_NUM_SHAPE = 10

# Part of each SMPL joint (0..23); SMPL-X's joints 22.. are listed in `_joint_parts`.
_SMPL_JOINT_PARTS: tuple[str, ...] = (
    "torso",  # 0 pelvis
    "left_upper_leg",  # 1 left_hip
    "right_upper_leg",  # 2 right_hip
    "torso",  # 3 spine1
    "left_lower_leg",  # 4 left_knee
    "right_lower_leg",  # 5 right_knee
    "torso",  # 6 spine2
    "left_foot",  # 7 left_ankle
    "right_foot",  # 8 right_ankle
    "torso",  # 9 spine3
    "left_foot",  # 10 left_foot
    "right_foot",  # 11 right_foot
    "head",  # 12 neck
    "torso",  # 13 left_collar
    "torso",  # 14 right_collar
    "head",  # 15 head
    "left_upper_arm",  # 16 left_shoulder
    "right_upper_arm",  # 17 right_shoulder
    "left_lower_arm",  # 18 left_elbow
    "right_lower_arm",  # 19 right_elbow
    "left_hand",  # 20 left_wrist
    "right_hand",  # 21 right_wrist
    "left_hand",  # 22 left_hand (SMPL only)
    "right_hand",  # 23 right_hand (SMPL only)
)

# Keypoints taken from the posed joints (SMPL joint index) and from vertices (vertex_ids key).
_KEYPOINT_JOINTS: dict[str, int] = {
    "left_shoulder": 16,
    "right_shoulder": 17,
    "left_elbow": 18,
    "right_elbow": 19,
    "left_wrist": 20,
    "right_wrist": 21,
    "left_hip": 1,
    "right_hip": 2,
    "left_knee": 4,
    "right_knee": 5,
    "left_ankle": 7,
    "right_ankle": 8,
}
_KEYPOINT_VERTICES: dict[str, str] = {
    "nose": "nose",
    "left_eye": "leye",
    "right_eye": "reye",
    "left_ear": "lear",
    "right_ear": "rear",
    "left_big_toe": "LBigToe",
    "left_small_toe": "LSmallToe",
    "left_heel": "LHeel",
    "right_big_toe": "RBigToe",
    "right_small_toe": "RSmallToe",
    "right_heel": "RHeel",
}
assert set(_KEYPOINT_JOINTS) | set(_KEYPOINT_VERTICES) == set(KEYPOINT_NAMES)

_INF = math.inf


def _pose_prior() -> PosePrior:
    """Per-joint weights and soft axis-angle limits of the 22 body joints (SMPL conventions).

    At rest SMPL's joint frames are aligned with the model frame (x = the person's left, y up,
    z forward). Knee flexion (the shin swings backwards) is a positive rotation about x; elbow
    flexion with the palms down (the forearm swings forwards) is about -y for the left elbow and
    +y for the right one; an elbow's x component is the forearm's twist.
    """
    weights = torch.ones(_NUM_BODY_JOINTS)
    weights[0] = 0.0  # global orientation: free
    for name in ("spine1", "spine2", "spine3"):
        weights[SMPL_JOINT_NAMES.index(name)] = 0.5  # bending spreads over three joints
    for name in ("left_foot", "right_foot", "left_collar", "right_collar"):
        weights[SMPL_JOINT_NAMES.index(name)] = 2.0  # barely seen by keypoints
    lower = torch.full((_NUM_BODY_JOINTS, 3), -_INF)
    upper = torch.full((_NUM_BODY_JOINTS, 3), _INF)

    def limit(name: str, lo: tuple[float, float, float], hi: tuple[float, float, float]) -> None:
        j = SMPL_JOINT_NAMES.index(name)
        lower[j] = torch.tensor(lo)
        upper[j] = torch.tensor(hi)

    for side in ("left", "right"):
        limit(f"{side}_knee", (0.0, -0.15, -0.15), (2.7, 0.15, 0.15))
    limit("left_elbow", (-1.5, -2.7, -0.3), (1.5, 0.0, 0.3))
    limit("right_elbow", (-1.5, 0.0, -0.3), (1.5, 2.7, 0.3))
    return PosePrior(weights=weights, lower=lower, upper=upper)


# ---------------------------------------------------------------------------------------------
# Reading model files


class _ChumpyStub:
    """Stands in for a pickled chumpy object; keeps its state (a plain `Ch` holds its array in `x`)."""

    def __setstate__(self, state: Any) -> None:
        self.state = state[0] if isinstance(state, tuple) else state


class _SparseStub:
    """Stands in for a pickled scipy sparse matrix (CSC / CSR); keeps its state."""

    fmt: ClassVar[str] = ""

    def __setstate__(self, state: Any) -> None:
        self.state = state[0] if isinstance(state, tuple) else state


_NUMPY_MODULES = frozenset(
    {
        "numpy",
        "numpy.core.multiarray",
        "numpy._core.multiarray",
        "numpy.core.numeric",
        "numpy._core.numeric",
    }
)
_NUMPY_NAMES = frozenset({"_reconstruct", "scalar", "ndarray", "dtype", "_frombuffer"})
_BUILTIN_NAMES = frozenset({"object", "set", "frozenset", "list", "tuple", "dict", "slice", "complex"})


class _ModelUnpickler(pickle.Unpickler):
    """Reads SMPL `.pkl` files without chumpy or scipy and without running arbitrary code.

    Only numpy arrays, builtin containers and stand-ins for chumpy / scipy sparse objects are
    built; anything else is refused.
    """

    def find_class(self, module: str, name: str) -> Any:
        if module in _NUMPY_MODULES and name in _NUMPY_NAMES:
            return super().find_class(module, name)
        if module in ("copy_reg", "copyreg") and name in ("_reconstructor", "__newobj__"):
            return super().find_class(module, name)
        if module == "_codecs" and name == "encode":  # bytes in protocol-2 pickles from Python 3
            return super().find_class(module, name)
        if module in ("__builtin__", "builtins") and name in _BUILTIN_NAMES:
            return super().find_class(module, name)
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyStub
        if module.startswith("scipy.sparse") and name[:3] in ("csc", "csr"):
            return type(name, (_SparseStub,), {"fmt": name[:3]})
        raise pickle.UnpicklingError(f"unexpected object {module}.{name}")


def _to_array(value: Any, key: str) -> np.ndarray:
    """A model file's value as a numpy array (chumpy / sparse stand-ins unpacked)."""
    if isinstance(value, _ChumpyStub):
        state = value.state if isinstance(value.state, dict) else {}
        if "x" not in state:
            raise ValueError(f"'{key}' is a chumpy expression, not a plain array")
        return _to_array(state["x"], key)
    if isinstance(value, _SparseStub):
        state = value.state
        shape = tuple(int(n) for n in state.get("_shape", state.get("shape")))
        data = np.asarray(state["data"], dtype=np.float64)
        indices = np.asarray(state["indices"], dtype=np.int64)
        indptr = np.asarray(state["indptr"], dtype=np.int64)
        major, minor = (shape[1], shape[0]) if value.fmt == "csc" else shape
        dense = np.zeros((major, minor))
        rows = np.repeat(np.arange(major), np.diff(indptr))
        np.add.at(dense, (rows, indices), data)
        return dense.T if value.fmt == "csc" else dense
    array = np.asarray(value)
    if array.dtype == object:
        raise ValueError(f"'{key}' holds Python objects, not numbers")
    return array


def _read_model_file(
    path: Path, keys: tuple[str, ...], optional: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """The arrays `keys` (required) and `optional` of a `.pkl` / `.npz` model file.

    Raises:
        ValueError: the file cannot be read or lacks a required key; the message says why.
    """
    try:
        if path.suffix == ".npz":
            with open(path, "rb") as f:
                if f.read(2) != b"PK":
                    raise ValueError("not an .npz (zip) file")
            with np.load(path, allow_pickle=False) as npz:
                raw = {k: npz[k] for k in (*keys, *optional) if k in npz.files}
        else:
            with open(path, "rb") as f, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = _ModelUnpickler(f, encoding="latin1").load()
            if not isinstance(data, dict):
                raise ValueError(f"it holds a {type(data).__name__}, not a dict of arrays")
            raw = {k: data[k] for k in (*keys, *optional) if k in data}
        missing = [k for k in keys if k not in raw]
        if missing:
            raise ValueError("missing " + ", ".join(f"'{k}'" for k in missing))
        return {k: _to_array(v, k) for k, v in raw.items()}
    except Exception as err:  # anything a broken file makes numpy or pickle raise
        reason = str(err).strip().rstrip(".") or type(err).__name__
        if isinstance(err, pickle.UnpicklingError):
            reason = f"not a pickle of model arrays ({reason})"
        raise ValueError(reason) from err


# ---------------------------------------------------------------------------------------------
# The models


_REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


class _SMPLFamilyBody(torch.nn.Module):
    """Shared implementation of SMPL and SMPL-X; see the module docstring."""

    name: str
    _title: ClassVar[str]  # "SMPL" / "SMPL-X"
    _prefix: ClassVar[str]  # file name prefix: "SMPL" / "SMPLX"
    _extensions: ClassVar[tuple[str, ...]]  # in order of preference
    _num_verts: ClassVar[int]
    _num_model_joints: ClassVar[int]
    _vertex_ids_key: ClassVar[str]
    _website: ClassVar[str]
    _download_hint: ClassVar[str]

    joint_names: tuple[str, ...] = SMPL_JOINT_NAMES
    num_shape: int = _NUM_SHAPE
    up_axis: tuple[float, float, float] = (0.0, 1.0, 0.0)

    def __init__(self, model_dir: Path | str, gender: str = "neutral") -> None:
        """Loads `<model_dir>/<name>/<PREFIX>_<GENDER>.{npz,pkl}` (see the module docstring).

        Args:
            model_dir: the folder holding `smpl/` / `smplx/`, that folder itself, or the file.
            gender: "neutral", "male" or "female".
        Raises:
            ModelFilesError: the file is missing or malformed.
            ValueError: unknown gender.
        """
        if gender not in GENDERS:
            raise ValueError(f"gender must be one of {', '.join(GENDERS)}, got {gender!r}")
        super().__init__()
        self.gender = gender
        model_dir = Path(model_dir).expanduser()
        path = self._find_file(model_dir)
        try:
            arrays = _read_model_file(
                path,
                keys=_REQUIRED_KEYS,
                optional=("hands_meanl", "hands_meanr"),
            )
        except ValueError as err:
            raise self._malformed(path, str(err)) from err
        self._load(arrays, path)
        self.register_buffer("uv_coords", None)
        self.register_buffer("uv_faces", None)
        uv_name = f"{self.name}_uv.obj"
        uv_path = next((d / uv_name for d in (path.parent, model_dir) if (d / uv_name).is_file()), None)
        if uv_path is not None:
            self.uv_coords, self.uv_faces = _read_uv_obj(uv_path, self.faces)

    # -- files -------------------------------------------------------------------------------

    def _find_file(self, model_dir: Path) -> Path:
        """The model file for `self.gender`, or ModelFilesError saying where to put it."""
        if model_dir.is_file():
            return model_dir
        stem = f"{self._prefix}_{self.gender.upper()}"
        folders = [model_dir / self.name, model_dir]
        for folder in folders:
            for ext in self._extensions:
                if (folder / f"{stem}.{ext}").is_file():
                    return folder / f"{stem}.{ext}"
        home = model_dir if model_dir.name.lower() == self.name else model_dir / self.name
        expected = home / f"{stem}.{self._extensions[0]}"
        others = " or ".join(f".{e}" for e in self._extensions[1:])
        where = "" if model_dir.is_dir() else f" (the folder {model_dir} does not exist)"
        short = {"neutral": "neutral", "male": "m", "female": "f"}[self.gender]
        hint = self._download_hint.format(gender=self.gender, g=short)
        raise ModelFilesError(
            f"{self._title} model file not found: {expected}{where}. "
            f"The {self._title} model is licensed and cannot ship with mimic: register at "
            f"{self._website}, accept the licence, {hint} and save it as {expected} "
            f"({others} also works). Then give mimic the folder with --model-dir {model_dir} "
            f"or the environment variable MIMIC_SMPL_DIR."
        )

    def _malformed(self, path: Path, reason: str) -> ModelFilesError:
        return ModelFilesError(
            f"{path} is not a valid {self._title} model file: {reason}. "
            f"Download it again from {self._website}."
        )

    def _load(self, a: dict[str, np.ndarray], path: Path) -> None:
        """Checks the arrays of a model file and turns them into float32 / int64 tensors."""
        V, J = self._num_verts, self._num_model_joints
        expected = {
            "v_template": (V, 3),
            "J_regressor": (J, V),
            "weights": (V, J),
            "kintree_table": (2, J),
        }
        for key, shape in expected.items():
            if a[key].shape != shape:
                raise self._malformed(path, f"'{key}' has shape {a[key].shape}, expected {shape}")
        shapedirs, posedirs, f = a["shapedirs"], a["posedirs"], a["f"]
        if shapedirs.ndim != 3 or shapedirs.shape[:2] != (V, 3) or shapedirs.shape[2] < _NUM_SHAPE:
            raise self._malformed(
                path, f"'shapedirs' has shape {shapedirs.shape}, expected ({V}, 3, >= {_NUM_SHAPE})"
            )
        num_pose_basis = 9 * (J - 1)
        if posedirs.shape != (V, 3, num_pose_basis):
            raise self._malformed(
                path, f"'posedirs' has shape {posedirs.shape}, expected ({V}, 3, {num_pose_basis})"
            )
        if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
            raise self._malformed(path, f"'f' must be (F, 3) integers, got {f.shape} {f.dtype}")
        if f.size == 0 or f.min() < 0 or f.max() >= V:
            raise self._malformed(path, f"'f' indexes vertices outside 0..{V - 1}")
        parents = a["kintree_table"][0].astype(np.int64)
        parents[0] = -1
        if np.any(parents[1:] < 0) or np.any(parents[1:] >= np.arange(1, J)):
            raise self._malformed(path, "'kintree_table' does not list parents before their children")
        for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
            if not np.all(np.isfinite(a[key])):
                raise self._malformed(path, f"'{key}' holds non-finite numbers")

        def buffer(name: str, array: np.ndarray | torch.Tensor, dtype: torch.dtype) -> None:
            self.register_buffer(name, torch.as_tensor(np.ascontiguousarray(array)).to(dtype))

        f32 = torch.float32
        buffer("v_template", a["v_template"], f32)
        buffer("shapedirs", shapedirs[:, :, :_NUM_SHAPE], f32)
        # smplx's layout of the pose blend shapes: (P, V * 3).
        buffer("posedirs", posedirs.reshape(-1, num_pose_basis).T, f32)
        buffer("J_regressor", a["J_regressor"], f32)
        buffer("lbs_weights", a["weights"], f32)
        buffer("parents", parents, torch.int64)
        buffer("faces", f.astype(np.int64), torch.int64)
        # (J - 22, 3) axis-angle of the joints that are not posed.
        buffer("rest_tail", self._rest_tail(a, path), f32)

        part_of_joint = torch.tensor([PART_INDEX[p] for p in self._joint_parts()])
        buffer("part_labels", part_of_joint[self.lbs_weights.argmax(dim=1)], torch.int64)
        self.pose_prior = _pose_prior()

        # Keypoints: gathered from cat([posed joints (J), vertices (V)]).
        ids = _VERTEX_IDS[self._vertex_ids_key]
        index = [
            _KEYPOINT_JOINTS[k] if k in _KEYPOINT_JOINTS else J + ids[_KEYPOINT_VERTICES[k]]
            for k in KEYPOINT_NAMES
        ]
        buffer("keypoint_index", torch.tensor(index), torch.int64)

    def _rest_tail(self, a: dict[str, np.ndarray], path: Path) -> torch.Tensor:
        return torch.zeros(self._num_model_joints - _NUM_BODY_JOINTS, 3)

    def _joint_parts(self) -> tuple[str, ...]:
        return _SMPL_JOINT_PARTS

    # -- protocol ----------------------------------------------------------------------------

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def forward(self, pose: torch.Tensor, shape: torch.Tensor) -> BodyOutput:
        """Posed mesh, joints and keypoints in the model frame (pelvis at the origin).

        Args:
            pose: `(B, 22, 3)` axis-angle, radians, in `joint_names` order.
            shape: `(B, 10)` shape coefficients (betas); `(1, 10)` is shared by the batch.
        Returns:
            BodyOutput: vertices `(B, V, 3)`, joints `(B, 22, 3)`, keypoints `(B, 23, 3)`;
            metres, float32, on the inputs' device.
        """
        pose, shape = self._check_inputs(pose, shape)
        B = pose.shape[0]
        full_pose = torch.cat((pose, self.rest_tail.expand(B, -1, -1)), dim=1).reshape(B, -1)
        vertices, joints = lbs(
            shape.expand(B, -1),
            full_pose,
            self.v_template,
            self.shapedirs,
            self.posedirs,
            self.J_regressor,
            self.parents,
            self.lbs_weights,
        )
        root = joints[:, :1]
        vertices = vertices - root
        joints = joints - root
        keypoints = torch.cat((joints, vertices), dim=1)[:, self.keypoint_index]
        return BodyOutput(vertices=vertices, joints=joints[:, :_NUM_BODY_JOINTS], keypoints=keypoints)

    def keypoints(self, pose: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """`(B, 23, 3)` keypoints, metres, model frame; equal to `forward(pose, shape).keypoints`."""
        return self.forward(pose, shape).keypoints

    def posed_vertices(self, pose: torch.Tensor, shape: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """`(B, N, 3)` the vertices `index (N,)` of `forward(pose, shape)`."""
        return self.forward(pose, shape).vertices[:, index]

    def skinning(self, pose: torch.Tensor, shape: torch.Tensor) -> Skinning:
        """Every model joint (24 / 55) and its skinning for one `shape (1, 10)` in `pose (B, 22, 3)`.

        Plain linear blend skinning of the shaped rest mesh: the pose-corrective blend shapes
        (`posedirs`) are left out, so the skinned vertices differ from `forward`'s by them (a few
        millimetres for SMPL's real files; Blender's SMPL add-on keeps them as shape keys)."""
        pose, shape = self._check_inputs(pose, shape)
        if shape.shape[0] != 1:
            raise ValueError(f"skinning takes one shape (1, {_NUM_SHAPE}), got {tuple(shape.shape)}")
        B = pose.shape[0]
        shaped = self.v_template + blend_shapes(shape, self.shapedirs)[0]
        rest_joints = vertices2joints(self.J_regressor, shaped[None])  # (1, J, 3)
        full_pose = torch.cat((pose, self.rest_tail.expand(B, -1, -1)), dim=1)
        rotations = batch_rodrigues(full_pose.reshape(-1, 3)).reshape(B, -1, 3, 3)
        _, relative = batch_rigid_transform(rotations, rest_joints.expand(B, -1, -1), self.parents)
        # Bone-to-model transforms: at rest a translation to the joint, posed `relative` after it;
        # then the pelvis (which poses never move) to the origin.
        rest = torch.eye(4, dtype=shaped.dtype, device=shaped.device).repeat(rest_joints.shape[1], 1, 1)
        rest[:, :3, 3] = rest_joints[0] - rest_joints[0, :1]
        to_origin = torch.eye(4, dtype=shaped.dtype, device=shaped.device)
        to_origin[:3, 3] = -rest_joints[0, 0]
        posed = to_origin @ relative @ torch.linalg.inv(to_origin) @ rest
        parents = self.parents.tolist()
        return Skinning(
            rest_vertices=shaped - rest_joints[0, :1],
            weights=self.lbs_weights,
            parents=tuple(parents),
            bone_names=tuple(_SMPLX_JOINT_NAMES[: len(parents)]),
            rest_bones=rest,
            posed_bones=posed,
        )

    def smplx_parameters(self, pose: torch.Tensor, shape: torch.Tensor) -> dict[str, torch.Tensor]:
        """smplx's keyword arguments for `pose (T, 22, 3)` and one `shape (1, 10)`: with
        `smplx.create(<model dir>, model_type=self.name, gender=self.gender)`, `model(**params)`
        gives `forward(pose, shape)`'s vertices (smplx adds `transl`; here it puts the pelvis at
        the origin). Keys: `global_orient (T, 3)`, `body_pose (T, 69)` for SMPL (its two hand
        joints at rest) or `(T, 63)` for SMPL-X (jaw, eyes and hands at smplx's defaults, which
        are the rest this model holds), `betas (T, 10)`, `transl (T, 3)`; axis-angle, metres."""
        pose, shape = self._check_inputs(pose, shape)
        T = pose.shape[0]
        shaped = self.v_template + blend_shapes(shape[:1], self.shapedirs)[0]
        pelvis = self.J_regressor[0] @ shaped
        body = pose[:, 1:]
        if self.name == "smpl":
            body = torch.cat((body, self.rest_tail.expand(T, -1, -1)), dim=1)
        return {
            "global_orient": pose[:, 0],
            "body_pose": body.reshape(T, -1),
            "betas": shape[:1].expand(T, -1),
            "transl": -pelvis.expand(T, -1),
        }

    def to(self, *args: Any, **kwargs: Any) -> "_SMPLFamilyBody":
        """Moves buffers (and the pose prior) like `torch.nn.Module.to`; returns self."""
        super().to(*args, **kwargs)
        device = self.v_template.device
        prior = self.pose_prior
        self.pose_prior = dataclasses.replace(
            prior,
            **{
                f.name: getattr(prior, f.name).to(device)
                for f in dataclasses.fields(prior)
                if isinstance(getattr(prior, f.name), torch.Tensor)
            },
        )
        return self

    def _check_inputs(
        self, pose: torch.Tensor, shape: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        J = _NUM_BODY_JOINTS
        if pose.dim() != 3 or pose.shape[1:] != (J, 3):
            raise ValueError(f"pose must be (B, {J}, 3) axis-angle, got {tuple(pose.shape)}")
        if shape.dim() != 2 or shape.shape[1] != _NUM_SHAPE or shape.shape[0] not in (1, pose.shape[0]):
            raise ValueError(
                f"shape must be (B, {_NUM_SHAPE}) or (1, {_NUM_SHAPE}) with B = {pose.shape[0]}, "
                f"got {tuple(shape.shape)}"
            )
        device = self.v_template.device
        if pose.device != device or shape.device != device:
            raise ValueError(
                f"pose is on {pose.device} and shape on {shape.device} but the {self._title} model "
                f"is on {device}; call model.to(device) first"
            )
        return pose.to(torch.float32), shape.to(torch.float32)

    def extra_repr(self) -> str:
        return f"gender={self.gender!r}, vertices={self.num_vertices}, faces={len(self.faces)}"


class SMPLBody(_SMPLFamilyBody):
    """SMPL (6890 vertices, 24 joints; the 22 body joints posed). See the module docstring.

    `SMPLBody(model_dir, gender="neutral")` reads `<model_dir>/smpl/SMPL_<GENDER>.pkl` or `.npz`.
    """

    name = "smpl"
    _title = "SMPL"
    _prefix = "SMPL"
    _extensions = ("pkl", "npz")
    _num_verts = 6890
    _num_model_joints = 24
    _vertex_ids_key = "smplh"
    _website = "https://smpl.is.tue.mpg.de"
    _download_hint = (
        "download 'SMPL for Python', take the {gender} model "
        "(basicmodel_{g}_lbs_10_207_0_v1.1.0.pkl)"
    )


class SMPLXBody(_SMPLFamilyBody):
    """SMPL-X (10475 vertices, 55 joints; the 22 body joints posed, jaw, eyes and fingers at rest).

    `SMPLXBody(model_dir, gender="neutral")` reads `<model_dir>/smplx/SMPLX_<GENDER>.npz` or `.pkl`.
    """

    name = "smplx"
    _title = "SMPL-X"
    _prefix = "SMPLX"
    _extensions = ("npz", "pkl")
    _num_verts = 10475
    _num_model_joints = 55
    _vertex_ids_key = "smplx"
    _website = "https://smpl-x.is.tue.mpg.de"
    _download_hint = "download the SMPL-X model files (npz), take the {gender} model"

    def _rest_tail(self, a: dict[str, np.ndarray], path: Path) -> torch.Tensor:
        """Jaw and eyes at zero, fingers in the file's mean (relaxed) hand pose when it has one."""
        tail = torch.zeros(self._num_model_joints - _NUM_BODY_JOINTS, 3)
        for offset, key in ((3, "hands_meanl"), (18, "hands_meanr")):
            if key in a:
                if a[key].size != 45:
                    raise self._malformed(path, f"'{key}' has {a[key].size} numbers, expected 45")
                tail[offset : offset + 15] = torch.as_tensor(a[key].reshape(15, 3), dtype=torch.float32)
        return tail

    def _joint_parts(self) -> tuple[str, ...]:
        # 22 jaw, 23/24 eyes, 25..39 left fingers, 40..54 right fingers.
        return _SMPL_JOINT_PARTS[:22] + ("head",) * 3 + ("left_hand",) * 15 + ("right_hand",) * 15


def _read_uv_obj(path: Path, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """UV coordinates `(T, 2)` and UV faces `(F, 3)` of an OBJ, matched to `faces` by vertex.

    The OBJ's faces may come in any order and start at any corner; each of `faces` must appear
    among them (same three vertices).

    Raises:
        ModelFilesError: unreadable OBJ, non-triangle faces, or faces that do not match.
    """
    try:
        uv: list[tuple[float, float]] = []
        corners: dict[tuple[int, int, int], dict[int, int]] = {}
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if not parts:
                    continue
                if parts[0] == "vt":
                    uv.append((float(parts[1]), float(parts[2])))
                elif parts[0] == "f":
                    if len(parts) != 4:
                        raise ValueError(f"a face with {len(parts) - 1} corners (triangles only)")
                    pairs = [p.split("/") for p in parts[1:]]
                    vs = [int(p[0]) - 1 for p in pairs]
                    ts = [int(p[1]) - 1 for p in pairs]
                    corners[tuple(sorted(vs))] = dict(zip(vs, ts))
        if not uv:
            raise ValueError("no 'vt' lines")
        uv_faces = []
        for a, b, c in faces.tolist():
            mapping = corners.get(tuple(sorted((a, b, c))))
            if mapping is None:
                raise ValueError(f"the model's face ({a}, {b}, {c}) is not among its faces")
            uv_faces.append((mapping[a], mapping[b], mapping[c]))
        uv_coords = torch.tensor(uv, dtype=torch.float32)
        uv_faces_t = torch.tensor(uv_faces, dtype=torch.int64)
        if uv_faces_t.min() < 0 or uv_faces_t.max() >= len(uv):
            raise ValueError("a face refers to a missing 'vt'")
        return uv_coords, uv_faces_t
    except (OSError, ValueError, IndexError) as err:
        raise ModelFilesError(f"cannot read the UV file {path}: {err}") from err
