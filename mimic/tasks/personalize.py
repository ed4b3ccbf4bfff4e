"""Few-shot personalization: a trained generator (the LWGAN, PG2 or PATN) fine-tuned on the
subject's own photo(s) in seconds.

A photo alone gives no second view of the subject, so the pairs are made through the fitted
mesh: the mesh is re-posed slightly (a random pose offset, a small turn), the photo is
rendered onto the re-posed mesh through the transformation flow (what the photo does not see
there is filled from the subject's UV texture), and the network learns to rebuild the real
photo from that pseudo-source: the flow back from the photo's mesh to the re-posed one, its
visibility and the correspondence maps are exact. The pseudo-source is a degraded, re-posed
view of the subject; rebuilding the sharp photo from it teaches the network this subject's
face, clothes and colours, exactly what imitation asks of it. Augmentations on top: a small
random similarity (scale, rotation, shift) on each side and, rarely, a mirror flip (the mesh
mirrored with its left/right vertex twins, so the correspondences stay right).

Every personalizable model is fine-tuned by the same loop: its own training step on the pseudo
pairs, with the config overrides of its `mimic.registry.Personalization` that make it
reconstruction only (no adversarial or feature-matching term, no discriminator step; the LWGAN
keeps L1, SSIM, the mask regulariser, source and background reconstruction; PG2 its pose-mask
L1s; PATN L1 and SSIM), bounded by a number of steps and a time budget. The 2D baselines see
the pairs resized to their canvas. SPT is not personalizable (`mimic.networks.spt` says why). The
result is a `.mimic` subject file (`mimic.training.subject_file`), cached under the cache folder by the
generator, the photos' bytes, the base weights and the settings.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bodymesh.body_model import rest_vertices
from bodymesh.camera import mesh_to_image
from bodymesh.keypoints import FLIP_PERMUTATION
from bodymesh.synthetic import random_pose
from mimic import registry
from mimic.core.bundles import Generator
from mimic.core.pairs import PairBatch, collate_pairs, resize_pairs
from mimic.core.progress import track
from mimic.core.tensors import to_image, to_tensor
from mimic.core.trainable import Trainable
from mimic.errors import ModelFilesError, OptionError
from mimic.media.images import read_image
from mimic.networks.lwgan import warp_sources
from mimic.pipeline.background import remove_person
from mimic.pipeline.imitator import Imitator, Subject
from mimic.registry import GeneratorOptions, load_generator
from mimic.training.subject_file import SUBJECT_SUFFIX, save_subject, weights_hash
from mimic.training.synthetic_pairs import PairMaker
from warping.correspondence import uv_map
from warping.flow import transfer_flow
from warping.raster import rasterize
from warping.texture import mirror_vertex_map, sample_texture

__all__ = ["PersonalizeConfig", "pseudo_pairs", "personalizing_model", "fine_tune", "personalize", "subject_key", "cache_path",
           "personalized_generator"]


@dataclass
class PersonalizeConfig:
    """How to personalize.

    steps: at most this many Adam steps. seconds: time budget of the whole personalization
    (making pairs and fine-tuning; the steps stop when it runs out). pairs: pseudo pairs made
    from the photos. batch: pairs per step. lr: Adam's learning rate.
    pose_spread: radians of the random pose offset of the freest joints (`random_pose`);
    max_yaw: radians of the random turn. flip: probability of a mirrored pair. scale, rotate
    (degrees), shift (fraction of the canvas): ranges of the random similarity. seed: of all
    the randomness (same photos, same result).
    """

    steps: int = 60
    seconds: float = 55.0
    pairs: int = 8
    batch: int = 2
    lr: float = 1e-4
    pose_spread: float = 0.15
    max_yaw: float = 0.35
    flip: float = 0.2
    scale: float = 0.08
    rotate: float = 5.0
    shift: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.pairs < 1 or self.batch < 1:
            raise OptionError(f"personalization needs steps, pairs and batch >= 1, got {self.steps}, {self.pairs}, {self.batch}")
        if not self.seconds > 0:
            raise OptionError(f"the personalization budget must be > 0 seconds, got {self.seconds}")

    def key_values(self) -> dict:
        """What the result depends on (the time budget aside)."""
        values = asdict(self)
        values.pop("seconds")
        return values


def _similarity(generator: torch.Generator, config: PersonalizeConfig, size: int) -> torch.Tensor:
    """A random `(2, 3)` map of pixel positions `p -> c + s R (p - c) + t` (c: canvas centre)."""
    r = lambda: float(torch.rand((), generator=generator)) * 2 - 1  # noqa: E731
    scale = 1.0 + config.scale * r()
    angle = math.radians(config.rotate) * r()
    shift = torch.tensor([r(), r()]) * config.shift * size
    linear = scale * torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    centre = torch.full((2,), size / 2.0)
    return torch.cat((linear, (centre - linear @ centre + shift)[:, None]), 1)


def _move_points(points: torch.Tensor, affine: torch.Tensor, depth: bool = False) -> torch.Tensor:
    """Points `(..., C)` whose first two coordinates are `(u, v)` pixels, moved by `affine
    (2, 3)`; with `depth` the third coordinate is a depth and scales with the map, otherwise
    the others (a confidence) are kept."""
    affine = affine.to(points)
    moved = points.clone()
    moved[..., :2] = points[..., :2] @ affine[:, :2].T + affine[:, 2]
    if depth:
        moved[..., 2] = points[..., 2] * torch.det(affine[:, :2]).abs().sqrt()
    return moved


def _move_image(image: torch.Tensor, affine: torch.Tensor, padding: str = "border") -> torch.Tensor:
    """`image (1, C, N, N)` resampled so that its content moves as `affine (2, 3)` moves pixels."""
    size = image.shape[-1]
    linear, offset = affine[:, :2], affine[:, 2]
    inverse = torch.linalg.inv(linear)
    # In normalized coordinates x = 2 p / N - 1 the map is x -> L x + (2 t + (L - I) 1) / N.
    t_norm = (2 * offset + (linear - torch.eye(2)) @ torch.ones(2) * size) / size
    theta = torch.cat((inverse, -(inverse @ t_norm)[:, None]), 1)[None].to(image)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def _mirror(points: torch.Tensor, twins: torch.Tensor, size: int) -> torch.Tensor:
    """Points `(1, P, C)` mirrored left-right on a `size` canvas and re-indexed by `twins (P,)`."""
    mirrored = points.clone()
    mirrored[..., 0] = size - mirrored[..., 0]
    return mirrored[:, twins]


def pseudo_pairs(imitator: Imitator, subject: Subject, config: PersonalizeConfig) -> PairBatch:
    """`config.pairs` training pairs from the subject's photos (see the module docstring):
    target = a photo (augmented), source = that photo rendered onto the re-posed mesh."""
    body, bundle, size = imitator.body, subject.bundle, imitator.config.size
    device = bundle.images.device
    faces = body.faces
    generator = torch.Generator().manual_seed(config.seed)
    plates = [bundle.background] + [
        to_tensor(remove_person(to_image(bundle.images[s : s + 1]), bundle.masks[s, 0].cpu().numpy()), device)
        for s in range(1, bundle.images.shape[0])
    ]
    maker = PairMaker(body, size)
    twins = mirror_vertex_map(rest_vertices(body)) if config.flip > 0 else None
    pairs = []
    for index in range(config.pairs):
        s = index % bundle.images.shape[0]
        fit = subject.fits[s]
        photo, mask, plate = bundle.images[s : s + 1], bundle.masks[s : s + 1], plates[s]
        verts_t, keypoints_t = bundle.verts[s : s + 1], bundle.keypoints[s : s + 1]
        # The pseudo-source's mesh: the fit re-posed and turned a little, seen a little differently.
        offset = random_pose(body, 1, generator, spread=config.pose_spread, max_yaw=config.max_yaw)
        with torch.no_grad():
            output = subject.body.forward(fit.pose[None] + offset.to(fit.pose), subject.shape[None])
        verts_p, keypoints_p = mesh_to_image(output.vertices, output.keypoints, fit.cam[None])
        moved = _similarity(generator, config, size)
        verts_p, keypoints_p = _move_points(verts_p, moved, depth=True), _move_points(keypoints_p, moved)
        # The target: the photo, mirrored sometimes, moved a little.
        if twins is not None and float(torch.rand((), generator=generator)) < config.flip:
            photo, mask, plate = photo.flip(-1), mask.flip(-1), plate.flip(-1)
            verts_t = _mirror(verts_t, twins, size)
            keypoints_t = _mirror(keypoints_t, torch.tensor(FLIP_PERMUTATION), size)
        moved = _similarity(generator, config, size)
        photo, plate = _move_image(photo, moved), _move_image(plate, moved)
        mask = _move_image(mask, moved, padding="zeros")
        verts_t, keypoints_t = _move_points(verts_t, moved, depth=True), _move_points(keypoints_t, moved)

        fragments_t = rasterize(verts_t, faces, size, size)
        fragments_p = rasterize(verts_p, faces, size, size)
        # Render the photo onto the re-posed mesh; what the photo does not see: the UV texture.
        read_flow = transfer_flow(fragments_p, verts_t, fragments_t, faces)
        person_t = (fragments_t.face_id >= 0)[:, None].to(mask.dtype) * (mask >= 0.5).to(mask.dtype)
        warped, read = warp_sources(photo, person_t, read_flow.grid)
        seen = read_flow.visible[:, None].to(warped.dtype) * (read > 1e-3).to(warped.dtype)
        texture = sample_texture(bundle.texture, uv_map(fragments_p, imitator.topology))
        covered_p = (fragments_p.face_id >= 0)[:, None].to(warped.dtype)
        source_image = covered_p * (seen * warped + (1 - seen) * texture) + (1 - covered_p) * plate
        pairs.append(maker.pair(verts_p, verts_t, source_image.clamp(-1, 1), photo, plate, keypoints_p, keypoints_t, target_mask=mask))
    return collate_pairs(pairs)


def personalizing_model(generator: str, checkpoint: Path | None = None, device: torch.device | str = "cpu") -> tuple[Trainable, str]:
    """The model `generator` set up to be personalized: rebuilt from its base's config with its
    reconstruction-only overrides (`mimic.registry.Personalization`), the base's drawing networks
    loaded (the discriminators stay fresh: they take no part). Returns it and the hash of the
    base's drawing networks.

    Args:
        checkpoint: a `mimic train` checkpoint (or run) folder, a subject file (personalized
            further), or None for the weights shipped in mimic/weights/<generator>/.
    Raises:
        OptionError when `generator` cannot be personalized; ModelFilesError when the base is
        missing, unusable or of another generator.
    """
    spec = registry.personalization(generator)
    model = registry.load_model(generator, checkpoint, device, nets=spec.nets, overrides=spec.overrides, inference=False).model
    return model, weights_hash({net: model.nets[net].state_dict() for net in spec.nets})


def fine_tune(model: Trainable, pairs: PairBatch, config: PersonalizeConfig, deadline: float | None = None, progress: bool = False) -> list[float]:
    """Fine-tunes `model` (from `personalizing_model`) in place on `pairs` (at the pipeline's
    canvas; resized to the model's `config.size` where it has one, as the 2D baselines do) with
    Adam at `config.lr`, `config.batch` pairs a step, for `config.steps` steps or until
    `time.perf_counter()` passes `deadline`. Leaves its networks in eval mode; returns the
    reconstruction loss (`Personalization.loss`) of every step made."""
    spec = registry.personalization(model.name)
    pairs = resize_pairs(pairs, getattr(model.config, "size", pairs.size))
    torch.manual_seed(config.seed)
    for optimizer in model.optimizers().values():
        for group in optimizer.param_groups:
            group["lr"] = config.lr
    for net in spec.nets:
        model.nets[net].train()
    order = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    for step in track(range(config.steps), "personalizing", total=config.steps, enabled=progress):
        if deadline is not None and time.perf_counter() > deadline:
            break
        chosen = torch.randperm(len(pairs), generator=order)[: config.batch]
        batch = collate_pairs([pairs[int(i)] for i in chosen])
        losses.append(model.train_step(batch, step)[spec.loss])
    for net in model.nets.values():
        net.eval()
    return losses


def personalize(imitator: Imitator, subject: Subject, model: Trainable, config: PersonalizeConfig | None = None, progress: bool = False) -> dict:
    """Fine-tunes `model` (from `personalizing_model`) to `subject` within `config.seconds`;
    returns what it took (seconds, pair seconds, steps, the loss's name, its first value and
    the mean of its last five)."""
    config = config or PersonalizeConfig()
    start = time.perf_counter()
    pairs = pseudo_pairs(imitator, subject, config)
    made = time.perf_counter()
    losses = fine_tune(model, pairs, config, deadline=start + config.seconds, progress=progress)
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "pair_seconds": round(made - start, 2),
        "steps": len(losses),
        "loss": registry.personalization(model.name).loss,
        "loss_first": round(losses[0], 4) if losses else None,
        "loss_last": round(float(np.mean(losses[-5:])), 4) if losses else None,
    }


def subject_key(generator: str, photos: Sequence[bytes], base: str, size: int, config: PersonalizeConfig, clothed: bool = True) -> str:
    """The cache key of a personalization: the generator, the photos' bytes (in order), the
    base weights' hash, the canvas size, the settings and whether the subject wears its
    clothes (`ImitatorConfig.clothes`)."""
    digest = hashlib.sha256()
    for photo in photos:
        digest.update(hashlib.sha256(photo).digest())
    settings = {"generator": generator, "base": base, "size": size, "config": config.key_values()}
    if clothed:  # the naked body keeps the key of the releases before the clothes
        settings["clothed"] = True
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:24]


def cache_path(cache_dir: Path, generator: str, key: str) -> Path:
    """Where the subject file of `generator` and `key` is cached."""
    return Path(cache_dir) / "subjects" / f"{generator}-{key}{SUBJECT_SUFFIX}"


def _photo_bytes(source: Path | np.ndarray) -> bytes:
    """What a source photo is keyed by: a file's bytes, or an image array's shape and pixels."""
    if isinstance(source, np.ndarray):
        return repr(source.shape).encode() + np.ascontiguousarray(source).tobytes()
    return Path(source).read_bytes()


def personalized_generator(
    imitator: Imitator,
    sources: Sequence[Path | np.ndarray],
    cache_dir: Path,
    checkpoint: Path | None = None,
    config: PersonalizeConfig | None = None,
    progress: bool = False,
    generator: str = "lwgan",
    subject: Subject | None = None,
) -> tuple[Generator, Path, bool]:
    """The `generator` personalized to the person of the `sources` (photo files or `(H, W, 3)`
    uint8 RGB images): from the cache when they were personalized before with the same base
    weights and settings, else made now and cached. `subject`: the sources already prepared
    by `imitator` (saves preparing them again). Returns the pipeline generator (loaded from
    its subject file), that file and whether it came from the cache. OptionError when
    `generator` cannot be personalized."""
    config = config or PersonalizeConfig()
    model, base = personalizing_model(generator, checkpoint, imitator.device)
    clothed = imitator.config.clothes is not None
    key = subject_key(generator, [_photo_bytes(s) for s in sources], base, imitator.config.size, config, clothed)
    path = cache_path(cache_dir, generator, key)
    options = GeneratorOptions(checkpoint=path, device=imitator.device)
    if path.is_file():
        try:
            return load_generator(generator, options), path, True
        except ModelFilesError:  # a damaged (or older mimic's) cache entry: made again below
            pass
    if subject is None:
        subject = imitator.prepare([s if isinstance(s, np.ndarray) else read_image(s) for s in sources])
    info = personalize(imitator, subject, model, config, progress)
    save_subject(path, model, registry.personalization(generator).nets, base, key, info)
    return load_generator(generator, options), path, False
