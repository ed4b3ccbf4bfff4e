"""Tests of the attentional Liquid Warping GAN network and its training step."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from mimic.core.pairs import PairBatch
from mimic.networks.lwgan import LWGAN, AttentionalLWB, LWGANConfig, body_mask, resample_flow, warp_sources
from mimic.networks.lwgan_training import LWGANTrainable, LWGANTrainConfig, crop_boxes, face_boxes, source_views
from tests.conftest import cache_dir, needs_lpips
from tests.lwgan_toys import TINY, toy_pair
from warping.flow import BACKGROUND_GRID
from warping.sampler import identity_grid


def test_resample_flow_keeps_the_identity_and_ignores_unseen_codes():
    grid = identity_grid(1, 16, 16)
    visibility = torch.ones(1, 1, 16, 16)
    visibility[..., :, 8:] = 0
    grid_bg = grid.clone()
    grid_bg[:, :, 8:] = BACKGROUND_GRID
    small, vis = resample_flow(grid_bg, visibility, (4, 4))
    assert small.shape == (1, 4, 4, 2) and vis.shape == (1, 1, 4, 4)
    expected = identity_grid(1, 4, 4)
    assert torch.allclose(small[:, :, :2], expected[:, :, :2], atol=1e-6)  # the -2 codes did not mix in
    assert torch.equal(vis[0, 0, :, :2], torch.ones(4, 2)) and torch.equal(vis[0, 0, :, 2:], torch.zeros(4, 2))


def test_warp_sources_reads_person_pixels_only():
    image = torch.rand(2, 3, 16, 16) * 2 - 1
    person = torch.zeros(2, 1, 16, 16)
    person[..., 4:12, 4:12] = 1
    warped, read = warp_sources(image, person, identity_grid(2, 16, 16))
    assert warped.shape == (2, 3, 16, 16) and read.shape == (2, 1, 16, 16)
    assert torch.allclose(warped[..., 4:12, 4:12], image[..., 4:12, 4:12], atol=1e-5)
    assert float(warped[..., :4, :].abs().max()) == 0.0 and float(read[..., :4, :].max()) == 0.0


def test_body_mask_grows_the_coverage():
    coverage = torch.zeros(1, 1, 64, 64)
    coverage[..., 24:40, 24:40] = 1
    body = body_mask(coverage, 0.0625)  # 4 px
    assert body.shape == coverage.shape
    assert float(body[..., 24:40, 24:40].min()) == pytest.approx(1.0)
    assert float(body[0, 0, 32, 21]) > 0.9 and float(body[0, 0, 32, 17]) == 0.0  # 4 px out, soft over ~2 px
    assert float(body.min()) >= 0 and float(body.max()) <= 1


def test_attlwb_one_source_takes_all_visible_weight():
    torch.manual_seed(0)
    block = AttentionalLWB(8, 6)
    x = torch.randn(2, 8, 8, 8, requires_grad=True)
    source = torch.randn(2, 6, 8, 8, requires_grad=True)
    grids = identity_grid(2, 32, 32)[:, None]
    visibility = torch.ones(2, 1, 1, 32, 32)
    visibility[..., :, :16] = 0  # the left half is unseen
    out, attention = block(x, source, grids, visibility)
    assert out.shape == (2, 8, 8, 8) and attention.shape == (2, 1, 1, 8, 8)
    assert torch.equal(attention[..., 4:], torch.ones(2, 1, 1, 8, 4))
    assert torch.equal(attention[..., :4], torch.zeros(2, 1, 1, 8, 4))
    out.square().mean().backward()
    assert x.grad is not None and float(source.grad.abs().sum()) > 0
    for p in block.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    # Where nothing is seen, the block adds nothing but the output projection's bias.
    bias = block.out.bias[None, :, None, None]
    assert torch.allclose(out[..., :4], (x + bias)[..., :4], atol=1e-6)


def test_attlwb_two_sources_sum_to_one_and_skip_an_unseeing_source():
    torch.manual_seed(1)
    block = AttentionalLWB(8, 6)
    x = torch.randn(1, 8, 8, 8)
    source = torch.randn(2, 6, 8, 8, requires_grad=True)
    grids = identity_grid(1, 32, 32)[:, None].expand(1, 2, 32, 32, 2)
    visibility = torch.ones(1, 2, 1, 32, 32)
    visibility[:, 1, :, :16] = 0  # source 1 does not see the top half
    visibility[:, 0, :, :, 24:] = 0  # source 0 does not see the right quarter
    out, attention = block(x, source, grids, visibility)
    assert attention.shape == (1, 2, 1, 8, 8)
    expected = torch.ones(1, 1, 8, 8)
    expected[..., :4, 6:] = 0  # the top-right corner: neither source sees it
    assert torch.allclose(attention.sum(1), expected, atol=1e-6)
    assert torch.equal(attention[:, 1, :, :4], torch.zeros(1, 1, 4, 8))
    assert torch.equal(attention[:, 0, :, :, 6:], torch.zeros(1, 1, 8, 2))
    both = attention[:, :, :, 4:, :6]
    both = both.detach()
    assert float(both.min()) > 0 and float((both - 0.5).abs().max()) > 1e-3  # a real choice, not an average
    out.sum().backward()
    assert float(block.query.weight.grad.abs().sum()) > 0 and float(block.key.weight.grad.abs().sum()) > 0


def test_every_stream_has_its_shapes_and_gradients():
    torch.manual_seed(0)
    model = LWGAN(TINY)
    pair = toy_pair(32, batch=2)
    hole = pair.target_mask
    output, reconstruction, background = model(
        pair.source_image, pair.source_mask, pair.source_correspondence, pair.grid[:, None],
        pair.visibility[:, None], pair.target_correspondence, pair.background, hole, pair.fill,
    )
    for name in ("image", "generated", "warped"):
        assert getattr(output, name).shape == (2, 3, 32, 32), name
    for name in ("mask", "known", "body"):
        assert getattr(output, name).shape == (2, 1, 32, 32), name
    assert [tuple(a.shape) for a in output.attention] == [(2, 1, 1, 4, 4), (2, 1, 1, 8, 8), (2, 1, 1, 16, 16)]
    assert reconstruction.shape == background.shape == (2, 3, 32, 32)
    image, mask = output.image.detach(), output.mask.detach()
    assert float(image.abs().max()) <= 1 and 0 <= float(mask.min()) <= float(mask.max()) <= 1
    # Outside the hole the background stream keeps the plate.
    assert torch.allclose(background[hole.expand_as(background) == 0], pair.background[hole.expand_as(background) == 0])
    (output.image.mean() + reconstruction.mean() + background.mean()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    stalled = [n for n, p in model.named_parameters() if float(p.grad.abs().sum()) == 0]
    # With one source the softmax over sources is constant: only the query/key projections idle.
    assert all(".query." in n or ".key." in n for n in stalled)


def test_multi_source_inference_matches_batching():
    torch.manual_seed(0)
    model = LWGAN(TINY).eval()
    pair = toy_pair(32, batch=2, seed=3)
    with torch.no_grad():
        features, _ = model.encode_sources(pair.source_image, pair.source_correspondence, pair.source_mask)
        grids = pair.grid[None].expand(1, 2, 32, 32, 2).clone()
        visibility = pair.visibility[None].clone()
        out = model.transfer(features, pair.source_image, grids, visibility, pair.target_correspondence[:1], pair.background[:1], pair.fill[:1])
    assert out.image.shape == (1, 3, 32, 32)
    assert [tuple(a.shape) for a in out.attention] == [(1, 2, 1, 4, 4), (1, 2, 1, 8, 8), (1, 2, 1, 16, 16)]
    seen = out.attention[-1].sum(1) > 0
    assert torch.allclose(out.attention[-1].sum(1)[seen], torch.ones(int(seen.sum())), atol=1e-5)


def test_config_round_trip_and_checks():
    config = LWGANTrainConfig(generator=LWGANConfig(width=8), gan="hinge")
    again = LWGANTrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    with pytest.raises(ValueError, match="unknown"):
        LWGANTrainConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="gan"):
        LWGANTrainConfig(gan="wgan")
    with pytest.raises(ValueError, match="norm"):
        LWGANConfig(norm="layer")
    with pytest.raises(ValueError, match="fusion"):
        LWGANConfig(fusion="max")
    with pytest.raises(ValueError, match="multi_source_every"):
        LWGANTrainConfig(multi_source_every=0)


def test_face_crop_covers_the_face():
    keypoints = torch.zeros(1, 23, 3)
    keypoints[0, :5, :2] = torch.tensor([[40.0, 20.0], [38, 18], [42, 18], [36, 19], [44, 19]])
    box = face_boxes(keypoints, 16, 64)
    assert box.shape == (1, 4)
    x0, y0, x1, y1 = box[0].tolist()
    assert x0 <= 36 and x1 >= 44 and y0 <= 18 and y1 >= 20 and x1 - x0 == pytest.approx(y1 - y0)
    image = torch.arange(64.0)[None, None, None, :].expand(1, 1, 64, 64)
    crop = crop_boxes(image, box, 8)
    assert crop.shape == (1, 1, 8, 8)
    assert x0 - 0.5 <= float(crop.min()) and float(crop.max()) <= x1 + 0.5


@needs_lpips
@pytest.mark.parametrize("gan", ["lsgan", "hinge"])
def test_tiny_model_overfits_one_pair(gan):
    torch.manual_seed(0)
    pair = toy_pair(32, batch=1, seed=5)
    pair.visibility[..., 16:, :] = 0  # the lower half unseen: the warp shows the texture's mean colour there
    # The toy target is a hard-edged render: a hard-edged warp-only frame, as it is drawn.
    config = LWGANTrainConfig(generator=replace(TINY, feather=0.0), disc_width=8, face_size=16, gan=gan, lr_g=3e-3, lr_d=1e-3)
    model = LWGANTrainable(config, cache_dir=cache_dir())
    assert set(model.nets) == {"generator", "discriminator", "face_discriminator"}  # the LPIPS network is no model's
    logs = [model.train_step(pair, step) for step in range(60)]
    assert all(set(log) >= {"g", "d", "l1", "ssim", "lpips", "mask", "source", "background", "adversarial", "feature_matching"} for log in logs)
    assert sum(log["lpips"] for log in logs[-3:]) < sum(log["lpips"] for log in logs[:3])
    first = sum(log["l1"] for log in logs[:3]) / 3
    last = sum(log["l1"] for log in logs[-3:]) / 3
    assert last < first / 2.5, (first, last)  # the frame's L1 falls by at least 2.5x in 60 steps (2.9x measured)
    # The mask opens where the warp is wrong (the unseen half), and stays nearly shut where it is right.
    mask = model.run_generator(pair)[0].mask.detach()[0, 0]
    body = pair.target_mask[0, 0] > 0
    unseen, seen = mask[16:][body[16:]].mean(), mask[:16][body[:16]].mean()
    assert float(unseen) > 2 * float(seen), (float(unseen), float(seen))
    strip = model.samples(pair)
    assert strip.shape == (1, 3, 32, 6 * 32)
    assert torch.equal(strip[..., 5 * 32 :], pair.target_image)


def test_reconstruction_only_config_has_no_discriminator():
    model = LWGANTrainable(LWGANTrainConfig(generator=TINY, w_adversarial=0, w_feature_matching=0, w_lpips=0))
    assert set(model.nets) == {"generator"} and set(model.optimizers()) == {"generator"}
    logs = model.train_step(toy_pair(32), 0)
    assert "d" not in logs and "adversarial" not in logs and "lpips" not in logs
    assert "blend" not in logs and "drawn" not in logs


def test_blend_oracle_and_drawing_terms_train_the_mask_where_drawing_pays():
    """With the oracle's cross-entropy the mask learns to open on the unseen half of the body,
    where the warp shows only the texture's mean colour, and to shut on the seen half."""
    torch.manual_seed(0)
    pair = toy_pair(32, batch=1, seed=5)
    pair.visibility[..., 16:, :] = 0
    config = LWGANTrainConfig(generator=replace(TINY, feather=0.0), w_adversarial=0, w_feature_matching=0, w_lpips=0, w_mask=0,
                              w_blend=1.0, w_drawn=5.0, lr_g=3e-3)
    model = LWGANTrainable(config)
    logs = [model.train_step(pair, step) for step in range(60)]
    assert {"blend", "drawn"} <= set(logs[0])
    assert logs[-1]["drawn"] < logs[0]["drawn"] / 2
    mask = model.run_generator(pair)[0].mask.detach()[0, 0]
    body = pair.target_mask[0, 0] > 0
    unseen, seen = mask[16:][body[16:]].mean(), mask[:16][body[:16]].mean()
    assert float(unseen) > 0.5 > float(seen), (float(unseen), float(seen))


