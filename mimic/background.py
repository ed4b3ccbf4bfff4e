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
    paste is feathered over about one working pixel. About 20-40 ms for a 1080x1920 frame.

    Args:
        image: `(H, W, 3)` uint8 RGB.
        mask: `(H, W)` float person mask in [0, 1]; pixels above 0.5 are the person.
        dilation_px: how far (full-resolution pixels) the removed region extends past the mask,
            to take the person's fringe and shadow-free edge with it; None: 2% of the longest side.
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

    # Paste back: only the hole's bounding box is upscaled; alpha is the hole, softened by
    # the bilinear upscale (about one working pixel wide), and 1 on every dilated person pixel.
    ys, xs = np.nonzero(hole)
    y0, y1 = max(ys.min() - 2, 0), min(ys.max() + 3, small_size[1])
    x0, x1 = max(xs.min() - 2, 0), min(xs.max() + 3, small_size[0])
    Y0, Y1 = int(np.floor(y0 / scale)), min(height, int(np.ceil(y1 / scale)))
    X0, X1 = int(np.floor(x0 / scale)), min(width, int(np.ceil(x1 / scale)))
    # Map the full-resolution box's pixel centres into the small image (cv2.resize's convention).
    map_x = ((np.arange(X0, X1, dtype=np.float32) + 0.5) * (small_size[0] / width) - 0.5)
    map_y = ((np.arange(Y0, Y1, dtype=np.float32) + 0.5) * (small_size[1] / height) - 0.5)
    mx, my = np.meshgrid(map_x, map_y)
    patch = cv2.remap(filled, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.remap(hole.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = np.clip(alpha * 2.0, 0.0, 1.0)  # full strength from halfway across the border pixel
    alpha = np.maximum(alpha, person[Y0:Y1, X0:X1].astype(np.float32))
    out = image.copy()
    region = out[Y0:Y1, X0:X1]
    blended = region.astype(np.float32) + alpha[..., None] * (patch.astype(np.float32) - region)
    out[Y0:Y1, X0:X1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out
