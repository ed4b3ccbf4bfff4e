"""Square person crops: the working canvas of the pipeline, and cameras moved into it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

_BORDERS = {"edge": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT}


@dataclass(frozen=True)
class CropBox:
    """A square window of an image: top-left corner `(x0, y0)` and side, in pixels (may extend
    past the image; outside pixels are filled)."""

    x0: float
    y0: float
    side: float

    @classmethod
    def around(cls, bbox: tuple[float, float, float, float], margin: float = 0.15) -> "CropBox":
        """The square centred on `bbox (x0, y0, x1, y1)` whose side is its longer edge plus
        `margin` of it on each side."""
        x0, y0, x1, y1 = bbox
        side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return cls(cx - side / 2, cy - side / 2, side)

    def scale(self, size: int) -> float:
        """Canvas pixels per image pixel for a `size x size` canvas."""
        return size / self.side

    def crop(self, image: np.ndarray, size: int, border: str = "edge") -> np.ndarray:
        """`image (H, W, C)` -> `(size, size, C)`, the window resampled; outside the image:
        its edge pixels (`border="edge"`) or its mirror image (`"reflect"`, about the edge).

        Pixel centres sit at integer + 0.5 (as everywhere in mimic); OpenCV indexes them at
        integers, hence the half-pixel terms."""
        if border not in _BORDERS:
            raise ValueError(f"border must be one of {', '.join(_BORDERS)}, got {border!r}")
        k = self.scale(size)
        if k < 1:  # shrink with an area filter first (warpAffine has none), then shift
            image = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            affine = np.array([[1.0, 0.0, -self.x0 * k], [0.0, 1.0, -self.y0 * k]])
        else:
            shift = [(0.5 - self.x0) * k - 0.5, (0.5 - self.y0) * k - 0.5]
            affine = np.array([[k, 0.0, shift[0]], [0.0, k, shift[1]]])
        return cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=_BORDERS[border])

    def inside(self, image_shape: tuple[int, ...], size: int) -> np.ndarray:
        """`(size, size)` bool: the canvas pixels whose centres fall inside an image of
        `image_shape (H, W, ...)`."""
        k = self.scale(size)
        centres = (np.arange(size) + 0.5) / k
        columns = (self.x0 + centres >= 0) & (self.x0 + centres < image_shape[1])
        rows = (self.y0 + centres >= 0) & (self.y0 + centres < image_shape[0])
        return rows[:, None] & columns[None, :]

    def paste(self, canvas: np.ndarray, image: np.ndarray) -> np.ndarray:
        """A copy of `image (H, W, C)` with `canvas (size, size, C)` scaled back over this window
        (clipped to the image): `crop`'s inverse, for output at the image's own size."""
        out = image.copy()
        side = max(1, round(self.side))
        x0, y0 = round(self.x0), round(self.y0)
        scaled = cv2.resize(canvas, (side, side), interpolation=cv2.INTER_LINEAR)
        top, left = max(y0, 0), max(x0, 0)
        bottom, right = min(y0 + side, image.shape[0]), min(x0 + side, image.shape[1])
        if bottom > top and right > left:
            out[top:bottom, left:right] = scaled[top - y0 : bottom - y0, left - x0 : right - x0]
        return out

    def camera(self, cam: torch.Tensor, size: int) -> torch.Tensor:
        """A weak-perspective camera `(..., 3)` of the image moved into the `size` canvas."""
        k = self.scale(size)
        offset = cam.new_tensor([0.0, self.x0, self.y0])
        return (cam - offset) * k

    def keypoints(self, keypoints: np.ndarray, size: int) -> np.ndarray:
        """`(K, 3)` image pixels + confidence -> canvas pixels + confidence."""
        k = self.scale(size)
        out = keypoints.copy()
        out[:, 0] = (keypoints[:, 0] - self.x0) * k
        out[:, 1] = (keypoints[:, 1] - self.y0) * k
        return out
