"""Image files through OpenCV: `(H, W, 3) uint8` RGB arrays in and out; `InputError` for a
file that cannot be read, `OutputError` for one that cannot be written (written atomically)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mimic.errors import InputError, OutputError
from mimic.media.files import PathLike, atomic_path, os_reason

__all__ = ["check_frame", "check_readable_file", "read_image", "encode_image", "write_image"]


def check_frame(frame: np.ndarray, what: str = "frame") -> np.ndarray:
    """Return ``frame`` as a C-contiguous ``(H, W, 3) uint8`` array or raise ValueError."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"{what} must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{what} must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{what} is empty: {frame.shape}")
    return np.ascontiguousarray(frame)


def check_readable_file(path: Path, what: str) -> None:
    """Raise InputError unless ``path`` is an existing regular file."""
    if not path.exists():
        raise InputError(f"cannot read {what} '{path}': no such file")
    if path.is_dir():
        raise InputError(f"cannot read {what} '{path}': it is a directory")


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as RGB.

    Grayscale images are repeated to three channels, an alpha channel is dropped (not
    composited), 16-bit images are scaled to 8 bits and the EXIF orientation is applied (what
    OpenCV's ``IMREAD_COLOR`` does).

    Args:
        path: any format OpenCV reads (PNG, JPEG, BMP, TIFF, WebP, ...).

    Returns:
        ``(H, W, 3) uint8`` RGB array.

    Raises:
        InputError: the file is missing, a directory, unreadable, or not a decodable image.
    """
    path = Path(path)
    check_readable_file(path, "image")
    try:
        data = np.fromfile(path, dtype=np.uint8)  # not cv2.imread: handles non-ASCII paths
    except OSError as e:
        raise InputError(f"cannot read image '{path}': {os_reason(e)}") from None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise InputError(f"cannot read image '{path}': not an image file, or it is corrupt")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def encode_image(image: np.ndarray, suffix: str = ".png", path: PathLike | None = None) -> bytes:
    """The bytes of an image file of ``(H, W, 3) uint8`` RGB ``image`` in the format of
    ``suffix`` (".png" losslessly, ".jpg" at quality 95). ``path`` names the file in the
    OutputError raised for a format OpenCV cannot write."""
    image = check_frame(image, "image")
    params: list[int] = []
    if suffix.lower() in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    try:
        ok, encoded = cv2.imencode(suffix, image[:, :, ::-1], params)
    except cv2.error:
        ok = False
    if not ok:
        raise OutputError(
            f"cannot write image '{path if path is not None else 'image' + suffix}': unknown image extension '{suffix}' "
            "(use .png or .jpg)"
        )
    return encoded.tobytes()


def write_image(path: PathLike, image: np.ndarray) -> None:
    """Write an RGB image atomically; the format follows the extension (.png, .jpg, ...).

    JPEG is written at quality 95, PNG losslessly.

    Args:
        path: destination file; its folder must exist.
        image: ``(H, W, 3) uint8`` RGB.

    Raises:
        ValueError: ``image`` is not ``(H, W, 3) uint8``.
        OutputError: the folder is missing or not writable, or the extension is not an image
            format OpenCV can write.
    """
    path = Path(path)
    encoded = encode_image(image, path.suffix, path)
    with atomic_path(path, "write image") as temp:
        temp.write_bytes(encoded)
