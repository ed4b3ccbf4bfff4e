"""`mimic fit`: body meshes for every frame of a photo or video, with overlays to look at.

Writes into the output folder, all at once at the end (nothing half-written on failure):
- `fit.npz`: per-frame arrays: `pose (T, J, 3)` axis-angle, `cam (T, 3)` weak-perspective
  `(s, tx, ty)`, `keypoints (T, K, 3)` detected pixels + confidence, `projected (T, K, 2)` the
  fitted keypoints in pixels, `found (T,)`; and `shape (S,)`, `joint_names`, `body_model`.
  With SMPL / SMPL-X also smplx's keys (`global_orient`, `body_pose`, `betas`, `transl`,
  `SMPLBody.smplx_parameters`): `smplx.create(dir, model_type=...)(**those)` gives the meshes.
  A video fitted with the multi-person detector also holds every person's track (`people (P,)`
  their numbers, `person` the one of the top-level arrays, the largest; `people_pose (P, T, J, 3)`,
  `people_cam`, `people_keypoints`, `people_projected`, `people_found (P, T)` False before a
  person appears and while away, `people_shape (P, S)`).
- `summary.json`: counts, errors and times.
- `overlay.png` (photo) or `overlay.mp4` (video, the input's audio and frame rate kept).
- on request (`FitExports`): `meshes/frame_000000.obj` ... per frame, and an animated skinned
  glb elsewhere (`mimic.tasks.fit_export`; a photo's is textured with the photo), written after the folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from bodymesh.body_model import BodyModel
from bodymesh.camera import to_image_space
from bodymesh.detect import BlazePoseDetector
from bodymesh.detect_people import PeopleDetector
from bodymesh.fit import BodyFit, FitConfig, fit_detection
from bodymesh.fit_video import VideoFitter
from bodymesh.follow import FollowedPerson, TrackedPeople
from bodymesh.keypoints import NUM_KEYPOINTS, person_height
from mimic.core.progress import track
from mimic.errors import NoPersonError
from mimic.media.files import staged_folder, write_bytes_atomic
from mimic.media.images import read_image, write_image
from mimic.media.video_read import VideoReader, is_video_path
from mimic.media.video_write import VideoWriter
from mimic.tasks.fit_export import fit_glb, subject_texture, write_meshes
from mimic.tasks.overlay import draw_fit


@dataclass
class FitSummary:
    """What `mimic fit` reports and writes to `summary.json`."""

    input: str
    body_model: str
    frames: int
    frames_without_person: int
    keypoint_error_px: float  # mean over frames with a person of the mean keypoint distance
    keypoint_error_height: float  # the same, as a fraction of the person's height
    first_fit_seconds: float
    fit_ms_per_frame: float  # mean over the frames after the first fitted one
    seconds: float
    outputs: list[str]
    frames_announced: int = 1  # frames the video's container announces (1 for a photo)
    ended_early: bool = False  # the video ended before those (read with allow_short)


def output_names(path: Path) -> list[str]:
    """The files `fit_file` writes into its output folder for the input at `path`."""
    return ["fit.npz", "summary.json", "overlay.mp4" if is_video_path(path) else "overlay.png"]


@dataclass
class FitExports:
    """Exports besides fit.npz: `glb` the path of an animated skinned glTF binary (None: none),
    `obj` one OBJ mesh per frame in the output folder's `meshes/`."""

    glb: Path | None = None
    obj: bool = False


def render_fit(image: np.ndarray, model: BodyModel, fit: BodyFit) -> np.ndarray:
    """`(H, W, 3)` uint8 RGB `image` with `fit`'s mesh and keypoints drawn over it."""
    with torch.no_grad():
        vertices = model.forward(fit.pose[None], fit.shape[None]).vertices
        image_space = to_image_space(vertices, fit.cam[None])[0]
    return draw_fit(image, image_space, model.faces, fit.keypoints.cpu().numpy(), fit.projected.cpu().numpy())


def _errors(fit: BodyFit) -> tuple[float, float]:
    error = fit.keypoint_error()
    return error, error / max(person_height(fit.keypoints.cpu().numpy()), 1.0)


