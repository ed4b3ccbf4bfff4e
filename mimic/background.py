"""Background plates: the person removed from a photo and the hole inpainted."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["remove_person"]

_WORK_SIDE = 256  # longest side (pixels) the inpainting runs at


def remove_person(image: np.ndarray, mask: np.ndarray, dilation_px: int | None = None) -> np.ndarray:
    """The photo without the person: the masked region (grown by `dilation_px`) inpainted.

    Inpainting (OpenCV's Telea) runs at a reduced resolution (longest side 256) and only the
    inpainted region is pasted back, upscaled, so the rest of the photo keeps its pixels; the
    paste is feathered over about one working pixel. About 25 ms for a 1080x1920 frame on one
    CPU core (50 ms when the person covers half of it).

    Args:
        image: `(H, W, 3)` uint8 RGB.
        mask: `(H, W)` float person mask in [0, 1]; pixels above 0.5 are the person.
        dilation_px: how far (full-resolution pixels) the removed region extends past the mask,
            so that the person's fringe (hair, motion blur, mask error) goes too; None: 2% of the
            longest side.
    Returns:
        `(H, W, 3)` uint8 RGB, equal to `image` away from the (dilated) person.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be (H, W, 3) uint8, got {desc}")
    height, width = image.shape[:2]
    mask = np.asarray(mask)
    if mask.shape != (height, width):
        raise ValueError(f"mask must be ({height}, {width}) like the image, got {mask.shape}")
    if dilation_px is None:
        dilation_px = max(1, round(0.02 * max(height, width)))
    if dilation_px < 0:
        raise ValueError(f"dilation_px must be >= 0, got {dilation_px}")
    person = (mask > 0.5).astype(np.uint8)
    if not person.any():
        return image.copy()

    scale = min(1.0, _WORK_SIDE / max(height, width))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA) if scale < 1 else image.copy()
    # The person's footprint at the working size (any overlap counts), grown by the dilation.
    small_person = cv2.resize(person * 255, small_size, interpolation=cv2.INTER_AREA) if scale < 1 else person * 255
    hole = (small_person > 0).astype(np.uint8)
    radius = dilation_px * scale
    if radius > 0:
        k = 2 * int(np.ceil(radius)) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        hole = cv2.dilate(hole, kernel)
    filled = cv2.inpaint(small, hole, 3.0, cv2.INPAINT_TELEA)
    if scale == 1.0:
        return np.where(hole[..., None] > 0, filled, image)

    # Paste back: the working image and hole upscaled (bilinear, cv2's pixel-centre
    # convention, so they line up with the downscale), only over the hole's bounding box.
    # Alpha is the upscaled hole at double strength (soft over about one working pixel at its
    # rim, 1 inside) and 1 on every person pixel.
    ys, xs = np.nonzero(hole)
    y0, y1 = int(np.floor(max(ys.min() - 1, 0) / scale)), int(np.ceil(min(ys.max() + 2, small_size[1]) / scale))
    x0, x1 = int(np.floor(max(xs.min() - 1, 0) / scale)), int(np.ceil(min(xs.max() + 2, small_size[0]) / scale))
    y1, x1 = min(y1, height), min(x1, width)
    patch = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)[y0:y1, x0:x1]
    soft = cv2.resize(hole * np.uint8(255), (width, height), interpolation=cv2.INTER_LINEAR)[y0:y1, x0:x1]
    alpha = np.maximum(soft, person[y0:y1, x0:x1] * np.uint8(255)).astype(np.float32)
    alpha = np.minimum(alpha * np.float32(2.0 / 255.0), np.float32(1.0))
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.blendLinear(patch, out[y0:y1, x0:x1], alpha, 1.0 - alpha)
    return out
