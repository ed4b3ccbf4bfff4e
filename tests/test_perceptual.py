"""LPIPS (`mimic.networks.perceptual`): the reference values, the weights' conversion and cache, the
errors, and the perceptual loss of training (`mimic.networks.losses.PerceptualLoss`)."""

from __future__ import annotations

import io
import pickle
import re
from importlib.metadata import PackageNotFoundError

import numpy as np
import pytest
import torch
from torch import nn

import mimic.networks.perceptual as perceptual
from mimic.errors import ModelFilesError
from mimic.networks.losses import PerceptualLoss
from mimic.networks.perceptual import INSTALL, LPIPS, load_lpips, lpips_file
from tests.conftest import cache_dir, needs_lpips


@needs_lpips
@pytest.mark.parametrize("net, expected", [("alex", 0.1486), ("vgg", 0.3485)])
def test_reference_values(net: str, expected: float) -> None:
    """The mean LPIPS of these noise images to four decimals: vgg 0.3485 (torchmetrics'
    documented value), alex 0.1486 (an implementation that reproduces PerceptualSimilarity's
    published 0.722 / 0.138 on its example images)."""
    torch.manual_seed(123)
    a = torch.rand(10, 3, 100, 100) * 2 - 1
    b = torch.rand(10, 3, 100, 100) * 2 - 1
    model = load_lpips(net, cache_dir())
    with torch.no_grad():
        distances = model(a, b)
        same = model(a, a)
    assert distances.shape == (10,)
    assert float(distances.mean()) == pytest.approx(expected, abs=5e-5)
    assert torch.all(same.abs() < 1e-6)


@needs_lpips
def test_converted_once_and_rebuilt_when_broken(tmp_path) -> None:
    model = load_lpips("alex", tmp_path)
    path = lpips_file(tmp_path, "alex")
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    path.write_bytes(path.read_bytes()[:4096])  # a truncated file is not read but converted again
    again = load_lpips("alex", tmp_path)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name])
    assert not any(p.requires_grad for p in again.parameters())


def test_missing_package_names_the_install(monkeypatch, tmp_path) -> None:
    def absent(name: str):
        raise PackageNotFoundError(name)

    monkeypatch.setattr(perceptual, "distribution", absent)
    with pytest.raises(ModelFilesError, match=re.escape(INSTALL)):
        load_lpips("alex", tmp_path)
    assert not lpips_file(tmp_path, "alex").exists()


def test_unpickler_builds_arrays_only() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    loaded = perceptual._ArraysOnly(io.BytesIO(pickle.dumps({"a": {"kernel": array}}, protocol=3))).load()
    assert np.array_equal(loaded["a"]["kernel"], array)
    with pytest.raises(pickle.UnpicklingError, match="not a numpy array type"):
        perceptual._ArraysOnly(io.BytesIO(pickle.dumps(print))).load()


def test_argument_checks() -> None:
    with pytest.raises(ValueError, match="alex, vgg"):
        LPIPS("resnet")
    with pytest.raises(ValueError, match="alex, vgg"):
        PerceptualLoss("resnet")
    model = LPIPS("alex")
    with pytest.raises(ValueError, match="one shape"):
        model(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 32))
    with pytest.raises(ValueError, match="32x32"):
        model(torch.zeros(1, 3, 16, 64), torch.zeros(1, 3, 16, 64))


@needs_lpips
def test_perceptual_loss_is_differentiable_and_overfits() -> None:
    """A tiny net learns to draw one image from fixed noise under the LPIPS loss alone."""
    loss = PerceptualLoss("alex", cache_dir())
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8) * 2 - 1, size=(48, 48), mode="bilinear", align_corners=False)
    target = smooth.clone()
    noise = torch.rand(1, 3, 48, 48) * 2 - 1
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 3, 3, padding=1), nn.Tanh())
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    values = []
    for _ in range(40):
        value = loss(net(noise), target)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        values.append(float(value.detach()))
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())
    assert values[-1] < 0.5 * values[0]
    image = target.clone().requires_grad_(True)
    loss(image, target).backward()  # at the minimum: a zero, finite gradient
    assert torch.isfinite(image.grad).all() and float(image.grad.abs().max()) < 1e-6
