"""Training pairs from videos (the iPER protocol), and the PairBatch stream of `mimic train`.

Each video of a folder shows one person. It is detected (BlazePose, video mode) and fitted
(`bodymesh.fit_video.VideoFitter`, one shape for the clip) once; every frame with a person is
cropped around it as the pipeline crops its sources (`mimic.pipeline.crop.CropBox`, one box per frame) at
the training size, and its person mask and background plate (`mimic.pipeline.background.remove_person`)
are kept. That is cached in one file per video (`<cache>/video_pairs/`), keyed by the video's
content hash and the canvas size, so epochs and later runs redo none of it: the crops and plates
as JPEG, the masks as PNG, the fits as arrays. A pair is two random frames of one random video;
its correspondences come from the fitted meshes (`mimic.training.synthetic_pairs.PairMaker`).

`pair_batches` is the data factory of every model that learns from `PairBatch`: video pairs
mixed with synthetic pairs at a given fraction, sharded by rank like the synthetic ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from bodymesh.body_model import BodyModel
from bodymesh.camera import mesh_to_image
from bodymesh.detect import BlazePoseDetector
from bodymesh.fit_video import VideoFitter
from mimic.core.pairs import PairBatch, collate_pairs
from mimic.core.paths import resolve_cache_dir
from mimic.core.progress import track
from mimic.core.tensors import to_tensor
from mimic.errors import InputError, NoPersonError
from mimic.media.files import atomic_path
from mimic.media.images import read_image
from mimic.media.video_read import VIDEO_EXTENSIONS, VideoReader, is_video_path
from mimic.pipeline.background import remove_person
from mimic.pipeline.clothing import ClothesConfig, fit_clothes
from mimic.pipeline.crop import CropBox
from mimic.pipeline.imitator import DETECTION_SIDE, ImitatorConfig
from mimic.training.data_options import DataOptions
from mimic.training.pair_pool import PairPool, build_pool, pool_batches, pool_folder
from mimic.training.synthetic_pairs import PairMaker, SyntheticConfig, SyntheticPairs, pair_generator, shard_indices

__all__ = ["VideoClip", "prepare_video", "load_videos", "VideoPairs", "pair_batches", "mixed_batches", "read_images", "video_files",
           "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
_CACHE_VERSION = 1
_JPEG_QUALITY = 95
_MAX_IMAGE_SIDE = 512  # --images are shrunk to this longest side: patches and backgrounds are small


@dataclass
class VideoClip:
    """One video's frames with a person, prepared for pairs at `size`.

    frames: `(N,)` frame numbers. pose: `(N, J, 3)`. shape: `(S,)` the clip's shape. cam:
    `(N, 3)` cameras in canvas pixels. crops, masks, plates: N encoded images each (JPEG crop,
    PNG person mask, JPEG background plate), `size x size`.
    """

    path: Path
    size: int
    frames: np.ndarray
    pose: np.ndarray
    shape: np.ndarray
    cam: np.ndarray
    crops: list[bytes]
    masks: list[bytes]
    plates: list[bytes]

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Crop `(size, size, 3)` uint8 RGB, mask `(size, size)` float32 in [0, 1], plate (as the crop) of frame `i`."""
        crop = cv2.cvtColor(cv2.imdecode(np.frombuffer(self.crops[i], np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        plate = cv2.cvtColor(cv2.imdecode(np.frombuffer(self.plates[i], np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        mask = cv2.imdecode(np.frombuffer(self.masks[i], np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
        return crop, mask, plate


def video_key(path: Path, size: int, body: BodyModel, max_frames: int | None) -> str:
    """The cache key of a video: its content (SHA-256), the canvas size, the body model, the
    frame limit and the cache format."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    digest.update(f"|{size}|{body.name}|{body.num_shape}|{max_frames}|{_CACHE_VERSION}".encode())
    return digest.hexdigest()[:20]


def prepare_video(
    path: Path, body: BodyModel, size: int, cache_dir: Path, max_frames: int | None = None, progress: bool = False
) -> VideoClip:
    """The clip of one video, from the cache or detected, fitted and cropped now (and cached).

    Args:
        path: the video. body: the body model (on the device fitting runs on). size: canvas side.
        cache_dir: the folder of the per-video cache files (created when missing).
        max_frames: use only the first frames. progress: a progress bar while fitting.
    Raises:
        InputError for an unreadable video, NoPersonError when fewer than two frames show a person.
    """
    path = Path(path)
    cache = Path(cache_dir) / f"{path.stem}-{video_key(path, size, body, max_frames)}.npz"
    if cache.is_file():
        try:
            return _read_clip(cache, path, size)
        except (OSError, ValueError, KeyError):
            cache.unlink(missing_ok=True)  # a damaged cache is rebuilt
    clip = _fit_clip(path, body, size, max_frames, progress)
    _write_clip(cache, clip)
    return clip


def _fit_clip(path: Path, body: BodyModel, size: int, max_frames: int | None, progress: bool) -> VideoClip:
    """Detects and fits every frame (up to `max_frames`) and keeps the crops of those with a person."""
    margin = ImitatorConfig().crop_margin
    device = body.faces.device
    fitter = VideoFitter(body, device=device)
    frames, poses, cams, crops, masks, plates = [], [], [], [], [], []
    with VideoReader(path) as reader, BlazePoseDetector(video=True, max_side=DETECTION_SIDE) as detector:
        total = reader.info.num_frames if max_frames is None else min(max_frames, reader.info.num_frames or max_frames)
        for number, frame in enumerate(track(reader, f"fitting {path.name}", total=total, enabled=progress)):
            if max_frames is not None and number >= max_frames:
                break
            detection = detector.detect(frame)
            fit = fitter.step(detection)
            if detection is None or fit is None or detection.mask is None:
                continue
            box = CropBox.around(detection.bbox(), margin)
            crop = box.crop(frame, size)
            mask = np.clip(box.crop(detection.mask, size), 0.0, 1.0)
            frames.append(number)
            poses.append(fit.pose.detach().cpu().numpy())
            cams.append(box.camera(fit.cam, size).detach().cpu().numpy())
            crops.append(_encode(crop, ".jpg"))
            masks.append(_encode((mask * 255).round().astype(np.uint8), ".png"))
            plates.append(_encode(remove_person(crop, mask), ".jpg"))
    if len(frames) < 2:
        raise NoPersonError(f"video '{path}' shows a person in {len(frames)} frame(s); video pairs need at least 2")
    return VideoClip(path, size, np.array(frames), np.stack(poses), fitter.shape.detach().cpu().numpy(), np.stack(cams), crops, masks, plates)


def _encode(image: np.ndarray, suffix: str) -> bytes:
    """An RGB or grey uint8 image encoded as JPEG (quality 95) or PNG."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY] if suffix == ".jpg" else []
    ok, encoded = cv2.imencode(suffix, image, params)
    if not ok:
        raise ValueError(f"cannot encode a frame as {suffix}")
    return encoded.tobytes()


def _pack(items: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Byte strings -> one uint8 buffer and `(N + 1,)` offsets."""
    offsets = np.cumsum([0] + [len(b) for b in items])
    return np.frombuffer(b"".join(items), np.uint8), offsets


def _unpack(buffer: np.ndarray, offsets: np.ndarray) -> list[bytes]:
    return [buffer[a:b].tobytes() for a, b in zip(offsets[:-1], offsets[1:])]


def _write_clip(cache: Path, clip: VideoClip) -> None:
    """Writes the clip's cache file atomically (`atomic_path`)."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"frames": clip.frames, "pose": clip.pose, "shape": clip.shape, "cam": clip.cam, "size": np.array(clip.size)}
    for name in ("crops", "masks", "plates"):
        arrays[name], arrays[f"{name}_offsets"] = _pack(getattr(clip, name))
    with atomic_path(cache) as temporary, open(temporary, "wb") as file:
        np.savez(file, **arrays)


def _read_clip(cache: Path, path: Path, size: int) -> VideoClip:
    with np.load(cache) as data:
        if int(data["size"]) != size:
            raise ValueError("cache of another size")
        packed = {name: _unpack(data[name], data[f"{name}_offsets"]) for name in ("crops", "masks", "plates")}
        return VideoClip(path, size, data["frames"], data["pose"], data["shape"], data["cam"], **packed)


def load_videos(
    folder: Path, body: BodyModel, size: int, cache_dir: Path, max_frames: int | None = None, progress: bool = False
) -> list[VideoClip]:
    """The clips of every video in `folder` (sorted by name); InputError when it has none."""
    return [prepare_video(p, body, size, cache_dir, max_frames, progress) for p in video_files(folder)]


def video_files(folder: Path) -> list[Path]:
    """The videos in `folder`, sorted by name; InputError when there is none (or no folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"video folder '{folder}' does not exist")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and is_video_path(p))
    if not paths:
        raise InputError(f"no videos in '{folder}' (looked for {', '.join(sorted(VIDEO_EXTENSIONS))})")
    return paths


class VideoPairs:
    """Pairs of two frames of one person, deterministic by `(seed, index)`.

    The person's meshes are those the pipeline makes of a subject: the body clothed
    (`mimic.pipeline.clothing.fit_clothes`) to the person mask of the clip's first frame, as
    `mimic video` clothes a subject to its photo, so a generator learns on the silhouettes it is
    shown at run time (hair and loose clothes inside the mesh, not beside it).

    Args:
        body: the body model the clips were fitted with (pairs are built on its device).
        clips: the prepared videos. size: canvas side (the clips'). seed: the data seed.
        clothes: the clothes fit's settings; None: the naked body.
    """

    def __init__(
        self, body: BodyModel, clips: Sequence[VideoClip], size: int, seed: int = 0, clothes: ClothesConfig | None = ClothesConfig()
    ) -> None:
        if not clips:
            raise ValueError("VideoPairs needs at least one clip")
        if any(c.size != size for c in clips):
            raise ValueError(f"every clip must be prepared at size {size}")
        self.body = body
        self.clips = list(clips)
        self.seed = seed
        self.clothes = clothes
        self.maker = PairMaker(body, size)
        self._subjects: dict[int, BodyModel] = {}

    def subject(self, index: int) -> BodyModel:
        """The body of clip `index`'s person (made at first use): clothed to its first frame."""
        if index not in self._subjects:
            body, clip = self.body, self.clips[index]
            if self.clothes is not None:
                device = body.faces.device
                mask = torch.from_numpy(clip.frame(0)[1]).to(device)[None]
                shape = torch.from_numpy(clip.shape).to(device)
                body = fit_clothes(body, shape, torch.from_numpy(clip.pose[:1]).to(device), torch.from_numpy(clip.cam[:1]).to(device), mask, self.clothes)
            self._subjects[index] = body
        return self._subjects[index]

    def pair(self, index: int, sources: int = 1) -> PairBatch:
        """Pair number `index` (a batch of one): a random video, two different random frames;
        with `sources` > 1, `sources - 1` more frames of the clip as extra sources of the same
        target (other frames than those two while the clip has them; the first source and the
        target are those of `sources=1`)."""
        gen = pair_generator(self.seed, index, stream=2)
        number = int(torch.randint(len(self.clips), (1,), generator=gen))
        clip = self.clips[number]
        order = torch.randperm(len(clip), generator=gen).tolist()
        first, second = order[:2]
        extra = [order[2 + k] if 2 + k < len(order) else first for k in range(sources - 1)]
        frames = [first, second, *extra]
        device = self.body.faces.device
        pose = torch.from_numpy(clip.pose[frames]).to(device)
        shape = torch.from_numpy(clip.shape).to(device)[None].expand(len(frames), -1)
        cam = torch.from_numpy(clip.cam[frames]).to(device)
        with torch.no_grad():
            output = self.subject(number).forward(pose, shape)
        verts, keypoints = mesh_to_image(output.vertices, output.keypoints, cam)
        views = [clip.frame(f) for f in frames]
        images = torch.cat([to_tensor(image, device) for image, _, _ in views])
        masks = torch.from_numpy(np.stack([mask for _, mask, _ in views])).to(device)[:, None]
        extras = {} if sources == 1 else {"extra_verts": verts[None, 2:], "extra_images": images[None, 2:], "extra_masks": masks[None, 2:]}
        return self.maker.pair(
            verts[:1], verts[1:2], images[:1], images[1:2], to_tensor(views[1][2], device),
            keypoints[:1], keypoints[1:2], masks[:1], masks[1:2], **extras,
        )


def read_images(folder: Path) -> list[np.ndarray]:
    """Every image of `folder` (sorted by name), shrunk to a longest side of 512; InputError when none."""
    paths = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise InputError(f"no images in '{folder}' (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    images = []
    for path in paths:
        image = read_image(path)
        scale = _MAX_IMAGE_SIDE / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        images.append(image)
    return images


def pair_batches(options: DataOptions, rank: int = 0, world: int = 1) -> Iterator[PairBatch]:
    """The PairBatch stream of `mimic train` (the registry's default data factory).

    Pair `n` (`shard_indices` of this rank) is synthetic with chance `options.synthetic_fraction`
    (always without videos), else a video pair; deterministic by `options.seed`. With
    `options.pool`, the first that many pairs of that stream are made once into a pool on disk
    (`mimic.training.pair_pool`, reused by later runs) and batches are drawn from it. Under an
    initialised process group, rank 0 prepares (and caches) the videos and the pool while the
    others wait, then they read its cache.
    """
    import torch.distributed as dist

    if not options.pool:
        return _made_batches(options, rank, world)
    folder = pool_folder(options, options.pool, resolve_cache_dir(options.cache_dir) / "pair_pools")
    distributed = dist.is_available() and dist.is_initialized()
    if distributed and rank != 0:
        dist.barrier()
    if not folder.is_dir() and rank == 0:
        made = _made_batches(replace(options, batch_size=1, start=0, pool=0), 0, 1)
        build_pool(made, options.pool, folder, options.progress)
    if distributed and rank == 0:
        dist.barrier()
    return pool_batches(PairPool(folder), options, rank, world)


def _made_batches(options: DataOptions, rank: int, world: int) -> Iterator[PairBatch]:
    """`pair_batches` without a pool: every pair made when it is drawn."""
    import torch.distributed as dist

    from mimic.pipeline.body import load_body_model

    body = load_body_model(options.body_model, None, options.cache_dir)
    images = read_images(options.images) if options.images is not None else []
    synthetic = SyntheticPairs(body, SyntheticConfig(size=options.size), options.seed, images)
    videos = None
    if options.videos is not None:
        cache = resolve_cache_dir(options.cache_dir) / "video_pairs"
        distributed = dist.is_available() and dist.is_initialized()
        if distributed and rank != 0:
            dist.barrier()
        clips = load_videos(options.videos, body, options.size, cache, options.max_video_frames, options.progress and rank == 0)
        if distributed and rank == 0:
            dist.barrier()
        videos = VideoPairs(body, clips, options.size, options.seed)
    return mixed_batches(synthetic, videos, options, rank, world)


def mixed_batches(
    synthetic: SyntheticPairs, videos: VideoPairs | None, options: DataOptions, rank: int = 0, world: int = 1
) -> Iterator[PairBatch]:
    """Endless batches of `options.batch_size` pairs of this rank's shard from batch
    `options.start` on; pair `n` is synthetic with chance `options.synthetic_fraction` (always
    when `videos` is None), else a video pair; each with `options.sources` sources."""
    fraction = 1.0 if videos is None else options.synthetic_fraction
    batch = options.start
    while True:
        pairs = []
        for n in shard_indices(batch, options.batch_size, rank, world):
            use_synthetic = videos is None or float(torch.rand(1, generator=pair_generator(options.seed, n, stream=3))) < fraction
            pairs.append(synthetic.pair(n, options.sources) if use_synthetic else videos.pair(n, options.sources))
        yield collate_pairs(pairs)
        batch += 1
