"""Novel views of synthetic bodies with flat per-part colours: mirrored at 180 degrees, unchanged
after a full turn, the back taken from a back photo when there is one."""

import math

import pytest
import torch

from bodymesh.body_model import zero_shape
from bodymesh.parts import NUM_PARTS, PART_INDEX
from mimic.errors import OptionError
from mimic.pipeline.imitator import Imitator
from mimic.tasks.demo import dance_pose
from mimic.tasks.novel_view import parse_angles, render_view, turntable_angles, view_file_name, view_rotation
from tests.view_helpers import SIZE, camera, nearest_colour, palette, part_texture, synthetic_subject, view_imitator
from warping.texture import pad_islands


def rest_vertices(body) -> torch.Tensor:
    """`(V, 3)` the average body in the rest pose, model frame."""
    with torch.no_grad():
        return body.forward(torch.zeros(1, len(body.joint_names), 3), zero_shape(body)).vertices[0]


def face_texture(imitator: Imitator, faces: torch.Tensor, inside: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """`(1, 3, T, T)`: colour `inside (3,)` on the texels of the faces where `faces (F,)` is
    True, `outside (3,)` elsewhere."""
    face_id = imitator.textures.uv_fragments.face_id
    chosen = faces[face_id.clamp(min=0)][:, None]
    return pad_islands(torch.where(chosen, inside[:, None, None], outside[:, None, None]), (face_id >= 0)[:, None], 4)






@pytest.fixture(scope="module")
def imitator(anny_body):
    return view_imitator(anny_body)


@pytest.fixture(scope="module")
def front(imitator):
    """A front view of a left/right symmetric pose (arms a little down) in per-part colours."""
    colours = palette(NUM_PARTS, seed=0)
    pose = dance_pose(imitator.body, 0.0)
    subject = synthetic_subject(imitator, [part_texture(imitator, colours)], [pose], zero_shape(imitator.body), [camera()])
    return subject, colours


def test_rotation_turns_to_the_left_and_tilts_towards_the_camera():
    front = torch.tensor([0.0, 0.0, 1.0])
    assert torch.allclose(view_rotation(90) @ front, torch.tensor([1.0, 0.0, 0.0]), atol=1e-6)
    assert torch.allclose(view_rotation(0, tilt=90) @ torch.tensor([0.0, 1.0, 0.0]), front, atol=1e-6)
    assert torch.allclose(view_rotation(360), torch.eye(3), atol=1e-6)
    assert view_file_name(45) == "view_045.png" and view_file_name(-90) == "view_-90.png" and view_file_name(22.5) == "view_022.5.png"
    assert turntable_angles(4) == [0.0, 90.0, 180.0, 270.0]


def test_angles_out_of_range_and_bad_lists_are_refused():
    assert parse_angles("0, 45,-90") == [0.0, 45.0, -90.0]
    for text, message in (("400", "out of range"), ("0,x", "comma-separated"), ("", "comma-separated")):
        with pytest.raises(OptionError, match=message):
            parse_angles(text)
    with pytest.raises(OptionError, match="tilt 120 is out of range"):
        view_rotation(0, tilt=120)
    with pytest.raises(OptionError, match="angle nan"):
        view_rotation(math.nan)


def test_the_0_and_360_degree_views_reproduce_the_source(imitator, front):
    subject, _ = front
    view0 = render_view(imitator, subject, 0.0)
    view360 = render_view(imitator, subject, 360.0)
    assert float((view360 - view0).abs().max()) < 1e-3
    body = subject.bundle.fragments.face_id[0] >= 0
    error = (view0 - subject.bundle.images[:1]).abs().mean(1)[0]
    assert float(error[body].mean()) < 0.01


def test_180_degrees_mirrors_the_left_arm_to_the_other_side(imitator):
    """The person's left half red, right half blue, in a left/right symmetric pose, pelvis on
    the middle column. Facing the camera, the left arm is on the image's right; turned by 180
    degrees it lies where the mirror image puts it, on the left, and is still red (its back,
    which the photo never saw, filled from the left side's colours)."""
    body = imitator.body
    red, blue = torch.tensor([0.8, -0.8, -0.8]), torch.tensor([-0.8, -0.8, 0.8])
    face_left = rest_vertices(body)[body.faces].mean(1)[:, 0] > 0
    texture = face_texture(imitator, face_left, red, blue)
    subject = synthetic_subject(imitator, [texture], [dance_pose(body, 0.0)], zero_shape(body), [camera()])
    fit = subject.fits[0]
    turned = imitator.target(subject, fit.pose, fit.cam, subject.bundle.background, rotation=view_rotation(180.0))
    label = nearest_colour(render_view(imitator, subject, 180.0), torch.stack((red, blue)))
    columns = torch.arange(SIZE).expand(SIZE, SIZE).float()
    for side, colour in (("left", 0), ("right", 1)):
        names = (f"{side}_upper_arm", f"{side}_lower_arm", f"{side}_hand")
        before = torch.isin(subject.bundle.parts[0], torch.tensor([PART_INDEX[n] for n in names]))
        after = torch.isin(turned.parts[0], torch.tensor([PART_INDEX[n] for n in names]))
        mirrored = before.flip(1)
        assert float((after & mirrored).sum()) / float((after | mirrored).sum()) > 0.8
        if side == "left":
            assert float(columns[before].mean()) > SIZE / 2 + 8 and float(columns[after].mean()) < SIZE / 2 - 8
        assert float((label[after] == colour).float().mean()) > 0.95
    silhouette = subject.bundle.parts[0] >= 0  # a symmetric body: the mirror image's outline
    assert float(((turned.parts[0] >= 0) ^ silhouette.flip(1)).sum()) < 0.02 * float(silhouette.sum())


def test_with_a_back_photo_the_back_comes_from_it(imitator):
    """Front half of the body green, back half magenta: the front photo sees only green, the
    back photo only magenta. Turned by 180 degrees, the back shows magenta when the back photo
    is a source, and not without it."""
    body = imitator.body
    green, magenta = torch.tensor([-0.8, 0.8, -0.8]), torch.tensor([0.8, -0.8, 0.8])
    rest = rest_vertices(body)
    face_front = rest[body.faces].mean(1)[:, 2] > rest[body.part_labels == PART_INDEX["torso"], 2].mean()
    texture = face_texture(imitator, face_front, green, magenta)
    pose = dance_pose(body, 0.0)
    back_pose = pose.clone()
    back_pose[0, 0] = math.pi * torch.tensor(body.up_axis)
    shape = zero_shape(body)
    both = synthetic_subject(imitator, [texture, texture], [pose, back_pose], shape, [camera(), camera(50.0)])
    front_only = synthetic_subject(imitator, [texture], [pose], shape, [camera()])
    torso_back = imitator.target(
        both, pose[0], camera()[0], both.bundle.background, rotation=view_rotation(180.0)
    )
    torso = torso_back.parts[0] == PART_INDEX["torso"]
    assert int(torso.sum()) > 300
    assert float(torso_back.weights[1][torso].mean()) > 0.95  # the back photo sees it squarely
    colours = torch.stack((green, magenta))
    with_back = nearest_colour(render_view(imitator, both, 180.0), colours)
    without = nearest_colour(render_view(imitator, front_only, 180.0), colours)
    assert float((with_back[torso] == 1).float().mean()) > 0.95
    assert float((without[torso] == 1).float().mean()) < 0.5
    # At 0 degrees the front photo still textures the front.
    assert float((nearest_colour(render_view(imitator, both, 0.0), colours)[torso] == 0).float().mean()) > 0.95
