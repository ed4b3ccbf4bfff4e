"""One driver person, frame after frame: fit, smooth, place, render (what `Imitator.imitate`
does for the person it follows, and `mimic.tasks.group` for each person of a group).

The stream is fed each driver frame with that person's detection (None when not in view), in two
halves that may run on two threads (`fit`, then `place` with the other people's masks); it
yields the finished frames `lag` frames later (the smoother's look-ahead, `bodymesh.smoothing`),
and the last ones on `flush`. Frames before the person's first
appearance come out at once, showing the background.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import torch

from bodymesh.detect import Detection
from bodymesh.fit import BodyFit
from bodymesh.fit_video import VideoFitter
from bodymesh.follow import OtherPeople
from bodymesh.smoothing import FitSmoother, lag_frames
from mimic.core.tensors import to_image, to_tensor
from mimic.pipeline.background import TemporalPlate
from mimic.pipeline.crop import CropBox

if TYPE_CHECKING:
    from mimic.pipeline.imitator import ImitatedFrame, Imitator, Subject


def others_over(others: OtherPeople, box: CropBox, silhouette: np.ndarray, driver_background: bool) -> np.ndarray | None:
    """`(size, size)` in [0, 1]: where the canvas (`box`'s crop) shows the driver's other people
    rather than the generated frame. Those in front of the followed person cover the subject's
    `silhouette (size, size)` bool; over the driver's background every other person stays as
    they are (those behind only where the subject is not). None: nowhere."""
    size = silhouette.shape[0]
    front = None if others.front is None else box.crop(others.front, size)
    if not driver_background:
        return None if front is None else front * silhouette
    behind = None if others.behind is None else box.crop(others.behind, size) * ~silhouette
    present = [m for m in (front, behind) if m is not None]
    return np.maximum.reduce(present) if present else None


class DriverStream:
    """Makes `subject` perform the motion of one person of the driver, with `imitator`'s body,
    generator and options (canvas, placement, background, smoothing), from a driver of `rate`
    frames/s (the smoother's window is `imitator.config.smooth` seconds)."""

    def __init__(self, imitator: "Imitator", subject: "Subject", rate: float) -> None:
        self.imitator = imitator
        self.subject = subject
        self.fitter = VideoFitter(imitator.body, imitator.config.fit, imitator.device)
        self.smoother: FitSmoother[tuple] = FitSmoother(imitator.body, lag_frames(imitator.config.smooth, rate))
        self.box: CropBox | None = None  # the driver's crop, fixed on the person's first frame
        self._first_cam: torch.Tensor | None = None
        self._driver_plate = subject.bundle.background
        self._temporal_plate = TemporalPlate()
        self._driver_scale: float | None = None

    def fit(self, detection: Detection | None, seconds: dict[str, float]) -> tuple[BodyFit | None, bool]:
        """The person's fit in the next driver frame from their `detection` (None when not in
        view; the fit is None until first seen) and whether it restarts tracking; adds "fit" to
        `seconds` (per stage, "detect" already in). The first half of a frame's work: it may run
        on another thread, ahead of `place` (fitting beside detection, rendering beside both)."""
        clock = time.perf_counter()
        restarts = self.fitter.refits + self.fitter.reentries
        fit = self.fitter.step(detection)
        seconds["fit"] = time.perf_counter() - clock
        return fit, self.fitter.refits + self.fitter.reentries > restarts

    def place(
        self, frame: np.ndarray, detection: Detection | None, fit: BodyFit | None, restart: bool, seconds: dict[str, float], others: OtherPeople,
        several_people: bool = False,
    ) -> list["ImitatedFrame"]:
        """The second half: the driver `frame (H, W, 3)` uint8 RGB with the person's `detection`,
        `fit` and `restart` (from `fit`), and the `others`' masks; `seconds` gets the rendering
        stages. Returns the frames now finished (the smoother's look-ahead), oldest first."""
        from mimic.pipeline.imitator import ImitatedFrame

        if fit is not None and self.box is None:
            self.box = CropBox.around(detection.bbox(), self.imitator.config.crop_margin)
        if self.box is None:
            size = self.imitator.config.size
            driver = CropBox.around((0, 0, frame.shape[1], frame.shape[0]), 0.0).crop(frame, size)
            return [ImitatedFrame(to_image(self.subject.bundle.background), driver, False, seconds, frame, None, several_people)]
        return [self._render(smoothed, *item) for smoothed, item in self.smoother.push(fit, (frame, detection, seconds, others, several_people), restart)]

    def flush(self) -> list["ImitatedFrame"]:
        """The frames still held for the smoother's look-ahead (the end of the driver)."""
        return [self._render(smoothed, *item) for smoothed, item in self.smoother.flush()]

    def _render(
        self, fit: BodyFit, frame: np.ndarray, detection: Detection | None, seconds: dict[str, float], others: OtherPeople, several_people: bool
    ) -> "ImitatedFrame":
        from mimic.pipeline.imitator import ImitatedFrame

        imitator, subject, box = self.imitator, self.subject, self.box
        config, size = imitator.config, imitator.config.size
        driver = box.crop(frame, size)
        cam = box.camera(fit.cam, size)
        if self._driver_scale is None:
            self._driver_scale = imitator.height(self.fitter.shape) / imitator.height(subject.shape)
        cam = cam * cam.new_tensor([self._driver_scale, 1.0, 1.0])
        if self._first_cam is None:
            self._first_cam = cam
        if config.placement == "source":
            anchor, first = subject.fits[0].cam, self._first_cam
            cam = torch.cat((anchor[:1] * cam[:1] / first[:1], anchor[1:] + cam[1:] - first[1:]))
        if config.background == "driver" and detection is not None and detection.mask is not None:
            # mirrored beyond the frame (never repeated edge rows), the mask likewise
            mirrored = box.crop(frame, size, "reflect"), box.crop(detection.mask, size, "reflect")
            self._driver_plate = to_tensor(self._temporal_plate.update(*mirrored), imitator.device)
        background = self._driver_plate if config.background == "driver" else subject.bundle.background
        target = imitator.target(subject, fit.pose, cam, background, seconds)
        clock = time.perf_counter()
        with torch.no_grad():
            image = to_image(imitator.generator.generate(subject.bundle, target))
        silhouette = (target.fragments.face_id[0] >= 0).cpu().numpy()
        over = others_over(others, box, silhouette, config.background == "driver")
        if over is not None:
            image = (image * (1 - over[..., None]) + driver * over[..., None]).round().astype(np.uint8)
        seconds["generate"] = time.perf_counter() - clock
        return ImitatedFrame(image, driver, detection is not None, seconds, frame, box, several_people, silhouette)
