"""The multi-person BlazePose model: a MediaPipe Tasks bundle made from mediapipe's own wheel.

mediapipe's wheel ships the two BlazePose networks its single-person solution runs
(`modules/pose_detection/pose_detection.tflite`, `modules/pose_landmark/pose_landmark_full.tflite`)
but not the Tasks bundle (`pose_landmarker_full.task`) that `PoseLandmarker` needs to find
several people. The bundle is those two files with image-normalisation metadata (written by
mediapipe's own `metadata_writer`; detector inputs in [-1, 1], landmarker inputs in [0, 1])
zipped under the names the Tasks graph looks for. It is built once (under a second), offline,
into the cache folder, one per mediapipe release, and written atomically (a temporary name in
the same folder, then a rename), so concurrent first runs each write the same bytes safely.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

DETECTOR_NAME = "pose_detector.tflite"
LANDMARKER_NAME = "pose_landmarks_detector.tflite"
BUNDLE_NAME = "pose_landmarker_full.task"
# wheel file, bundle member name, input mean and std (pixel = (value - mean) / std)
_MEMBERS = (
    ("modules/pose_detection/pose_detection.tflite", DETECTOR_NAME, 127.5, 127.5),
    ("modules/pose_landmark/pose_landmark_full.tflite", LANDMARKER_NAME, 0.0, 255.0),
)


def _mediapipe():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")
        import mediapipe

    return mediapipe


def bundle_path(cache_dir: Path) -> Path:
    """Where the bundle of the installed mediapipe lives in `cache_dir`."""
    return Path(cache_dir) / f"mediapipe-{_mediapipe().__version__}" / BUNDLE_NAME


def _with_image_metadata(model: bytes, mean: float, std: float) -> bytes:
    """A TFLite `model` with image-input normalisation metadata (`mean`, `std`, RGB)."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info("blazepose", "BlazePose from the mediapipe wheel").add_image_input(norm_mean=[mean], norm_std=[std])
    return bytes(writer.populate()[0])


def _intact(path: Path) -> bool:
    """`path` is a readable zip holding both networks."""
    try:
        with zipfile.ZipFile(path) as bundle:
            return {DETECTOR_NAME, LANDMARKER_NAME} <= set(bundle.namelist()) and bundle.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def pose_bundle(cache_dir: Path) -> Path:
    """The path of the multi-person pose bundle in `cache_dir`, built there on first use (or
    again when the file there is damaged).

    Raises:
        OSError: the cache folder cannot be created or written.
    """
    path = bundle_path(cache_dir)
    if path.is_file() and _intact(path):
        return path
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    wheel = Path(_mediapipe().__file__).parent
    members = {name: _with_image_metadata((wheel / source).read_bytes(), mean, std) for source, name, mean, std in _MEMBERS}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        model_asset_bundle_utils.create_model_asset_bundle(members, str(partial))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
