"""A contact sheet: the same frames drawn by several generators, side by side in one image.

One row per chosen frame, one column per image of that frame (the real frame first, then each
generator's), each column titled. `mimic eval --sheet DIR` writes one per video, so the methods
can be compared by eye on exactly the frames the table scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from mimic.media.images import write_image

__all__ = ["ContactSheet", "sheet_frames"]

TITLE_HEIGHT = 22  # pixels of the title strip above the columns


def sheet_frames(total: int, rows: int, skip: Sequence[int] = ()) -> list[int]:
    """`rows` frame indices spread evenly over `range(total)`, leaving out `skip` (the source
    frames, which are not scored); fewer when the video has fewer frames to give."""
    candidates = [i for i in range(total) if i not in set(skip)]
    if rows <= 0 or not candidates:
        return []
    if rows >= len(candidates):
        return candidates
    picks = np.linspace(0, len(candidates) - 1, rows).round().astype(int)
    return [candidates[i] for i in picks]


class ContactSheet:
    """Collects rows of equally sized `(H, W, 3) uint8` RGB images under fixed column titles."""

    def __init__(self, titles: Sequence[str]) -> None:
        if not titles:
            raise ValueError("a contact sheet needs at least one column")
        self.titles = list(titles)
        self.rows: list[np.ndarray] = []

    def add(self, images: Sequence[np.ndarray]) -> None:
        """One row: an image per column, in the titles' order, all of one size."""
        if len(images) != len(self.titles):
            raise ValueError(f"a row needs {len(self.titles)} images (one per column), got {len(images)}")
        shapes = {image.shape for image in images}
        if len(shapes) != 1 or self.rows and self.rows[0].shape[0] != images[0].shape[0]:
            raise ValueError(f"every image of a contact sheet must have one size, got {sorted(shapes)}")
        self.rows.append(np.concatenate(list(images), axis=1))

    def image(self) -> np.ndarray:
        """`(TITLE_HEIGHT + rows * H, columns * W, 3) uint8` RGB: titles, then the rows."""
        if not self.rows:
            raise ValueError("the contact sheet has no rows")
        width = self.rows[0].shape[1] // len(self.titles)
        strip = np.full((TITLE_HEIGHT, self.rows[0].shape[1], 3), 255, np.uint8)
        for column, title in enumerate(self.titles):
            scale = min(0.45, 0.9 * width / max(1, cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)[0][0]))
            cv2.putText(strip, title, (column * width + 4, TITLE_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
        return np.concatenate([strip, *self.rows], axis=0)

    def write(self, path: Path) -> None:
        """Writes the sheet as an image (atomically; OutputError if it cannot)."""
        write_image(path, self.image())
