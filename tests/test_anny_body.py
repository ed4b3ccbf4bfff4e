"""The default body model: Anny behind the BodyModel protocol."""

import math

import pytest
import torch

from bodymesh.body_model import BodyModel, zero_pose, zero_shape
from bodymesh.keypoints import KEYPOINT_INDEX
from bodymesh.parts import NUM_PARTS, PART_INDEX
from bodymesh.synthetic import random_pose, random_shape


def test_follows_the_protocol_with_anny_topology(anny_body):
    assert isinstance(anny_body, BodyModel)
    assert anny_body.num_vertices == 13718
    assert anny_body.faces.shape == (27420, 3) and anny_body.faces.dtype == torch.int64
    assert anny_body.uv_faces.shape == (27420, 3)
    assert anny_body.uv_coords.shape[1] == 2
    assert 0 <= float(anny_body.uv_coords.min()) and float(anny_body.uv_coords.max()) <= 1
    assert len(anny_body.joint_names) == 20 and anny_body.num_shape == 6


def test_part_labels_cover_every_part_and_are_left_right_symmetric(anny_body):
    counts = torch.bincount(anny_body.part_labels, minlength=NUM_PARTS)
    assert (counts > 0).all()
    for part in ("upper_arm", "lower_arm", "hand", "upper_leg", "lower_leg", "foot"):
        assert counts[PART_INDEX[f"left_{part}"]] == counts[PART_INDEX[f"right_{part}"]]


def test_forward_shapes_and_pelvis_at_origin(anny_body):
    generator = torch.Generator().manual_seed(1)
    pose, shape = random_pose(anny_body, 3, generator), random_shape(anny_body, 3, generator)
    out = anny_body(pose, shape)
    assert out.vertices.shape == (3, 13718, 3)
    assert out.joints.shape == (3, 20, 3)
    assert out.keypoints.shape == (3, 23, 3)
    assert torch.allclose(out.joints[:, 0], torch.zeros(3, 3), atol=1e-5)
    with pytest.raises(ValueError):
        anny_body(pose[:, :5], shape)


def test_fast_keypoints_equal_the_mesh_keypoints(anny_body):
    generator = torch.Generator().manual_seed(2)
    pose, shape = random_pose(anny_body, 4, generator), random_shape(anny_body, 4, generator)
    mesh = anny_body(pose, shape).keypoints
    assert torch.allclose(anny_body.keypoints(pose, shape), mesh, atol=1e-4)  # the 104-bone chain
    one = shape[:1]
    reduced = anny_body.keypoints(pose, one)  # one fixed shape: the 20-bone chain
    assert torch.allclose(reduced, anny_body(pose, one.expand(4, -1)).keypoints, atol=1e-4)
    assert torch.allclose(reduced, anny_body.keypoints(pose, one.clone().requires_grad_()), atol=1e-4)


def test_one_fixed_shape_is_posed_through_the_reduced_chain_as_anny_skins_it(anny_body):
    """A clip's or a subject's one shape goes through the 20-bone chain with per-vertex mixes:
    the same vertices, joints and keypoints as Anny's own 104-bone skinning (a shape that needs
    a gradient still takes that path)."""
    generator = torch.Generator().manual_seed(4)
    pose, shape = random_pose(anny_body, 3, generator), random_shape(anny_body, 1, generator)
    reduced = anny_body(pose, shape.expand(3, -1))
    anny = anny_body(pose, shape.expand(3, -1).clone().requires_grad_())
    for name in ("vertices", "joints", "keypoints"):
        assert torch.allclose(getattr(reduced, name), getattr(anny, name).detach(), atol=1e-5), name
    assert not torch.allclose(anny_body(pose, random_shape(anny_body, 1, generator).expand(3, -1)).vertices, reduced.vertices, atol=1e-3)
    moving = pose.clone().requires_grad_()
    anny_body(moving, shape).vertices.square().sum().backward()  # the pose still gets its gradient
    assert torch.isfinite(moving.grad).all() and moving.grad[:, 1:].abs().sum() > 0


def test_posed_vertices_are_the_meshs_vertices_at_those_indices(anny_body):
    """`posed_vertices` skins only the vertices asked for: the same points as the whole mesh's,
    for one shape without gradient (the reduced chain) and for a shape with one."""
    generator = torch.Generator().manual_seed(6)
    pose, shape = random_pose(anny_body, 3, generator), random_shape(anny_body, 1, generator)
    index = torch.tensor([0, 17, 4000, anny_body.num_vertices - 1])
    mesh = anny_body(pose, shape.expand(3, -1)).vertices[:, index]
    assert torch.allclose(anny_body.posed_vertices(pose, shape, index), mesh, atol=1e-5)
    with_gradient = anny_body.posed_vertices(pose, shape.clone().requires_grad_(), index)
    assert torch.allclose(with_gradient.detach(), mesh, atol=1e-5) and with_gradient.requires_grad


