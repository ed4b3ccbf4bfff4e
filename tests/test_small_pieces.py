"""The small shared pieces of the layers: the shape-check vocabulary, texture sampling, the mesh
topology record, the projection of a posed body, the staged / atomic writes, weight files and
torchrun's device per rank."""

from __future__ import annotations

import pytest
import torch

from bodymesh.camera import mesh_to_image, to_image_space
from bodymesh.mesh import vertex_normals
from mimic.errors import OutputError
from mimic.media.files import StagedFile, copy_atomic
from mimic.media.tensor_file import read_tensors, write_tensors
from mimic.training.distributed import rank_device
from warping.checks import check_choice, check_positive_int, check_shape
from warping.composite import gaussian_blur
from warping.texture import sample_texture
from warping.topology import MeshTopology


def test_check_shape_binds_names_and_checks_literals():
    assert check_shape(torch.zeros(2, 3, 4, 5), "B 3 H W", "x") == {"B": 2, "H": 4, "W": 5}
    assert check_shape(torch.zeros(7, 6, 2), "... 2", "points") == {}
    assert check_shape(torch.zeros(2, 4, 4), "B H H", "square", sizes={"B": 2}) == {"B": 2, "H": 4}
    with pytest.raises(ValueError, match=r"x must be a \(B, 3, H, W\) tensor, got torch.float32 \(2, 4, 4, 5\)"):
        check_shape(torch.zeros(2, 4, 4, 5), "B 3 H W", "x")
    with pytest.raises(ValueError, match=r"\(S, H\) = \(3, H\)"):
        check_shape(torch.zeros(2, 4), "S H", "y", sizes={"S": 3})
    with pytest.raises(ValueError, match="square"):
        check_shape(torch.zeros(2, 4, 5), "B H H", "square")
    with pytest.raises(ValueError, match="floating"):
        check_shape(torch.zeros(2, 3, dtype=torch.int64), "N 3", "verts", floating=True)
    with pytest.raises(ValueError, match="integer"):
        check_shape(torch.zeros(2, 3), "F 3", "faces", floating=False)
    with pytest.raises(ValueError, match="got list"):
        check_shape([1, 2], "N", "values")


def test_positive_int_and_choice_checks():
    assert check_positive_int(3, "size") == 3
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="size must be a positive int"):
            check_positive_int(bad, "size")
    assert check_choice("zeros", ("zeros", "border"), "padding") == "zeros"
    with pytest.raises(ValueError, match=r"padding must be one of \('zeros', 'border'\), got 'edge'"):
        check_choice("edge", ("zeros", "border"), "padding")


def test_sample_texture_reads_texels_at_their_coordinates():
    texture = torch.arange(16.0).view(1, 1, 4, 4)  # texel (row i, column j) holds 4 i + j
    # texel (i, j) has u = (j + 0.5) / 4, v = 1 - (i + 0.5) / 4 (v up)
    uv = torch.tensor([[[[0.125, 0.875], [0.875, 0.125], [0.375, 0.625]]]])  # texels (0, 0), (3, 3), (1, 1)
    read = sample_texture(texture, uv)
    assert read.shape == (1, 1, 1, 3)
    assert torch.allclose(read[0, 0, 0], torch.tensor([0.0, 15.0, 5.0]))
    assert sample_texture(texture, uv.expand(3, -1, -1, -1)).shape == (3, 1, 1, 3)  # one texture, many maps
    with pytest.raises(ValueError, match="uv"):
        sample_texture(texture, uv[..., :1])


def test_mesh_topology_checks_its_parts_and_moves_whole():
    faces = torch.tensor([[0, 1, 2]])
    topology = MeshTopology(faces, torch.rand(3, 2), faces.clone(), torch.zeros(3, dtype=torch.int64), torch.rand(3, 3))
    moved = topology.to("cpu")
    assert torch.equal(moved.faces, faces) and moved is not topology
    with pytest.raises(ValueError, match="codes"):
        MeshTopology(faces, torch.rand(3, 2), faces.clone(), torch.zeros(3, dtype=torch.int64), torch.rand(4, 3))
    with pytest.raises(ValueError, match="uv_faces"):
        MeshTopology(faces, torch.rand(3, 2), torch.zeros(2, 3, dtype=torch.int64), torch.zeros(3, dtype=torch.int64), torch.rand(3, 3))


