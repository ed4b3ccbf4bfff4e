"""Tests of the keypoint <-> heatmap conversions."""

from __future__ import annotations

import math

import pytest
import torch

from bodymesh.heatmaps import heatmaps_to_keypoints, keypoints_to_heatmaps


def test_round_trip_is_sub_pixel_exact():
    gen = torch.Generator().manual_seed(0)
    points = torch.rand(4, 23, 2, generator=gen) * 56 + 4  # away from the border
    keypoints = torch.cat((points, torch.ones(4, 23, 1)), -1)
    heat = keypoints_to_heatmaps(keypoints, 64, 64, sigma=1.5)
    assert heat.shape == (4, 23, 64, 64)
    back = heatmaps_to_keypoints(heat)
    assert float((back[..., :2] - points).abs().max()) < 1e-3
    # the peak is the value at the nearest pixel centre, at most half a pixel off on each axis
    assert float(back[..., 2].min()) >= math.exp(-0.5 / (2 * 1.5**2)) - 1e-6


def test_peak_is_one_at_a_pixel_centre_and_low_confidence_is_empty():
    heat = keypoints_to_heatmaps(torch.tensor([[[10.5, 20.5, 1.0], [5.0, 5.0, 0.05]]]), 32, 48, sigma=2.0)
    assert heat.shape == (1, 2, 32, 48)
    assert float(heat[0, 0, 20, 10]) == pytest.approx(1.0)
    assert float(heat[0, 0].max()) == pytest.approx(1.0)
    assert float(heat[0, 1].abs().max()) == 0.0


def test_threshold_gives_zero_confidence():
    heat = keypoints_to_heatmaps(torch.tensor([[[10.5, 10.5, 1.0], [20.5, 20.5, 1.0]]]), 32, 32) * torch.tensor([1.0, 0.1])[:, None, None]
    out = heatmaps_to_keypoints(heat, threshold=0.2)
    assert float(out[0, 0, 2]) == pytest.approx(1.0)
    assert float(out[0, 1, 2]) == 0.0
    assert out[0, 1, :2].tolist() == pytest.approx([20.5, 20.5], abs=1e-4)  # located all the same


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="keypoints"):
        keypoints_to_heatmaps(torch.zeros(3, 2), 8, 8)
    with pytest.raises(ValueError, match="heatmaps"):
        heatmaps_to_keypoints(torch.zeros(3, 8, 8))
