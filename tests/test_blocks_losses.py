"""Tests of the shared network blocks and training losses."""

from __future__ import annotations

import pytest
import torch

from mimic.networks.blocks import PatchDiscriminator, ResidualBlock, Upsample, conv_unit
from mimic.networks.losses import (
    attention_mask_loss, blend_oracle_loss, discriminator_loss, feature_matching_loss, generator_adversarial_loss, gram_matrix, ssim_loss,
    total_variation, weighted_l1,
)


def test_block_shapes_and_gradients():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 32, 32, requires_grad=True)
    assert conv_unit(8, 16, stride=2)(x).shape == (2, 16, 16, 16)
    assert ResidualBlock(8)(x).shape == x.shape
    up = Upsample(8, 4)(x)
    assert up.shape == (2, 4, 64, 64)
    up.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="norm"):
        conv_unit(3, 3, norm="layer")


def test_patch_discriminator_scores_patches_and_returns_features():
    disc = PatchDiscriminator(6, width=8, layers=3)
    scores, features = disc(torch.randn(2, 6, 64, 64))
    assert scores.shape == (2, 1, 7, 7)
    assert len(features) == 4 and features[0].shape == (2, 8, 32, 32)


def test_gan_losses_at_their_optima():
    ones, zeros = torch.ones(4), torch.zeros(4)
    assert float(discriminator_loss(ones, zeros, "lsgan")) == 0.0
    assert float(generator_adversarial_loss(ones, "lsgan")) == 0.0
    assert float(discriminator_loss(ones, -ones, "hinge")) == 0.0
    assert float(generator_adversarial_loss(2 * ones, "hinge")) == -2.0
    with pytest.raises(ValueError, match="kind"):
        discriminator_loss(ones, zeros, "wgan")


def test_feature_matching_ignores_gradients_of_real_features():
    real = [torch.ones(1, 2, 4, 4, requires_grad=True)]
    fake = [torch.zeros(1, 2, 4, 4, requires_grad=True)]
    loss = feature_matching_loss(real, fake)
    assert float(loss.detach()) == 1.0
    loss.backward()
    assert real[0].grad is None and fake[0].grad is not None


def test_image_losses():
    a = torch.rand(2, 3, 32, 32) * 2 - 1
    assert float(ssim_loss(a, a)) == pytest.approx(0.0, abs=1e-5)
    assert float(ssim_loss(a, -a)) > 0.5
    weight = torch.zeros(2, 1, 32, 32)
    weight[..., :16] = 1
    b = a.clone()
    b[..., 16:] += 1  # differs only where the weight is 0
    assert float(weighted_l1(b, a, weight)) == pytest.approx(0.0, abs=1e-6)
    assert float(weighted_l1(b, a)) == pytest.approx(0.5, abs=1e-5)
    assert float(total_variation(torch.ones(1, 1, 8, 8))) == 0.0
    assert float(attention_mask_loss(torch.zeros(1, 1, 8, 8))) == 0.0
    assert float(attention_mask_loss(torch.ones(1, 1, 8, 8))) == 1.0


def test_blend_oracle_opens_the_mask_where_the_drawing_is_nearer():
    torch.manual_seed(0)
    target = torch.rand(1, 3, 32, 32) * 2 - 1
    drawn, kept = target.clone(), target.clone()
    drawn[..., :16] += 0.5  # the drawing is wrong on the left, the kept image on the right
    kept[..., 16:] -= 0.5
    region = torch.ones(1, 1, 32, 32)
    right = torch.zeros(1, 1, 32, 32)
    right[..., 16:] = 1.0
    oracle_like = (0.02 + 0.96 * right).requires_grad_()
    assert float(blend_oracle_loss(oracle_like.detach(), drawn, kept, target, region)) < 0.1
    assert float(blend_oracle_loss(1.0 - oracle_like.detach(), drawn, kept, target, region)) > 3.0
    loss = blend_oracle_loss(oracle_like, drawn, kept, target, region * (1.0 - right))  # only the left half counts
    loss.backward()
    assert float(oracle_like.grad[..., 16:].abs().max()) == 0.0 and float(oracle_like.grad[..., :14].min()) > 0.0


def test_gram_matrix_of_a_region():
    features = torch.zeros(1, 2, 4, 4)
    features[0, 0, :2] = 1.0  # channel 0 lit in the top half only
    top = torch.zeros(1, 1, 4, 4)
    top[..., :2, :] = 1
    gram = gram_matrix(features, top)
    assert gram.shape == (1, 2, 2)
    assert float(gram[0, 0, 0]) == pytest.approx(0.5)  # 8 pixels of 1, / (8 pixels * 2 channels)
    assert float(gram[0, 1, 1]) == 0.0
