"""PATN: the Pose-Attentional Transfer Block's gating, shapes, gradients, a tiny overfit, the adapter."""

from __future__ import annotations

import torch

from mimic.generators.pose_transfer import PoseTransferGenerator
from mimic.networks.patn import PATBlock, PATNGenerator, create_patn
from mimic.networks.pose_inputs import PoseTransferInputs
from tests.baseline_pairs import toy_bundles, toy_pairs
from tests.conftest import cache_dir, needs_lpips

TINY = {"size": 32, "width": 8, "blocks": 2, "lr": 1e-3}


def _set_attention(block: PATBlock, logit: float) -> None:
    """Makes the block's pose features (hence its attention) the constant `logit` everywhere."""
    last = block.pose_conv[-1]
    with torch.no_grad():
        last[0].weight.zero_()
        last[1].weight.zero_()  # instance norm's scale: the features become its bias
        last[1].bias.fill_(logit)


def test_patb_attention_gates_the_image_update_around_a_residual():
    block = PATBlock(8, 8).eval()
    image, pose = torch.randn(1, 8, 6, 6), torch.randn(1, 8, 6, 6)
    update = block.image_conv(image)
    _set_attention(block, -30.0)  # attention ~0: the image code passes unchanged
    closed, new_pose = block(image, pose)
    assert torch.allclose(closed, image, atol=1e-6)
    assert new_pose.shape == (1, 16, 6, 6) and torch.allclose(new_pose[:, 8:], closed)  # pose code reads the new image code
    _set_attention(block, 30.0)  # attention ~1: the full residual update
    assert torch.allclose(block(image, pose)[0], image + update, atol=1e-5)
    _set_attention(block, 0.0)  # attention 1/2: half of it
    assert torch.allclose(block(image, pose)[0], image + 0.5 * update, atol=1e-5)


def test_patb_attention_depends_on_the_pose_code():
    block = PATBlock(8, 16)
    image, pose = torch.randn(1, 8, 6, 6), torch.randn(1, 16, 6, 6, requires_grad=True)
    out, _ = block(image, pose)
    out.sum().backward()
    assert pose.grad is not None and float(pose.grad.abs().sum()) > 0
    _, attention = block.attention(pose)
    assert float(attention.detach().min()) > 0 and float(attention.detach().max()) < 1


def test_generator_shapes_and_gradients():
    net = PATNGenerator(width=8, blocks=3)
    assert [b.pose_conv[0][0].in_channels for b in net.blocks] == [32, 64, 64]  # C, then 2C
    image, poses = torch.randn(2, 3, 32, 32), torch.rand(2, 36, 32, 32)
    out = net(image, poses)
    assert out.shape == (2, 3, 32, 32) and float(out.detach().abs().max()) <= 1
    out.mean().backward()
    assert all(p.grad is not None for p in net.parameters())


@needs_lpips
def test_tiny_overfit_halves_the_l1():
    torch.manual_seed(0)
    model = create_patn(TINY, cache_dir=cache_dir())
    assert set(model.nets) == {"g", "d_appearance", "d_shape"}
    batch = toy_pairs(2, 32)
    losses = [model.train_step(batch, step) for step in range(40)]
    assert set(losses[0]) == {"l1", "lpips", "perceptual", "g_adv", "d_appearance", "d_shape"}
    assert losses[-1]["l1"] < losses[0]["l1"] / 2
    assert losses[-1]["perceptual"] < losses[0]["perceptual"] and losses[-1]["lpips"] < losses[0]["lpips"]


def test_adapter_through_the_interface():
    model = create_patn(TINY)
    pairs = toy_pairs(1, 32)
    source, target = toy_bundles(pairs, 0, 32)
    with torch.no_grad():
        image = PoseTransferGenerator(model).generate(source, target)
        raw, alpha = model.transfer(PoseTransferInputs.from_pair(pairs, 32))
    assert image.shape == (1, 3, 32, 32) and alpha is None
    body = target.parts[0] >= 0
    assert torch.allclose(image[0][:, body], raw[0][:, body], atol=1e-5)  # the generated person on the body