def _two_source_pair(seed: int = 5) -> PairBatch:
    """A toy pair with a second source that sees all the first sees (same flow), in flat grey
    where the person is: two views of which only one shows the person's colours."""
    pair = toy_pair(32, batch=2, seed=seed)
    grey = pair.source_mask * 0.1 + (1 - pair.source_mask) * pair.source_image
    return replace(
        pair, extra_source_image=grey[:, None], extra_source_mask=pair.source_mask[:, None],
        extra_source_correspondence=pair.source_correspondence[:, None], extra_grid=pair.grid[:, None],
        extra_visibility=pair.visibility[:, None],
    )


def test_source_views_put_the_sources_of_a_target_together():
    pair = _two_source_pair()
    views = source_views(pair)
    assert pair.sources == 2 and views["image"].shape == (4, 3, 32, 32) and views["grid"].shape == (2, 2, 32, 32, 2)
    assert torch.equal(views["image"][0], pair.source_image[0]) and torch.equal(views["image"][1], pair.extra_source_image[0, 0])
    assert torch.equal(views["image"][2], pair.source_image[1])
    one = source_views(pair.first_source())
    assert pair.first_source().sources == 1 and one["image"].shape == (2, 3, 32, 32) and one["visibility"].shape == (2, 1, 1, 32, 32)


