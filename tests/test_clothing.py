"""The clothed subject: offsets fitted to a synthetic person wearing a known skirt and hair."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from bodymesh.anny_body import POSED_BONES
from bodymesh.body_model import BodyModel, zero_pose, zero_shape
from bodymesh.camera import to_image_space
from bodymesh.clothed_body import ClothedBody
from bodymesh.keypoints import KEYPOINT_INDEX
from bodymesh.parts import PART_INDEX
from mimic.pipeline.clothing import ClothesConfig, fit_clothes, silhouette_overlap
from tests.conftest import front_camera
from warping.raster import rasterize

SIZE = 128


def _silhouette(body: BodyModel, pose: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """`(B, SIZE, SIZE)` face ids of `body` in poses `(B, J, 3)` seen by cameras `(B, 3)`."""
    with torch.no_grad():
        verts = body.forward(pose, zero_shape(body, pose.shape[0]).to(pose)).vertices
    return rasterize(to_image_space(verts, cam), body.faces, SIZE, SIZE).face_id


def _dressed_mask(body: BodyModel, pose: torch.Tensor, cam: torch.Tensor) -> np.ndarray:
    """The person mask `(SIZE, SIZE)` float of the naked body in `pose (1, J, 3)` wearing a
    knee-length skirt (a trapezoid from the hips, wider than the legs) and voluminous hair (an
    ellipse about the head)."""
    with torch.no_grad():
        output = body.forward(pose, zero_shape(body))
    s = float(cam[0, 0])
    key = to_image_space(output.keypoints, cam)[0, :, :2].numpy()
    head = to_image_space(output.vertices, cam)[0, body.part_labels == PART_INDEX["head"], :2].numpy()
    mask = (_silhouette(body, pose, cam)[0] >= 0).numpy().astype(np.uint8)
    hips = key[[KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]]]
    knees = key[[KEYPOINT_INDEX["left_knee"], KEYPOINT_INDEX["right_knee"]]]
    top, bottom = hips[:, 1].mean(), knees[:, 1].mean() + 0.04 * s
    centre = hips[:, 0].mean()
    half_top, half_bottom = abs(hips[0, 0] - hips[1, 0]) / 2 + 0.07 * s, abs(knees[0, 0] - knees[1, 0]) / 2 + 0.12 * s
    skirt = np.array([[centre - half_top, top], [centre + half_top, top], [centre + half_bottom, bottom], [centre - half_bottom, bottom]])
    cv2.fillPoly(mask, [np.round(skirt).astype(np.int32)], 1)
    crown = (head[:, 0].mean(), head[:, 1].min() + 0.09 * s)
    cv2.ellipse(mask, (round(crown[0]), round(crown[1])), (round(0.15 * s), round(0.14 * s)), 0, 0, 360, 1, -1)
    return mask.astype(np.float32)


@pytest.fixture(scope="module")
def dressed(anny_body):
    """Front and back views of the skirt-and-hair person, their masks, and the clothes fitted
    to both: `(poses (2, J, 3), cams (2, 3), masks (2, H, W), clothed)`."""
    cam = front_camera(anny_body, SIZE)
    front = zero_pose(anny_body)
    back = front.clone()
    back[0, 0] = torch.pi * torch.tensor(anny_body.up_axis)
    poses, cams = torch.cat((front, back)), cam.expand(2, -1)
    masks = torch.from_numpy(np.stack([_dressed_mask(anny_body, p[None], cam) for p in poses]))
    clothed = fit_clothes(anny_body, zero_shape(anny_body)[0], poses, cams, masks)
    return poses, cams, masks, clothed


def test_offsets_recover_the_silhouette_of_skirt_and_hair_in_both_views(anny_body, dressed):
    poses, cams, masks, clothed = dressed
    naked_iou, naked_uncovered = silhouette_overlap(_silhouette(anny_body, poses, cams), masks)
    iou, uncovered = silhouette_overlap(_silhouette(clothed, poses, cams), masks)
    assert float(naked_iou.max()) < 0.8 and float(naked_uncovered.min()) > 0.2  # the naked body misses them
    assert float(iou.min()) >= 0.93
    assert float(uncovered.max()) <= 0.04
    assert isinstance(clothed, BodyModel) and torch.equal(clothed.faces, anny_body.faces)
    head = anny_body.part_labels == PART_INDEX["head"]
    assert float(clothed.offsets[head].max()) > 0.04  # the hair is volume on the head


def _legs_together(body: BodyModel) -> torch.Tensor:
    """`(1, J, 3)` the zero pose with the thighs turned in until the legs touch."""
    pose = zero_pose(body).clone()
    pose[0, POSED_BONES.index("upperleg01.L"), 1] = 0.2
    pose[0, POSED_BONES.index("upperleg01.R"), 1] = -0.2
    return pose


def _between_the_legs_covered(body: BodyModel, fitted: torch.Tensor, cam: torch.Tensor) -> float:
    """Share of the rows below the crotch and above a knee-length hem of `fitted (1, J, 3)` whose
    middle pixels `body` covers once its legs are spread (`cam (1, 3)`)."""
    spread = fitted.clone()
    spread[0, POSED_BONES.index("upperleg01.L"), 1] = -0.35
    spread[0, POSED_BONES.index("upperleg01.R"), 1] = 0.35
    s = float(cam[0, 0])
    with torch.no_grad():
        key = to_image_space(body.forward(fitted, zero_shape(body)).keypoints, cam)[0]
    hips = key[[KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]]]
    hip_y, centre = float(hips[:, 1].mean()), int(hips[:, 0].mean())
    knee_y = float(key[[KEYPOINT_INDEX["left_knee"], KEYPOINT_INDEX["right_knee"]], 1].mean())
    rows = slice(int(hip_y + 0.12 * s), int(knee_y - 0.03 * s))
    middle = _silhouette(body, spread, cam)[0, rows, centre - 1 : centre + 2] >= 0
    return float(middle.all(1).float().mean())


def _torn(clothed: ClothedBody) -> ClothedBody:
    """The same clothes with nothing hanging from the pelvis (each side on its own thigh)."""
    return ClothedBody(clothed.base, clothed.offsets, torch.zeros_like(clothed.hang), clothed.hung, clothed.anchors, clothed.anchor_points)


def test_skirt_stays_one_piece_when_the_legs_part(anny_body, dressed):
    poses, cams, _, clothed = dressed
    assert _between_the_legs_covered(anny_body, poses[:1], cams[:1]) < 0.2  # the legs are apart
    assert _between_the_legs_covered(_torn(clothed), poses[:1], cams[:1]) < 0.6  # a skirt on the thighs alone tears between them
    assert _between_the_legs_covered(clothed, poses[:1], cams[:1]) > 0.95  # hanging from the pelvis, it stays whole


def test_skirt_fitted_on_legs_standing_together_stays_one_piece_when_they_part(anny_body):
    """Legs together under a skirt bridge nothing (they meet bare at the midline): the skirt is
    found by its hem, and its inner side hangs from the pelvis."""
    pose, cam = _legs_together(anny_body), front_camera(anny_body, SIZE)
    mask = torch.from_numpy(_dressed_mask(anny_body, pose, cam))[None]
    clothed = fit_clothes(anny_body, zero_shape(anny_body)[0], pose, cam, mask)
    assert float(silhouette_overlap(_silhouette(clothed, pose, cam), mask)[0][0]) >= 0.93
    assert _between_the_legs_covered(_torn(clothed), pose, cam) < 0.6
    assert _between_the_legs_covered(clothed, pose, cam) > 0.9


def test_wide_trousers_on_legs_standing_together_follow_the_legs(anny_body):
    """Trousers standing off the legs down to the ankles have no hem: nothing hangs, so each
    leg keeps its own trouser leg when the legs part."""
    pose, cam = _legs_together(anny_body), front_camera(anny_body, SIZE)
    naked = (_silhouette(anny_body, pose, cam)[0] >= 0).numpy().astype(np.uint8)
    with torch.no_grad():
        key = to_image_space(anny_body.forward(pose, zero_shape(anny_body)).keypoints, cam)[0]
    hip_y = int(key[[KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]], 1].mean())
    reach = round(0.04 * float(cam[0, 0]))  # 4 cm of cloth about each leg
    trousers = naked.copy()
    trousers[hip_y:] = cv2.dilate(naked, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))[hip_y:]
    mask = torch.from_numpy(trousers.astype(np.float32))[None]
    clothed = fit_clothes(anny_body, zero_shape(anny_body)[0], pose, cam, mask)
    legs = torch.isin(anny_body.part_labels, torch.tensor([PART_INDEX[f"{s}_{p}"] for s in ("left", "right") for p in ("upper_leg", "lower_leg")]))
    assert float(torch.quantile(clothed.offsets[legs], 0.9)) > 0.02  # the trousers are worn
    assert float(clothed.hang.max()) == 0.0


def test_clothes_config_checks_its_range():
    with pytest.raises(ValueError):
        ClothesConfig(min_offset=0.01)
    with pytest.raises(ValueError):
        ClothesConfig(iterations=0)


@pytest.mark.parametrize("clothed", [True, False])
def test_imitator_subjects_wear_their_clothes_unless_asked_not_to(anny_body, dressed, clothed):
    from bodymesh.fit import BodyFit
    from mimic.generators.warp_only import WarpOnlyGenerator
    from mimic.pipeline.imitator import Imitator, ImitatorConfig

    poses, cams, masks, _ = dressed
    config = ImitatorConfig(size=SIZE, texture_size=64, clothes=ClothesConfig() if clothed else None)
    imitator = Imitator(anny_body, WarpOnlyGenerator(), config)
    keypoints = torch.zeros(23, 3)
    fits = [BodyFit(p, zero_shape(anny_body)[0], c, keypoints, keypoints[:, :2]) for p, c in zip(poses, cams)]
    crops = [np.full((SIZE, SIZE, 3), 128, np.uint8) for _ in fits]
    subject = imitator.subject(crops, list(masks.numpy()), fits)
    iou, _ = silhouette_overlap(subject.bundle.fragments.face_id, masks)
    if clothed:
        assert isinstance(subject.body, ClothedBody) and float(iou.min()) >= 0.93
    else:
        assert subject.body is anny_body and float(iou.max()) < 0.8
    pose = poses[0].clone()
    pose[POSED_BONES.index("upperleg01.L"), 1] = -0.35
    target = imitator.target(subject, pose, cams[0], subject.bundle.background)
    assert torch.equal(target.fragments.face_id >= 0, _silhouette(subject.body, pose[None], cams[:1]) >= 0)  # targets draw the subject's body


def test_clothed_skinning_carries_the_clothed_surface_on_the_base_skeleton(anny_body, dressed):
    """`ClothedBody.skinning` (for glTF): the base skeleton; at rest, skinning gives the clothed
    rest surface, which lies off the naked one where the clothes are."""
    from bodymesh.body_model import zero_pose, zero_shape

    clothed = dressed[3]
    pose, shape = zero_pose(anny_body), zero_shape(anny_body)
    naked, worn = anny_body.skinning(pose, shape), clothed.skinning(pose, shape)
    assert worn.bone_names == naked.bone_names and torch.allclose(worn.weights.sum(1), torch.ones(anny_body.num_vertices), atol=1e-5)
    moved = worn.rest_vertices - naked.rest_vertices
    dressed_at_zero = clothed(pose, shape).vertices[0] - anny_body(pose, shape).vertices[0]
    assert float(moved.norm(dim=-1).max()) > 0.02  # the clothes are there
    # where forward puts them, within 1 cm (measured 6.5 mm: Anny's rest pose is not quite its zero pose)
    assert float((moved - dressed_at_zero).norm(dim=-1).max()) < 0.01


def test_the_first_view_sets_the_clothes_on_its_rim(anny_body, dressed):
    """A second view whose mask sits 12 pixels beside its mesh (a body fit that missed the
    person) adds nothing where the first view's rim already holds the vertices: the first view's
    clothes stay as fitted alone; given first, the misfit would set them."""
    poses, cams, masks, _ = dressed
    shifted = torch.roll(masks[:1], 12, dims=2)
    two_poses, two_cams, shape = poses[:1].expand(2, -1, -1), cams[:1].expand(2, -1), zero_shape(anny_body)[0]

    def front_iou(clothed: BodyModel) -> float:
        return float(silhouette_overlap(_silhouette(clothed, poses[:1], cams[:1]), masks[:1])[0][0])

    alone = front_iou(fit_clothes(anny_body, shape, poses[:1], cams[:1], masks[:1]))
    first = front_iou(fit_clothes(anny_body, shape, two_poses, two_cams, torch.cat((masks[:1], shifted))))
    second = front_iou(fit_clothes(anny_body, shape, two_poses, two_cams, torch.cat((shifted, masks[:1]))))
    assert first >= alone - 0.01 and second < first - 0.05, (alone, first, second)
