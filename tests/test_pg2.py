"""PG2: shapes, gradients, a tiny overfit, the pose-mask L1, the generator adapter."""

from __future__ import annotations

import pytest
import torch

from mimic.errors import OptionError
from mimic.generators.pose_transfer import PoseTransferGenerator
from mimic.networks.losses import weighted_l1
from mimic.networks.pg2 import PG2Config, UNet, create_pg2
from mimic.networks.pose_inputs import PoseTransferInputs
from tests.baseline_pairs import toy_bundles, toy_pairs
from tests.conftest import cache_dir, needs_lpips

TINY = {"size": 32, "width": 8, "levels": 3, "fc_dims": 8, "lr": 1e-3}


def test_unet_shapes_and_fc_bottleneck():
    net = UNet(21, 3, width=8, levels=3, fc_dims=8, size=32)
    assert net(torch.randn(2, 21, 32, 32)).shape == (2, 3, 32, 32)
    assert UNet(6, 3, width=8, levels=2)(torch.randn(1, 6, 16, 16)).shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="divisible"):
        PG2Config(size=40, levels=4)


def test_stages_shapes_and_gradients():
    model = create_pg2(TINY)
    batch = toy_pairs(2, 32)
    coarse, refined = model.stages(PoseTransferInputs.from_pair(batch, 32))
    assert coarse.shape == refined.shape == (2, 3, 32, 32) and float(coarse.detach().abs().max()) <= 1
    (coarse.mean() + refined.mean()).backward()
    for name in ("g1", "g2"):
        grads = [p.grad for p in model.nets[name].parameters()]
        assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    # G2 refines G1's output without sending gradients back into G1 (the paper's second stage).
    model.nets["g1"].zero_grad()
    model.stages(PoseTransferInputs.from_pair(batch, 32))[1].mean().backward()
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in model.nets["g1"].parameters())


def test_pose_mask_weights_the_l1_inside_the_body():
    model = create_pg2(TINY)
    batch = toy_pairs(1, 32)
    mask = model.pose_mask(batch.target_keypoints)
    assert mask.shape == (1, 1, 32, 32) and 0.1 < float(mask.mean()) < 0.6
    assert float((mask * batch.target_mask).sum()) / float(batch.target_mask.sum()) > 0.75  # covers most of the person
    error_inside = batch.target_image + 0.5 * mask
    error_outside = batch.target_image + 0.5 * (1 - mask) * (mask.sum() / (1 - mask).sum())  # same total error
    weight = 1 + mask
    assert float(weighted_l1(error_inside, batch.target_image, weight)) > 1.5 * float(weighted_l1(error_outside, batch.target_image, weight))


@needs_lpips
def test_tiny_overfit_halves_the_pose_mask_l1():
    torch.manual_seed(0)
    model = create_pg2(TINY, cache_dir=cache_dir())
    batch = toy_pairs(2, 32)
    losses = [model.train_step(batch, step) for step in range(40)]
    assert set(losses[0]) == {"l1_coarse", "l1_refined", "lpips", "g_adv", "d"}
    assert losses[-1]["lpips"] < losses[0]["lpips"]
    assert losses[-1]["l1_coarse"] < losses[0]["l1_coarse"] / 2
    assert losses[-1]["l1_refined"] < losses[0]["l1_refined"] / 2


def test_wrong_canvas_is_an_actionable_error():
    with pytest.raises(OptionError, match="--size 32"):
        create_pg2(TINY).train_step(toy_pairs(1, 64), 0)


def test_adapter_generates_over_the_background_through_the_interface():
    model = create_pg2(TINY)
    for net in model.nets.values():
        net.eval()
    pairs = toy_pairs(1, 32)
    source, target = toy_bundles(pairs, 0, 64)  # the pipeline's canvas is twice the model's
    generator = PoseTransferGenerator(model)
    assert generator.name == "pg2"
    with torch.no_grad():
        image = generator.generate(source, target)
    assert image.shape == (1, 3, 64, 64) and float(image.abs().max()) <= 1
    near = torch.nn.functional.max_pool2d((target.parts >= 0).float()[:, None], 9, 1, 4)[0, 0]
    far = near == 0  # beyond the body coverage grown by 64 / 32 = 2 pixels (+ its soft edge)
    assert float(far.float().mean()) > 0.3
    assert torch.allclose(image[0][:, far], target.background[0][:, far])


def test_registry_loads_a_trained_checkpoint_and_explains_missing_weights(tmp_path):
    from mimic.errors import ModelFilesError
    from mimic.registry import GeneratorOptions, load_generator
    from mimic.training.checkpoint import save_checkpoint

    model = create_pg2(TINY)
    folder = save_checkpoint(tmp_path / "run", "pg2", model.config, model.nets, model.optimizers(), 7)
    generator = load_generator("pg2", GeneratorOptions(checkpoint=folder))
    assert generator.name == "pg2" and generator.model.config == model.config
    inputs = PoseTransferInputs.from_pair(toy_pairs(1, 32), 32)
    for net in model.nets.values():
        net.eval()
    with torch.no_grad():
        assert torch.allclose(generator.model.transfer(inputs)[0], model.transfer(inputs)[0], atol=1e-6)
    with pytest.raises(ModelFilesError, match="mimic train --generator pg2"):
        load_generator("pg2", GeneratorOptions(checkpoint=tmp_path / "nothing"))
    with pytest.raises(ModelFilesError, match="not 'patn'"):
        load_generator("patn", GeneratorOptions(checkpoint=folder))
