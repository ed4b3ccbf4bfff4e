"""The parts of the text-to-pose paper beyond the model: its two measures on cases with a known
answer, balanced caption sampling, sentence interpolation and the regression baseline."""

from __future__ import annotations

import pytest
import torch

from bodymesh.heatmaps import keypoints_to_heatmaps
from mimic.errors import OptionError
from mimic.tasks.pose import interpolated_texts
from mimic.text2pose.captioner import Caption
from mimic.text2pose.data import FRAME, PERSON_SIZE, SIGMA, PoseTextBatch, caption_weights
from mimic.text2pose.evaluation import nearest_pose_distance, pose_distances, text_fidelity
from mimic.text2pose.regression import RegressionConfig, Text2PoseRegression, from_unit, to_unit


def _pose(offset: float, count: int = 4) -> torch.Tensor:
    """`(K, 3)` keypoints on a horizontal line at height 20, shifted right by `offset` pixels."""
    xs = torch.arange(count, dtype=torch.float32) * 5 + 10 + offset
    return torch.stack((xs, torch.full_like(xs, 20.0), torch.ones_like(xs)), -1)


def test_pose_distance_is_the_mean_keypoint_distance_in_person_sizes():
    a = torch.stack((_pose(0.0), _pose(0.0)))
    b = torch.stack((_pose(0.0), _pose(PERSON_SIZE / 2)))
    distances = pose_distances(a, b)
    assert torch.allclose(distances, torch.tensor([[0.0, 0.5], [0.0, 0.5]]))
    absent = _pose(0.0).clone()
    absent[:, 2] = 0
    assert pose_distances(absent[None], b)[0].isinf().all()  # nothing in common
    half = _pose(3.0).clone()
    half[:2, 2] = 0  # only the last two keypoints count
    assert torch.allclose(pose_distances(half[None], _pose(0.0)[None]), torch.tensor([[3.0 / PERSON_SIZE]]))


def test_realism_is_the_distance_to_the_nearest_training_pose():
    train = torch.stack([_pose(d) for d in (0.0, 10.0, 20.0)])
    generated = torch.stack((_pose(9.0), _pose(20.0), _pose(-5.0)))
    assert torch.allclose(nearest_pose_distance(generated, train, chunk=2), torch.tensor([1.0, 0.0, 5.0]) / PERSON_SIZE)


def test_text_fidelity_compares_with_the_poses_of_the_nearest_captions():
    train_texts = torch.eye(3)  # three captions, orthogonal sentences
    train_poses = torch.stack([_pose(d) for d in (0.0, 10.0, 20.0)])
    texts = torch.tensor([[0.1, 1.0, 0.0], [0.0, 0.0, 2.0]])  # nearest to caption 1, then caption 2
    right = torch.stack((_pose(10.0), _pose(21.0)))
    wrong = torch.stack((_pose(0.0), _pose(0.0)))
    assert torch.allclose(text_fidelity(right, texts, train_texts, train_poses, neighbours=1), torch.tensor([0.0, 1.0]) / PERSON_SIZE)
    assert (text_fidelity(wrong, texts, train_texts, train_poses, neighbours=1) > text_fidelity(right, texts, train_texts, train_poses, neighbours=1)).all()


def test_caption_weights_balance_rare_facts_up_to_a_cap():
    common, rare = Caption("a", ("legs_apart",)), Caption("b", ("arms_to_sides", "legs_apart"))
    captions = [[common, common]] * 9 + [[rare, common]]  # arms_to_sides in 1 caption of 20, legs_apart in all
    weights = caption_weights(captions, cap=100.0)
    assert weights.shape == (10, 2)
    assert torch.allclose(weights[9, 0], torch.tensor(1.0)) and torch.allclose(weights[0, 0], torch.tensor(1 / 20))
    capped = caption_weights(captions, cap=2.0)
    assert torch.allclose(capped.max(), 2.0 * capped.median())


def test_interpolated_texts_go_from_one_sentence_to_the_other_in_equal_steps():
    start, end = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    texts = interpolated_texts(start, end, 5)
    assert torch.equal(texts[0], start) and torch.equal(texts[-1], end)
    assert torch.allclose(texts[1:] - texts[:-1], torch.tensor([1.0, -1.0]).expand(4, 2))
    with pytest.raises(OptionError, match="at least 2"):
        interpolated_texts(start, end, 1)


def _batch(keypoints: torch.Tensor, text: torch.Tensor) -> PoseTextBatch:
    heatmaps = keypoints_to_heatmaps(keypoints, FRAME, FRAME, SIGMA) * 2 - 1
    return PoseTextBatch(heatmaps, text, text.roll(1, 0), text.roll(2, 0))


def test_regression_baseline_coordinates_round_trip_and_train():
    keypoints = torch.cat((torch.rand(6, 23, 2) * 40 + 12, torch.ones(6, 23, 1)), -1)
    assert torch.allclose(from_unit(to_unit(keypoints)), keypoints, atol=1e-5)
    torch.manual_seed(0)
    model = Text2PoseRegression(RegressionConfig(text_size=8, text_compressed=4, noise_size=4, width=32, depth=2, critic_steps=1))
    batch = _batch(keypoints, torch.randn(6, 8))
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in model.nets.items()}
    losses = model.train_step(batch, 0)
    assert {"d", "penalty", "g"} <= set(losses)
    for name, net in model.nets.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters())), name
    out = model.keypoints(torch.randn(3, 8))
    assert out.shape == (3, 23, 3) and (out[..., 2] == 1).all()
    assert out[..., :2].min() >= 0 and out[..., :2].max() <= FRAME
    assert model.samples(batch).shape == (8, 3, 128, 128)


def test_regression_baseline_learns_to_place_keypoints_where_the_text_says():
    """Two sentences, each always with its own pose: after a short training the generator puts
    each sentence's keypoints nearer its own pose than the other's."""
    torch.manual_seed(0)
    poses = torch.stack((_pose(0.0, 23), _pose(30.0, 23)))
    poses[..., 0] = poses[..., 0] % 60 + 2
    texts = torch.eye(2, 8) * 3
    model = Text2PoseRegression(RegressionConfig(text_size=8, text_compressed=8, noise_size=4, width=64, depth=2, critic_steps=2, lr=1e-3))
    pick = torch.tensor([0, 1] * 8)
    for step in range(600):
        model.train_step(_batch(poses[pick], texts[pick]), step)
    made = model.keypoints(texts, torch.zeros(2, 4))
    distances = pose_distances(made, poses)
    assert distances[0, 0] < distances[0, 1] and distances[1, 1] < distances[1, 0], distances
