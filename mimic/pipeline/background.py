"""Background plates: the person removed from a photo and the hole inpainted.

Two inpainting methods: "telea" (OpenCV's fast marching diffusion, at most 256 pixels a side,
milliseconds: for every frame of a driver) and "fsr" (OpenCV contrib's xphoto frequency
selective reconstruction, fast variant, at most 128 pixels a side, about half a second: for the
one plate of a subject). On real photos with a person-shaped hole over their background
(`/tmp` study of twenty photos, 256 px): SSIM in the hole 0.787 (telea), 0.791 (Navier-Stokes),
0.750 (xphoto shift-map), 0.799 (fsr); FSR continues edges and flat walls without Telea's
smeared blobs.

A subject's plate (`clean_plate`) also removes the person's fringe generously (a wider ring,
and further below the person for shoes and contact shadows), takes the clothed mesh's own
silhouette into the hole, and fills the canvas beyond the photo with the clean plate mirrored
about the photo's edge, fading into a blur of itself away from the edge (never repeated edge
rows, never a mirrored ghost of the person).

A driver's plate (`TemporalPlate`) is built over time instead: the per-pixel median of recent
frames where that pixel is not the person, so what the dancer uncovers as they move is the real
background, not an inpainting; pixels no kept frame saw free are the current frame inpainted.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

__all__ = ["METHODS", "Backdrop", "remove_person", "clean_plate", "TemporalPlate"]

METHODS = ("telea", "fsr")
_WORK_SIDE = {"telea": 256, "fsr": 128}  # longest side (pixels) each inpainting runs at
_FSR_ZERO = 8  # grey levels: an FSR channel below this where the diffusion fill is bright is a failed block


class Backdrop(NamedTuple):
    """What a subject's plate is made from, on the canvas: `image (S, S, 3)` uint8 RGB (the
    photo's crop, mirrored beyond the photo), `person (S, S)` float in [0, 1] (its mask, cropped
    alike) and `inside (S, S)` bool (canvas pixels inside the photo)."""

    image: np.ndarray
    person: np.ndarray
    inside: np.ndarray


def clean_plate(backdrop: Backdrop, silhouette: np.ndarray | None = None) -> np.ndarray:
    """`(S, S, 3)` uint8 RGB: the backdrop without its person (and without `silhouette (S, S)`
    bool, the subject's rendered mesh, when given), inpainted with "fsr"; the hole grown by 3%
    of the side all round and 5% more downwards. Beyond the photo the canvas is the clean
    part inside it mirrored about the photo's edge (so a person standing near the edge leaves
    no mirrored ghost there), fading into its blur over a fifth of the side."""
    size = backdrop.image.shape[0]
    hole = backdrop.person.astype(np.float32)
    if silhouette is not None:
        hole = np.maximum(hole, silhouette.astype(np.float32))
    # inpainted over the whole canvas (the mirrored surroundings are context for holes that
    # reach the photo's edge), then only the part inside the photo kept and mirrored outwards
    plate = remove_person(backdrop.image, hole, round(0.03 * size), method="fsr", below_px=round(0.05 * size))
    if backdrop.inside.all():
        return plate
    rows, columns = np.nonzero(backdrop.inside.any(1))[0], np.nonzero(backdrop.inside.any(0))[0]
    if len(rows) == 0:
        raise ValueError("the backdrop's canvas has no pixel inside the photo")
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    mirrored = cv2.copyMakeBorder(plate[top:bottom, left:right], top, size - bottom, left, size - right, cv2.BORDER_REFLECT)
    distance = cv2.distanceTransform((~backdrop.inside).astype(np.uint8), cv2.DIST_L2, 5)
    alpha = np.clip(distance / (0.2 * size), 0.0, 1.0)[..., None]
    blurred = cv2.GaussianBlur(mirrored, (0, 0), 0.06 * size, borderType=cv2.BORDER_REFLECT)
    return np.round(mirrored * (1 - alpha) + blurred * alpha).astype(np.uint8)


def remove_person(
    image: np.ndarray, mask: np.ndarray, dilation_px: int | None = None, method: str = "telea", below_px: int = 0
) -> np.ndarray:
    """The photo without the person: the masked region (grown by `dilation_px`) inpainted.

    Inpainting runs at a reduced resolution (longest side 256 for "telea", 128 for "fsr") and
    only the inpainted region is pasted back, upscaled, so the rest of the photo keeps its
    pixels; the paste is feathered over about one working pixel. With "telea", about 25 ms for
    a 1080x1920 frame on one CPU core (50 ms when the person covers half of it).

    Args:
        image: `(H, W, 3)` uint8 RGB.
        mask: `(H, W)` float person mask in [0, 1]; pixels above 0.5 are the person.
        dilation_px: how far (full-resolution pixels) the removed region extends past the mask,
            so that the person's fringe (hair, motion blur, mask error) goes too; None: 2% of the
            longest side.
        method: "telea" or "fsr" (see the module docstring).
        below_px: how much further the region extends downwards (shoes, contact shadows).
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
    if dilation_px < 0 or below_px < 0:
        raise ValueError(f"dilation_px and below_px must be >= 0, got {dilation_px}, {below_px}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    person = (mask > 0.5).astype(np.uint8)
    if not person.any():
        return image.copy()

    scale = min(1.0, _WORK_SIDE[method] / max(height, width))
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
    drop = round(below_px * scale)
    if drop > 0:  # each hole pixel also takes the `drop` pixels below it
        hole = cv2.dilate(hole, np.ones((drop + 1, 1), np.uint8), anchor=(0, drop))
    filled = _inpaint(small, hole, method)
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


def _inpaint(image: np.ndarray, hole: np.ndarray, method: str) -> np.ndarray:
    """`image (h, w, 3)` uint8 with the `hole (h, w)` uint8 (non-zero) filled by `method`."""
    diffused = cv2.inpaint(image, hole, 3.0, cv2.INPAINT_TELEA)
    if method == "telea":
        return diffused
    filled = np.zeros_like(image)
    cv2.xphoto.inpaint(image, np.where(hole > 0, 0, 255).astype(np.uint8), filled, cv2.xphoto.INPAINT_FSR_FAST)
    # FSR leaves blocks it cannot reconstruct at zero in some channels (seen on flat,
    # low-texture walls): where a channel is near zero but the diffusion fill's is not, the
    # diffusion fill stands
    failed = ((filled < _FSR_ZERO) & (diffused > 6 * _FSR_ZERO)).any(-1)
    return np.where(failed[..., None], diffused, filled)


class TemporalPlate:
    """A driver's clean plate built over time from frames of one fixed crop (a static camera).

    Every `every`-th frame (and the first) is kept, at most `history` of them; the plate is, at
    each pixel, the median over the kept frames where the pixel is free of the person (the
    mask dilated by `dilation_px`); where none is, the current frame inpainted ("telea"). The
    median is refreshed when a frame is kept (one sort of the kept frames along time).

    Args:
        history: frames kept (bounded memory: `history` crops).
        every: keep one frame in this many.
        dilation_px: growth of each mask, pixels (None: 2% of the crop side, as `remove_person`).
    """

    def __init__(self, history: int = 16, every: int = 4, dilation_px: int | None = None) -> None:
        if history < 1 or every < 1:
            raise ValueError(f"history and every must be at least 1, got {history}, {every}")
        self.history, self.every, self.dilation_px = history, every, dilation_px
        self._frames: list[np.ndarray] = []
        self._free: list[np.ndarray] = []
        self._count = 0
        self._median: np.ndarray | None = None
        self._seen: np.ndarray | None = None

    def update(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The plate after one more frame: `image (S, S, 3)` uint8 RGB, its person `mask (S, S)`
        float in [0, 1] -> `(S, S, 3)` uint8 RGB."""
        radius = self.dilation_px if self.dilation_px is not None else max(1, round(0.02 * max(image.shape[:2])))
        person = (mask > 0.5).astype(np.uint8)
        if radius > 0:
            person = cv2.dilate(person, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
        if self._count % self.every == 0:
            self._frames = [*self._frames, image.astype(np.float32)][-self.history :]
            self._free = [*self._free, person == 0][-self.history :]
            self._refresh()
        self._count += 1
        current = remove_person(image, mask, self.dilation_px)
        return np.where(self._seen[..., None], self._median, current).astype(np.uint8)

    def _refresh(self) -> None:
        frames, free = np.stack(self._frames), np.stack(self._free)  # (N, S, S, 3), (N, S, S)
        ordered = np.sort(np.where(free[..., None], frames, np.inf), axis=0)  # free samples first
        count = free.sum(0)[None, ..., None]  # (1, S, S, 1)
        below = np.take_along_axis(ordered, np.maximum(count - 1, 0) // 2, axis=0)[0]
        above = np.take_along_axis(ordered, np.maximum(count, 1) // 2 - (count == 0), axis=0)[0]
        self._seen = count[0, ..., 0] > 0
        self._median = np.where(self._seen[..., None], (below + above) / 2, 0).round()
