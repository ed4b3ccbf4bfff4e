"""Streaming body fitting for video: one shape per clip, warm starts, temporal smoothness.

Frames are fitted one at a time as they arrive (nothing is held): the first frame with a person
gets the full single-image fit, which fixes the clip's shape; every later frame starts from the
previous frame's pose and camera and takes a few Levenberg-Marquardt iterations, with a term
pulling it towards the previous frame. A frame without a person keeps the last fit (flagged and counted);
when the person is back after such frames, the previous fit is stale (they may re-enter
elsewhere, at another size, in another pose), so that frame is fitted afresh like the first
one, with the clip's shape, and tracking restarts from it.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from bodymesh.body_model import BodyModel
from bodymesh.detect import Detection
from bodymesh.fit import BodyFit, CameraParameters, FitConfig, FitObjective, finish_fit, fit_keypoints
from bodymesh.keypoints import FLIP_PERMUTATION, person_height
from bodymesh.levenberg import track_frame


class VideoFitter:
    """Fits a stream of detections of one person.

    Args:
        model: the body model, on `device`.
        config: weights and budgets; `video_steps` and `temporal_weight` apply after the first
            frame; `upright_weight` is not used.
        device: where the fit runs.
    """

    def __init__(self, model: BodyModel, config: FitConfig | None = None, device: torch.device | str = "cpu") -> None:
        self.model = model
        # No upright prior: a driver is only ever seen from its own camera, where a lean in
        # depth does not show, and a dancer's is real (it cost the synthetic dance 0.08 PCK).
        self.config = replace(config or FitConfig(), upright_weight=0.0)
        self.device = torch.device(device)
        self.frames = 0
        self.frames_without_person = 0
        self.refits = 0
        self.reentries = 0
        self.side_swaps = 0
        self._gap = False
        self._last: BodyFit | None = None
        self._pose: torch.nn.Parameter | None = None
        self._shape: torch.Tensor | None = None
        self._camera: CameraParameters | None = None

    @property
    def shape(self) -> torch.Tensor | None:
        """`(S,)` the clip's shape once a person was seen, else None."""
        return None if self._shape is None else self._shape[0]

    def step(self, detection: Detection | None) -> BodyFit | None:
        """Fits the next frame. Returns None only while no person has been seen yet."""
        self.frames += 1
        if detection is None:
            self.frames_without_person += 1
            if self._last is None:
                return None
            self._gap = True
            return replace(self._last, found=False)
        keypoints = torch.from_numpy(detection.keypoints).to(self.device)
        if self._last is None or self._gap:
            self.reentries += self._gap
            self._gap = False
            fit = fit_keypoints(self.model, keypoints, detection.mask, self.config, shape=self.shape)
            self._start_tracking(fit)
        else:
            keypoints = self._undo_side_swap(keypoints)
            fit = self._track(keypoints)
            if fit.keypoint_error() > self.config.refit_error * max(person_height(detection.keypoints), 1.0):
                fit = self._refit(keypoints, fit)
        self._last = fit
        return fit

    def _undo_side_swap(self, keypoints: torch.Tensor) -> torch.Tensor:
        """Detectors sometimes swap left and right for a frame (arms overhead, a turn of the head);
        a person does not. When the swapped labels sit much closer to the previous frame's
        fitted keypoints than the given ones, the frame is read with its sides swapped back."""
        assert self._last is not None
        previous = self._last.projected

        def distance(candidate: torch.Tensor) -> torch.Tensor:
            weight = candidate[:, 2] * self._last.keypoints[:, 2]
            return (weight * (candidate[:, :2] - previous).norm(dim=-1)).sum() / weight.sum().clamp(min=1e-6)

        swapped = keypoints[list(FLIP_PERMUTATION)]
        if distance(swapped) < self.config.side_swap_ratio * distance(keypoints):
            self.side_swaps += 1
            return swapped
        return keypoints

    def _refit(self, keypoints: torch.Tensor, tracked: BodyFit) -> BodyFit:
        """Lost track (fast motion, a wrong local minimum): fits the frame from scratch with the
        clip's shape, keeps whichever fit explains the keypoints better, and tracks from it."""
        fresh = fit_keypoints(self.model, keypoints, None, self.config, shape=self._shape[0])
        if fresh.keypoint_error() >= tracked.keypoint_error():
            return tracked
        self.refits += 1
        self._start_tracking(fresh)
        return fresh

    def _start_tracking(self, fit: BodyFit) -> None:
        if self._shape is None:
            self._shape = fit.shape[None].detach().clone()
        self._pose = torch.nn.Parameter(fit.pose[None].clone())
        height = fit.keypoints.new_tensor([max(person_height(fit.keypoints.cpu().numpy()), 1.0)])
        self._camera = CameraParameters(fit.cam[None], height)

    def _track(self, keypoints: torch.Tensor) -> BodyFit:
        """Levenberg-Marquardt iterations from the previous frame (`bodymesh.levenberg`): near
        the optimum, curvature-aware steps converge in a few iterations and leave still joints
        still (Adam's sign-like first steps would shake every joint)."""
        assert self._pose is not None and self._camera is not None and self._shape is not None
        objective = FitObjective(self.model, keypoints[None].float(), self.config)
        track_frame(self.model, objective, self._pose, self._shape, self._camera)
        return finish_fit(self.model, objective, self._pose, self._shape, self._camera(), self.config)

    def summary(self) -> dict[str, int]:
        """Frames seen, without a person, fitted afresh (lost track; back after frames without
        a person), and read with left and right swapped back."""
        return {
            "frames": self.frames,
            "frames_without_person": self.frames_without_person,
            "refits": self.refits,
            "reentries": self.reentries,
            "side_swaps": self.side_swaps,
        }
