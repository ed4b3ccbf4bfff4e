"""The fixed-lag smoother (`bodymesh.smoothing`): less jitter, polynomial tracks kept, flat memory."""

import math

import numpy as np
import pytest
import roma
import torch

from bodymesh.fit import BodyFit
from bodymesh.smoothing import DEFAULT_SECONDS, FitSmoother, FixedLagSmoother, lag_frames, mean_acceleration, polynomial_weights


def _run(smoother: FixedLagSmoother, values: torch.Tensor, restarts: tuple[int, ...] = ()) -> tuple[torch.Tensor, list[int]]:
    out, items = [], []
    for t, value in enumerate(values):
        for smoothed, item in smoother.push(value, t, restart=t in restarts):
            out.append(smoothed)
            items.append(item)
    for smoothed, item in smoother.flush():
        out.append(smoothed)
        items.append(item)
    return torch.stack(out), items


def test_the_window_in_seconds_spans_the_same_time_at_every_frame_rate():
    assert [lag_frames(DEFAULT_SECONDS, rate) for rate in (5, 10, 12, 24, 30, 60)] == [0, 1, 1, 2, 3, 5]
    assert lag_frames(0.0, 30) == 0 and lag_frames(0.5, 10) == 5
    with pytest.raises(ValueError):
        lag_frames(-0.1, 24)
    with pytest.raises(ValueError):
        lag_frames(0.1, 0)


def test_polynomial_weights_reproduce_a_polynomial_at_zero():
    offsets = np.arange(-3, 2)
    assert polynomial_weights(offsets, 2) @ (1 + 2 * offsets + 0.5 * offsets**2) == pytest.approx(1.0)
    assert polynomial_weights(np.array([0]), 2).tolist() == [1.0]  # one point: itself


@pytest.mark.parametrize("degree", [1, 2])
def test_a_constant_velocity_track_comes_out_unchanged(degree):
    t = torch.arange(50, dtype=torch.float64)[:, None]
    track = torch.cat([3.0 + 0.7 * t, -2.0 * t], dim=1)  # (T, 2), ends included
    smoothed, items = _run(FixedLagSmoother(lag=4, degree=degree), track)
    assert items == list(range(50))
    assert torch.allclose(smoothed, track, atol=1e-9)


def test_jitter_goes_down_on_a_noisy_track():
    rng = np.random.default_rng(0)
    t = np.arange(200) / 24
    truth = np.stack([100 * np.sin(2 * np.pi * 0.5 * t), 50 * np.cos(2 * np.pi * 0.3 * t)], axis=1)
    noisy = truth + rng.normal(0, 2.0, size=truth.shape)
    smoothed, _ = _run(FixedLagSmoother(lag=4, degree=2), torch.from_numpy(noisy))
    smoothed = smoothed.numpy()
    assert mean_acceleration(smoothed[:, None]) < mean_acceleration(noisy[:, None]) / 4
    assert np.abs(smoothed - truth).mean() < 0.6 * np.abs(noisy - truth).mean()  # closer to the truth, too


def test_a_restart_is_not_smoothed_across():
    track = torch.cat([torch.zeros(10, 1), torch.full((10, 1), 100.0)]).double()
    smoothed, _ = _run(FixedLagSmoother(lag=3, degree=1), track, restarts=(10,))
    assert torch.allclose(smoothed, track, atol=1e-9)


def test_memory_is_flat_and_output_lags_by_lag():
    smoother = FixedLagSmoother(lag=3)
    ready = [len(smoother.push(torch.zeros(2), t)) for t in range(100)]
    assert ready == [0, 0, 0] + [1] * 97
    assert len(smoother._window) <= 2 * 3 + 1
    assert len(smoother.flush()) == 3


class _Body:
    """A stand-in body model whose keypoints are its joint rotations' first columns."""

    def keypoints(self, pose: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        return roma.rotvec_to_rotmat(pose)[..., 0]


def test_fit_smoother_smooths_rotations_across_the_pi_wrap():
    """A joint turning steadily through pi (its axis-angle flips sign there) stays a steady turn."""
    fits = []
    rng = np.random.default_rng(0)
    for t in range(30):
        angle = 2.6 + 0.05 * t  # through pi at t ~ 11
        rotvec = torch.tensor([0.0, 0.0, angle], dtype=torch.float64)
        if angle > math.pi:
            rotvec = torch.tensor([0.0, 0.0, angle - 2 * math.pi], dtype=torch.float64)
        cam = torch.tensor([100.0, 50 + 2.0 * t, 80.0], dtype=torch.float64) + torch.from_numpy(rng.normal(0, 1, 3))
        fits.append(BodyFit(rotvec[None], torch.zeros(1), cam, torch.zeros(1, 3), torch.zeros(1, 2)))
    smoother = FitSmoother(_Body(), lag=3, degree=2)
    out = [f for fit in fits for f, _ in smoother.push(fit, None)] + [f for f, _ in smoother.flush()]
    angles = np.unwrap([float(roma.rotvec_to_rotmat(f.pose)[0, 1, 0].atan2(roma.rotvec_to_rotmat(f.pose)[0, 0, 0])) for f in out])
    assert np.allclose(angles, 2.6 + 0.05 * np.arange(30), atol=1e-4)  # the steady turn is kept (exactly away from the ends)
    cams = np.stack([f.cam.numpy() for f in out])
    raw = np.stack([f.cam.numpy() for f in fits])
    assert mean_acceleration(cams[:, None]) < mean_acceleration(raw[:, None]) / 2
    x, y = _Body().keypoints(out[5].pose[None], None)[0, 0, :2]
    s, tx, ty = out[5].cam
    assert torch.allclose(out[5].projected[0], torch.stack([s * x + tx, -s * y + ty]))  # re-projected with the smoothed camera


def test_mean_acceleration():
    track = np.zeros((4, 1, 2))
    track[2, 0, 0] = 1.0
    assert mean_acceleration(track) == pytest.approx(1.5)  # |1 - 0| ... second differences 1, -2 -> norms 1, 2
    present = np.ones((4, 1), bool)
    present[3] = False
    assert mean_acceleration(track, present) == pytest.approx(1.0)