def test_mesh_to_image_projects_vertices_and_gives_keypoints_full_confidence():
    vertices, keypoints = torch.randn(2, 5, 3), torch.randn(2, 4, 3)
    cam = torch.tensor([[100.0, 50.0, 60.0], [80.0, 10.0, 20.0]])
    verts, points = mesh_to_image(vertices, keypoints, cam)
    assert torch.equal(verts, to_image_space(vertices, cam))
    assert torch.equal(points[..., :2], to_image_space(keypoints, cam)[..., :2]) and torch.all(points[..., 2] == 1)


def test_vertex_normals_of_a_batch_point_out_of_each_mesh():
    """An octahedron (counter-clockwise faces seen from outside): each vertex normal is its own
    direction from the centre; a second, moved and scaled copy in the batch gets the same."""
    corners = torch.tensor([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    faces = torch.tensor([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    normals = vertex_normals(torch.stack((corners, 3 * corners + 5)), faces)
    assert torch.allclose(normals[0], corners, atol=1e-6) and torch.allclose(normals[1], corners, atol=1e-6)


def test_a_staged_file_appears_whole_on_commit_and_never_on_discard(tmp_path):
    dest = tmp_path / "out.bin"
    staged = StagedFile(dest)
    staged.temp.write_bytes(b"whole")
    assert not dest.exists()
    staged.commit()
    assert dest.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [dest]
    other = StagedFile(tmp_path / "other.bin")
    other.temp.write_bytes(b"half")
    other.discard()
    assert list(tmp_path.iterdir()) == [dest]
    with pytest.raises(OutputError, match="does not exist"):
        StagedFile(tmp_path / "missing" / "x.bin")


def test_copy_atomic_makes_the_folder_and_copies(tmp_path):
    source = tmp_path / "a.mimic"
    source.write_bytes(b"subject")
    out = tmp_path / "new" / "folder" / "b.mimic"
    copy_atomic(source, out)
    assert out.read_bytes() == b"subject" and sorted(p.name for p in out.parent.iterdir()) == ["b.mimic"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        copy_atomic(source, tmp_path / "file" / "c.mimic")


def test_tensor_files_round_trip_with_their_metadata(tmp_path):
    path = tmp_path / "cache" / "w.safetensors"
    tensors = {"a": torch.arange(6.0).view(2, 3).t(), "b": torch.tensor(3)}  # not contiguous; 0-dim
    write_tensors(path, tensors, {"format": "test/1"})
    metadata, read = read_tensors(path)
    assert metadata == {"format": "test/1"}
    assert torch.equal(read["a"], tensors["a"]) and torch.equal(read["b"], tensors["b"])


def test_rank_device_is_the_local_gpu_under_torchrun(monkeypatch):
    assert rank_device("cuda") == "cuda" and rank_device("cpu") == "cpu"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert rank_device("cuda") == "cuda:1"
    assert rank_device("cuda:0") == "cuda:0" and rank_device("cpu") == "cpu"


def test_the_cpu_blur_equals_the_convolution_it_stands_for():
    """`gaussian_blur` of a float32 CPU tensor without gradient (OpenCV's separable filter)
    equals the grouped convolutions that a tensor needing a gradient goes through, zero
    padding included."""
    x = torch.rand(2, 6, 53, 37).transpose(2, 3)[:, 1:5]  # strided views are read right too
    for sigma in (0.8, 2.0):
        fast = gaussian_blur(x, sigma)
        convolved = gaussian_blur(x.clone().requires_grad_(), sigma)
        assert convolved.requires_grad and torch.allclose(fast, convolved.detach(), atol=1e-6)
    edge = gaussian_blur(torch.ones(1, 1, 9, 9), 0.8)
    assert float(edge[0, 0, 4, 4]) == pytest.approx(1.0) and float(edge[0, 0, 0, 4]) < 0.95  # zeros beyond the edge
