"""The skinned glTF export, read back with pygltflib and re-skinned here with numpy (glTF's own
rule: joint matrix = global transform of the joint node x its inverse bind matrix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mimic.media.gltf import gltf_bytes, seam_split, top_influences

pygltflib = pytest.importorskip("pygltflib", reason="pygltflib (a test dependency) reads the glTF back")

_COMPONENTS = {5126: np.float32, 5123: np.uint16, 5125: np.uint32, 5121: np.uint8}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def read_accessor(gltf, index: int) -> np.ndarray:
    """An accessor of a loaded glb as an array `(count, width)`."""
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    blob = gltf.binary_blob()
    start = view.byteOffset + (accessor.byteOffset or 0)
    dtype = _COMPONENTS[accessor.componentType]
    width = _WIDTH[accessor.type]
    data = np.frombuffer(blob, dtype=dtype, count=accessor.count * width, offset=start)
    return data.reshape(accessor.count, width)


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def skinned_frames(path: Path) -> tuple[np.ndarray, int]:
    """Every animation frame of the glb's skinned mesh, `(T, V, 3)`, computed from the file alone
    (the animation's samples, node hierarchy, inverse bind matrices, joints and weights)."""
    gltf = pygltflib.GLTF2().load(str(path))
    primitive = gltf.meshes[0].primitives[0]
    positions = read_accessor(gltf, primitive.attributes.POSITION).astype(np.float64)
    skin = gltf.skins[0]
    inverse_bind = read_accessor(gltf, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    animation = gltf.animations[0]
    times = read_accessor(gltf, animation.samplers[0].input)[:, 0]
    count = len(times)
    local = {}
    for channel in animation.channels:
        local[(channel.target.node, channel.target.path)] = read_accessor(gltf, animation.samplers[channel.sampler].output)
    parent = {c: n for n, node in enumerate(gltf.nodes) for c in (node.children or [])}
    sets = [(getattr(primitive.attributes, f"JOINTS_{k}", None), getattr(primitive.attributes, f"WEIGHTS_{k}", None)) for k in range(4)]
    sets = [(read_accessor(gltf, j), read_accessor(gltf, w)) for j, w in sets if j is not None]
    frames = []
    for t in range(count):
        world: dict[int, np.ndarray] = {}

        def global_of(node: int) -> np.ndarray:
            if node not in world:
                matrix = np.eye(4)
                matrix[:3, :3] = _quat_to_matrix(local[(node, "rotation")][t].astype(np.float64))
                matrix[:3, 3] = local[(node, "translation")][t]
                world[node] = matrix if node not in parent else global_of(parent[node]) @ matrix
            return world[node]

        joint_matrices = np.stack([global_of(j) @ inverse_bind[k] for k, j in enumerate(skin.joints)])
        homogeneous = np.concatenate((positions, np.ones((len(positions), 1))), axis=1)
        out = np.zeros_like(positions)
        for joints, weights in sets:
            for k in range(4):
                out += weights[:, k : k + 1] * np.einsum("vij,vj->vi", joint_matrices[joints[:, k]], homogeneous)[:, :3]
        frames.append(out)
    return np.stack(frames), count


def test_top_influences_keeps_the_largest_and_renormalizes() -> None:
    weights = np.array([[0.1, 0.5, 0.0, 0.3, 0.1], [1.0, 0.0, 0.0, 0.0, 0.0]])
    joints, kept = top_influences(weights, 2)
    assert joints.tolist() == [[1, 3], [0, 0]]
    np.testing.assert_allclose(kept, [[0.625, 0.375], [1.0, 0.0]], rtol=1e-6)


def test_seam_split_gives_one_vertex_per_uv_corner() -> None:
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    uv_faces = np.array([[0, 1, 2], [4, 2, 3]])  # vertex 0 has two UVs
    source, uv_index, new_faces = seam_split(faces, uv_faces)
    assert len(source) == 5
    np.testing.assert_array_equal(source[new_faces], faces)
    np.testing.assert_array_equal(uv_index[new_faces], uv_faces)


@pytest.mark.slow
@pytest.mark.parametrize("influences, tolerance", [(4, 0.02), (12, 1e-4)])
def test_anny_glb_reskins_to_the_body_models_vertices(anny_body, tmp_path: Path, influences: int, tolerance: float) -> None:
    """Every frame of the file, skinned from its own data, is the body model's mesh of that
    frame: within 2 cm (max, mean under 0.2 mm) with the 4 largest weights per vertex, within
    0.1 mm with all of them (Anny skins each vertex with up to 9 bones)."""
    generator = torch.Generator().manual_seed(0)
    pose = 0.4 * torch.randn(3, len(anny_body.joint_names), 3, generator=generator)
    shape = torch.randn(1, anny_body.num_shape, generator=generator)
    path = tmp_path / "body.glb"
    path.write_bytes(gltf_bytes(anny_body.skinning(pose, shape), anny_body.faces, fps=25.0, influences=influences))
    frames, count = skinned_frames(path)
    expected = anny_body.forward(pose, shape.expand(3, -1)).vertices.double().numpy()
    assert count == 3 and frames.shape == expected.shape == (3, anny_body.num_vertices, 3)
    error = np.linalg.norm(frames - expected, axis=-1)
    assert error.max() < tolerance
    assert error.mean() < 2e-4


@pytest.mark.slow
def test_mimic_fit_video_glb_moves_like_the_fit(anny_body, tmp_path: Path) -> None:
    """`mimic fit VIDEO --glb --obj`: the glb has the body's vertices, one animation frame per
    fitted frame at the video's frame rate, and frame k skinned from the file is the mesh of
    fit.npz's frame k (within 2 cm, mean under 0.2 mm: 4 weights a vertex); the OBJs are too."""
    from mimic.media.video_read import probe_video
    from tests.cli_helpers import run_mimic
    from tests.conftest import shared_file

    video = shared_file("videos", "mmhuman3d_dribble.mp4")
    out, glb = tmp_path / "out", tmp_path / "dribble.glb"
    result = run_mimic("fit", str(video), "--out", str(out), "--max-frames", "4", "--glb", str(glb), "--obj")
    assert result.returncode == 0, result.stderr
    assert str(glb) in result.stdout
    gltf = pygltflib.GLTF2().load(str(glb))
    assert gltf.accessors[gltf.meshes[0].primitives[0].attributes.POSITION].count == anny_body.num_vertices
    times = read_accessor(gltf, gltf.animations[0].samplers[0].input)[:, 0]
    np.testing.assert_allclose(np.diff(times), 1.0 / probe_video(video).fps, rtol=1e-4)
    frames, count = skinned_frames(glb)
    fit = np.load(out / "fit.npz")
    assert count == 4 == len(fit["pose"])
    expected = anny_body.forward(torch.from_numpy(fit["pose"]), torch.from_numpy(fit["shape"])[None].expand(4, -1)).vertices.double().numpy()
    error = np.linalg.norm(frames - expected, axis=-1)
    assert error.max() < 0.02 and error.mean() < 2e-4
    objs = sorted((out / "meshes").glob("frame_*.obj"))
    assert len(objs) == 4
    vertices = np.array([line.split()[1:] for line in objs[2].read_text().splitlines() if line.startswith("v ")], dtype=float)
    np.testing.assert_allclose(vertices, expected[2], atol=1e-5)


@pytest.mark.slow
def test_mimic_fit_photo_glb_is_textured_with_the_photo(anny_body, tmp_path: Path) -> None:
    """A fitted photo's glb: one frame, UVs (vertices split along UV seams) and a PNG texture
    of the subject (not blank)."""
    import cv2

    from tests.cli_helpers import run_mimic
    from tests.conftest import shared_file

    photo = shared_file("images", "pexels_man_wall.jpg")
    glb = tmp_path / "man.glb"
    result = run_mimic("fit", str(photo), "--out", str(tmp_path / "out"), "--glb", str(glb))
    assert result.returncode == 0, result.stderr
    gltf = pygltflib.GLTF2().load(str(glb))
    primitive = gltf.meshes[0].primitives[0]
    source, _, _ = seam_split(anny_body.faces.numpy(), anny_body.uv_faces.numpy())
    assert gltf.accessors[primitive.attributes.POSITION].count == len(source) > anny_body.num_vertices
    assert primitive.attributes.TEXCOORD_0 is not None and primitive.material == 0
    view = gltf.bufferViews[gltf.images[0].bufferView]
    png = gltf.binary_blob()[view.byteOffset : view.byteOffset + view.byteLength]
    texture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert texture.shape == (512, 512, 3) and texture.std() > 10
    assert skinned_frames(glb)[1] == 1


def test_mimic_fit_glb_needs_a_glb_name(tmp_path: Path) -> None:
    from tests.cli_helpers import run_mimic

    result = run_mimic("fit", str(tmp_path / "x.jpg"), "--glb", str(tmp_path / "x.gltf"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"mimic: error: --glb writes a binary glTF: give a file name ending in .glb, got '{tmp_path / 'x.gltf'}'"]