def test_two_source_training_teaches_the_fusion_to_pick_the_right_source():
    """Both sources see every body pixel; only one shows its colours. Visibility weighting
    averages them; after two-source training the learned fusion shows the right one, and the
    query/key projections (idle with one source) are what learnt it."""
    torch.manual_seed(0)
    pair = _two_source_pair()
    config = LWGANTrainConfig(generator=replace(TINY, feather=0.0), w_adversarial=0, w_feature_matching=0, w_lpips=0, lr_g=3e-3,
                              multi_source_every=1)
    model = LWGANTrainable(config)
    start = {n: p.detach().clone() for n, p in model.nets["generator"].named_parameters() if ".query." in n or ".key." in n}
    for step in range(80):
        model.train_step(pair, step)
    moved = [n for n, p in model.nets["generator"].named_parameters() if n in start and not torch.equal(p, start[n])]
    assert len(moved) == len(start)
    plain = LWGAN(replace(config.generator, fusion="visibility"))
    plain.load_state_dict(model.nets["generator"].state_dict())
    body = pair.target_mask.expand(-1, 3, -1, -1) > 0
    with torch.no_grad():
        learned = model.run_generator(pair)[0]
        model.nets["generator"] = plain
        averaged = model.run_generator(pair)[0]
    error = {name: float((out.warped - pair.target_image).abs()[body].mean()) for name, out in (("learned", learned), ("averaged", averaged))}
    assert error["learned"] < 0.5 * error["averaged"], error
    right = learned.attention[-1][:, 0][pair.target_mask[:, :, ::2, ::2] > 0]
    assert float(right.mean()) > 0.8  # the coloured source's share where both see