def _save(
    staging: Path, model: BodyModel, fits: list[BodyFit | None], summary: FitSummary, people: dict[int, list[BodyFit | None]] | None = None,
    person: int | None = None,
) -> None:
    present = [f for f in fits if f is not None]
    joints, shape = len(model.joint_names), model.num_shape
    empty = {
        "pose": np.zeros((joints, 3)),
        "cam": np.zeros(3),
        "keypoints": np.zeros((NUM_KEYPOINTS, 3)),
        "projected": np.zeros((NUM_KEYPOINTS, 2)),
    }

    def stack(name: str, fits: list[BodyFit | None] = fits) -> np.ndarray:
        return np.stack([getattr(f, name).cpu().numpy() if f is not None else empty[name] for f in fits]).astype(np.float32)

    if people:
        numbers = sorted(people)
        tracks = [people[n] for n in numbers]
        extra_people = {
            "people": np.array(numbers), "person": np.array(person),
            **{f"people_{name}": np.stack([stack(name, track) for track in tracks]) for name in empty},
            "people_found": np.array([[f is not None and f.found for f in track] for track in tracks]),
            "people_shape": np.stack([next(f for f in reversed(t) if f is not None).shape.cpu().numpy() for t in tracks]).astype(np.float32),
        }
    else:
        extra_people = {}

    extra = {}
    smplx_parameters = getattr(model, "smplx_parameters", None)
    if smplx_parameters is not None and present:
        with torch.no_grad():
            params = smplx_parameters(_poses(fits), present[-1].shape[None])
        extra = {key: value.cpu().numpy().astype(np.float32) for key, value in params.items()}
    np.savez(
        staging / "fit.npz",
        pose=stack("pose"),
        cam=stack("cam"),
        keypoints=stack("keypoints"),
        projected=stack("projected"),
        found=np.array([f is not None and f.found for f in fits]),
        shape=(present[-1].shape.cpu().numpy() if present else np.zeros(shape)).astype(np.float32),
        joint_names=np.array(model.joint_names),
        body_model=np.array(model.name),
        **extra,
        **extra_people,
    )
    (staging / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")


def _poses(fits: list[BodyFit | None]) -> torch.Tensor:
    """`(T, J, 3)` pose of every frame; frames before the first person take its pose."""
    first = next(f for f in fits if f is not None)
    return torch.stack([(f or first).pose for f in fits])


def _export(staging: Path, model: BodyModel, fits: list[BodyFit | None], fps: float, exports: FitExports, texture: np.ndarray | None = None) -> tuple[list[str], bytes | None]:
    """Writes the per-frame meshes into `staging/meshes` when asked; returns the outputs to
    report (`["meshes/"]` or none) and the glb's bytes (or None)."""
    poses, shape = _poses(fits), next(f for f in reversed(fits) if f is not None).shape
    if exports.obj:
        write_meshes(staging / "meshes", model, poses, shape)
    return ["meshes/"] if exports.obj else [], fit_glb(model, poses, shape, fps, texture) if exports.glb is not None else None


def fit_photo(
    path: Path, out_dir: Path, model: BodyModel, config: FitConfig | None = None, device: str = "cpu", exports: FitExports | None = None
) -> FitSummary:
    """Fits the person in the photo at `path`; writes fit.npz, summary.json, overlay.png (and `exports`)."""
    exports = exports or FitExports()
    start = time.perf_counter()
    image = read_image(path)
    with BlazePoseDetector(video=False) as detector:
        detection = detector.detect(image)
    if detection is None:
        raise NoPersonError(f"no person found in '{path}'")
    fit_start = time.perf_counter()
    fit = fit_detection(model, detection, config, device)
    fit_seconds = time.perf_counter() - fit_start
    error_px, error_height = _errors(fit)
    texture = subject_texture(model, image, detection, fit, device) if exports.glb is not None else None
    with staged_folder(out_dir) as staging:
        write_image(staging / "overlay.png", render_fit(image, model, fit))
        meshes, glb = _export(staging, model, [fit], 1.0, exports, texture)
        summary = FitSummary(
            str(path), model.name, 1, 0, error_px, error_height, fit_seconds, 0.0,
            time.perf_counter() - start, output_names(path) + meshes,
        )
        _save(staging, model, [fit], summary)
    if glb is not None:
        write_bytes_atomic(exports.glb, glb)
    return summary


def _video_detector(people_bundle: Path | None, rate: float) -> BlazePoseDetector | FollowedPerson:
    """A video's detector: every person tracked (the largest followed) with the multi-person
    pose model `people_bundle`, else the single-person BlazePose; both in tracking mode."""
    if people_bundle is None:
        return BlazePoseDetector(video=True)
    return FollowedPerson(TrackedPeople(PeopleDetector(people_bundle, frame_rate=rate)))


def fit_video(
    path: Path,
    out_dir: Path,
    model: BodyModel,
    config: FitConfig | None = None,
    device: str = "cpu",
    max_frames: int | None = None,
    progress: bool = False,
    allow_short: bool = False,
    exports: FitExports | None = None,
    people_bundle: Path | None = None,
) -> FitSummary:
    """Fits every frame of the video at `path`, streaming; writes fit.npz, summary.json,
    overlay.mp4 (and `exports`, the glb at the video's frame rate). With `people_bundle` (the
    multi-person pose model, `bodymesh.pose_bundle`) every person is tracked and fitted (fit.npz's
    `people_*` arrays, all drawn in the overlay), the largest in the top-level arrays; else the
    single-person BlazePose's most prominent person. A video cut short raises InputError, or
    with `allow_short` is fitted as far as it goes (the summary says so)."""
    exports = exports or FitExports()
    start = time.perf_counter()
    fitter = VideoFitter(model, config, device)
    fits: list[BodyFit | None] = []
    errors: list[tuple[float, float]] = []
    fit_times: list[float] = []
    others: dict[int, VideoFitter] = {}  # the fitter of each other person, by number
    tracks: dict[int, list[BodyFit | None]] = {}  # their fits, one a frame (None before they appear)
    with VideoReader(path, allow_short) as reader, _video_detector(people_bundle, reader.info.rate) as detector, staged_folder(out_dir) as staging:
        total = reader.info.num_frames if max_frames is None else min(max_frames, reader.info.num_frames)
        with VideoWriter(staging / "overlay.mp4", reader.info.rate, audio_from=path) as writer:
            for index, frame in enumerate(track(reader, "fitting", total=total, enabled=progress)):
                if max_frames is not None and index >= max_frames:
                    break
                detection = detector.detect(frame)
                fit_start = time.perf_counter()
                fit = fitter.step(detection)
                fit_times.append(time.perf_counter() - fit_start)
                fits.append(fit)
                if fit is not None and fit.found:
                    errors.append(_errors(fit))
                shown = frame if fit is None else render_fit(frame, model, fit)
                if isinstance(detector, FollowedPerson):
                    for number in detector.everyone.keys() - others.keys() - {detector.person}:
                        others[number], tracks[number] = VideoFitter(model, config, device), [None] * index
                    for number, other in others.items():
                        tracks[number].append(other.step(detector.everyone.get(number)))
                        if tracks[number][-1] is not None and tracks[number][-1].found:
                            shown = render_fit(shown, model, tracks[number][-1])
                writer.write(shown)
            if not errors:
                writer.abort()
                raise NoPersonError(f"no person found in any frame of '{path}'")
        first = next(i for i, f in enumerate(fits) if f is not None)
        later = fit_times[first + 1 :]
        meshes, glb = _export(staging, model, fits, float(reader.info.rate), exports)
        summary = FitSummary(
            str(path), model.name, fitter.frames, fitter.frames_without_person,
            float(np.mean([e[0] for e in errors])), float(np.mean([e[1] for e in errors])),
            fit_times[first], 1000 * float(np.mean(later)) if later else 0.0,
            time.perf_counter() - start, output_names(path) + meshes, reader.info.num_frames, reader.ended_early,
        )
        if isinstance(detector, FollowedPerson):
            _save(staging, model, fits, summary, {detector.person: fits, **tracks}, detector.person)
        else:
            _save(staging, model, fits, summary)
    if glb is not None:
        write_bytes_atomic(exports.glb, glb)
    return summary


def fit_file(path: Path, out_dir: Path, model: BodyModel, **options) -> FitSummary:
    """`fit_video` for video files, `fit_photo` for anything else."""
    if is_video_path(path):
        return fit_video(path, out_dir, model, **options)
    for name in ("max_frames", "progress", "allow_short", "people_bundle"):
        options.pop(name, None)
    return fit_photo(path, out_dir, model, **options)