def test_gradients_reach_pose_and_shape(anny_body):
    pose = (0.1 * torch.randn(1, 20, 3)).requires_grad_()
    shape = torch.zeros(1, 6, requires_grad=True)
    anny_body.keypoints(pose, shape).square().sum().backward()
    assert torch.isfinite(pose.grad).all() and pose.grad[:, 1:].abs().sum() > 0
    assert torch.isfinite(shape.grad).all() and shape.grad.abs().sum() > 0
    mesh_pose = pose.detach().clone().requires_grad_()
    anny_body(mesh_pose, shape.detach()).vertices.square().sum().backward()
    assert mesh_pose.grad.abs().sum() > 0


def test_rest_body_faces_the_camera_upright_in_the_model_frame(anny_body):
    out = anny_body(zero_pose(anny_body), zero_shape(anny_body))
    keypoints = out.keypoints[0]
    nose, ankle = keypoints[KEYPOINT_INDEX["nose"]], keypoints[KEYPOINT_INDEX["left_ankle"]]
    assert nose[1] > ankle[1] + 1.0  # y up
    assert nose[2] > 0.05  # face towards +z, the camera
    assert keypoints[KEYPOINT_INDEX["left_shoulder"], 0] > 0.1  # the person's left at +x
    height = float(out.vertices[0, :, 1].max() - out.vertices[0, :, 1].min())
    assert 1.4 < height < 2.0


def test_faces_wind_counter_clockwise_from_outside(anny_body):
    vertices = anny_body(zero_pose(anny_body), zero_shape(anny_body)).vertices[0].double()
    a, b, c = (vertices[anny_body.faces[:, i]] for i in range(3))
    signed_volume = float((a * torch.linalg.cross(b, c)).sum() / 6)
    assert signed_volume > 0.03  # cubic metres: a person, and positive = outward normals


def test_turning_about_the_up_axis_turns_the_body_around(anny_body):
    pose = zero_pose(anny_body)
    pose[0, 0] = math.pi * torch.tensor(anny_body.up_axis)
    front = anny_body(zero_pose(anny_body), zero_shape(anny_body)).keypoints[0]
    back = anny_body(pose, zero_shape(anny_body)).keypoints[0]
    assert torch.allclose(back[:, 0], -front[:, 0], atol=1e-4)
    assert torch.allclose(back[:, 2], -front[:, 2], atol=1e-4)


def test_knee_flexion_within_its_limits_moves_the_ankle_back(anny_body):
    index = anny_body.joint_names.index("lowerleg01.L")
    assert anny_body.pose_prior.upper[index, 0] > 2.0 and anny_body.pose_prior.lower[index, 0] > -0.2
    pose = zero_pose(anny_body)
    pose[0, index, 0] = 1.0
    rest = anny_body(zero_pose(anny_body), zero_shape(anny_body)).keypoints[0, KEYPOINT_INDEX["left_ankle"]]
    bent = anny_body(pose, zero_shape(anny_body)).keypoints[0, KEYPOINT_INDEX["left_ankle"]]
    assert bent[2] < rest[2] - 0.2  # behind the body: away from the camera
    assert bent[1] > rest[1] + 0.1  # and up


def test_shape_changes_the_body(anny_body):
    tall = torch.zeros(1, 6)
    tall[0, anny_body.anny.phenotype_labels.index("height")] = 2.0
    rest = anny_body(zero_pose(anny_body), zero_shape(anny_body)).vertices[0, :, 1]
    taller = anny_body(zero_pose(anny_body), tall).vertices[0, :, 1]
    assert float(taller.max() - taller.min()) > float(rest.max() - rest.min()) + 0.05


def test_keypoints_of_alternating_shapes_reuse_their_skeletons_and_follow_in_place_changes(anny_body):
    """A video run asks for the driver's and the subject's keypoints in turn: each shape's
    reduced skeleton is built once (value-keyed cache), a new tensor with the same values hits,
    and a shape changed in place gets its own skeleton (the full chain's keypoints again)."""
    generator = torch.Generator().manual_seed(3)
    pose = random_pose(anny_body, 2, generator)
    driver, subject = random_shape(anny_body, 1, generator), random_shape(anny_body, 1, generator)
    calls = []
    build = anny_body._rest_skeleton
    anny_body._rest_skeleton = lambda shape: calls.append(1) or build(shape)
    try:
        for _ in range(3):
            for shape in (driver, subject, driver.clone()):
                anny_body.keypoints(pose, shape)
        assert len(calls) <= 2
        subject.add_(0.3)
        with torch.no_grad():
            expected = anny_body._keypoints_full(pose, subject)
        assert torch.allclose(anny_body.keypoints(pose, subject), expected, atol=1e-5)
    finally:
        del anny_body._rest_skeleton
