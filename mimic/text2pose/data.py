"""Training data of text-to-pose: poses, their keypoints in a 64 x 64 frame, heatmaps and
automatic captions embedded by the sentence model, clause by clause (`pose_text`).

Poses come from the body model (`bodymesh.synthetic.random_pose` plus gestures: arms raised,
stretched out or down, legs lifted, knees bent, squats, bends and leans, which small random
joint rotations alone never reach) and from the project's own fits of videos (`mimic fit`
writes `fit.npz`). Every pose is seen by an orthographic camera, its keypoints are fitted into
the frame (`normalize_keypoints`) and described by `captioner.caption`.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from bodymesh.body_model import BodyModel, zero_pose, zero_shape
from bodymesh.heatmaps import keypoints_to_heatmaps
from bodymesh.synthetic import random_pose, random_shape
from mimic.core.paths import resolve_cache_dir
from mimic.errors import InputError
from mimic.media.files import atomic_path
from mimic.text2pose.captioner import Caption, caption, pose_facts
from mimic.text2pose.fact_loss import fact_mask
from mimic.text2pose.pose_text import embed_pose_texts

if TYPE_CHECKING:
    from mimic.text2pose.text_encoder import SentenceEncoder
    from mimic.training.data_options import DataOptions

FRAME = 64  # side of the heatmap frame, pixels
PERSON_SIZE = 52.0  # the longer side of the person's keypoint box in the frame, pixels
SIGMA = 2.0  # heatmap Gaussian, pixels (as in the paper)


def normalize_keypoints(points: torch.Tensor, frame: int = FRAME, person_size: float = PERSON_SIZE) -> torch.Tensor:
    """Keypoints scaled and moved so their box's longer side is `person_size` and its centre
    the frame's centre (aspect kept).

    Args:
        points: `(B, K, 2)` positions (pixels or any unit), y down.
    Returns:
        `(B, K, 3)` pixels in the `frame x frame` square + confidence 1.
    """
    low, high = points.amin(1), points.amax(1)
    scale = person_size / (high - low).amax(-1).clamp(min=1e-6)
    centred = (points - (low + high)[:, None] / 2) * scale[:, None, None] + frame / 2
    return torch.cat((centred, torch.ones_like(centred[..., :1])), -1)


def image_keypoints(model_keypoints: torch.Tensor) -> torch.Tensor:
    """`(B, K, 3)` model-frame keypoints (metres, y up) seen by an orthographic camera ->
    `(B, K, 3)` in the heatmap frame (`normalize_keypoints`)."""
    return normalize_keypoints(model_keypoints[..., :2] * model_keypoints.new_tensor([1.0, -1.0]))


def _rotation_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`(B, 3)` axis-angle of the smallest rotation turning unit vectors `a (B, 3)` into `b (B, 3)`."""
    axis = torch.cross(a, b, dim=-1)
    sin, cos = axis.norm(dim=-1, keepdim=True), (a * b).sum(-1, keepdim=True)
    return axis / sin.clamp(min=1e-8) * torch.atan2(sin, cos)


class Gestures:
    """Poses of a body model set by world-space rotations of its limbs at rest.

    A joint's pose parameter is an axis-angle in its own frame; `world_axes` measures once, by
    finite differences on the mesh, how a unit rotation about each of its axes turns the body
    part in the model frame (x: the person's left, y up, z forward), so a limb can be pointed in
    a direction given in the model frame.
    """

    ARM_JOINTS = {"left": "upperarm01.L", "right": "upperarm01.R"}
    FOREARM_JOINTS = {"left": "lowerarm01.L", "right": "lowerarm01.R"}
    THIGH_JOINTS = {"left": "upperleg01.L", "right": "upperleg01.R"}
    SHIN_JOINTS = {"left": "lowerleg01.L", "right": "lowerleg01.R"}
    SPINE_JOINTS = ("spine05", "spine03", "spine01")
    ELBOW_KEYPOINTS = {"left": "left_elbow", "right": "right_elbow"}
    SHOULDER_KEYPOINTS = {"left": "left_shoulder", "right": "right_shoulder"}

    def __init__(self, model: BodyModel) -> None:
        missing = [j for j in (*self.ARM_JOINTS.values(), *self.THIGH_JOINTS.values(), *self.SPINE_JOINTS) if j not in model.joint_names]
        if missing:
            raise InputError(f"body model {model.name} has no joints {', '.join(missing)}; gestures need the Anny skeleton")
        self.model = model
        self.index = {name: i for i, name in enumerate(model.joint_names)}
        self.world = {name: self._world_axes(name) for name in (*self.ARM_JOINTS.values(), *self.THIGH_JOINTS.values(), *self.SPINE_JOINTS)}
        from bodymesh.keypoints import KEYPOINT_INDEX

        with torch.no_grad():
            rest = model.keypoints(zero_pose(model, device=model.faces.device), zero_shape(model, device=model.faces.device))[0]
        self.rest_arm = {
            s: torch.nn.functional.normalize(rest[KEYPOINT_INDEX[self.ELBOW_KEYPOINTS[s]]] - rest[KEYPOINT_INDEX[self.SHOULDER_KEYPOINTS[s]]], dim=0)
            for s in ("left", "right")
        }

    def _world_axes(self, joint: str, step: float = 1e-2) -> torch.Tensor:
        """`(3, 3)` rotation M with world axis-angle = M @ local axis-angle."""
        model, device = self.model, self.model.faces.device
        with torch.no_grad():
            base = model.forward(zero_pose(model, 4, device), zero_shape(model, 4, device))
            pose = zero_pose(model, 4, device)
            for axis in range(3):
                pose[axis + 1, self.index[joint], axis] = step
            moved = model.forward(pose, zero_shape(model, 4, device)).vertices
        rest = base.vertices[0]
        centre = base.joints[0, self.index[joint]]
        columns = []
        for axis in range(3):
            delta = (moved[axis + 1] - rest) / step  # = omega x (v - centre) on the moving part
            arm = rest - centre
            keep = delta.norm(dim=-1) > 1e-3 * delta.norm(dim=-1).max()
            # omega x r = -[r]x omega: stack the skew matrices and solve by least squares
            r = arm[keep]
            skew = torch.zeros(len(r), 3, 3, device=device)
            skew[:, 0, 1], skew[:, 0, 2], skew[:, 1, 2] = r[:, 2], -r[:, 1], r[:, 0]
            skew = skew - skew.transpose(1, 2)
            columns.append(torch.linalg.lstsq(skew.reshape(-1, 3).double(), delta[keep].reshape(-1).double()).solution.float())
        # skinning blends the part near the joint, so small steps underestimate the angle: the
        # nearest rotation (polar decomposition) is the map
        u, _, vt = torch.linalg.svd(torch.stack(columns, 1))
        return u @ vt

    def local(self, joint: str, world_rotvec: torch.Tensor) -> torch.Tensor:
        """`(B, 3)` pose parameters of `joint` for world-space axis-angles `(B, 3)`."""
        return torch.linalg.solve(self.world[joint], world_rotvec.T).T

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """`(batch, J, 3)` poses: `random_pose` (small spread) with gestures of the arms, legs
        and spine, and the body turned about its up axis (mostly towards the camera)."""
        model = self.model
        device = model.faces.device

        def uniform(low: float, high: float, n: int = batch) -> torch.Tensor:
            return (low + (high - low) * torch.rand(n, generator=generator)).to(device)

        def mixture(options: Sequence[tuple[float, float, float]]) -> torch.Tensor:
            """One draw per row from weighted uniform ranges `(weight, low, high)`."""
            weights = torch.tensor([o[0] for o in options])
            pick = torch.multinomial(weights, batch, replacement=True, generator=generator)
            draws = torch.stack([uniform(low, high) for _, low, high in options], 1)
            return draws.gather(1, pick.to(device)[:, None])[:, 0]

        pose = random_pose(model, batch, generator, spread=0.15, max_yaw=0.0)
        squat = torch.rand(batch, generator=generator).to(device) < 0.12
        # Both arms alike in most poses: hanging down, out to the sides (in the body's plane,
        # elbows straight) and straight up are the commonest poses people describe, and each
        # needs both arms to agree.
        symmetric = torch.rand(batch, generator=generator).to(device) < 0.6
        elevation_both = mixture(((0.35, 0.0, 0.4), (0.35, 1.45, 1.7), (0.3, 2.5, 3.05)))
        plane_both = mixture(((0.75, -0.15, 0.2), (0.25, 0.2, 1.2)))
        straight_both = torch.rand(batch, generator=generator).to(device) < 0.7
        for side, sign in (("left", 1.0), ("right", -1.0)):
            # upper arm: elevation from hanging down (0) to straight up (pi), in a plane between
            # the sides (0) and the front (pi / 2)
            elevation = torch.where(symmetric, elevation_both, mixture(((0.35, 0.0, 0.7), (0.3, 1.2, 1.9), (0.35, 2.2, 3.05))))
            plane = torch.where(symmetric, plane_both, mixture(((0.7, -0.3, 0.6), (0.3, 0.6, 1.5))))
            target = torch.stack((sign * elevation.sin() * plane.cos(), -elevation.cos(), elevation.sin() * plane.sin()), -1)
            rest = self.rest_arm[side].expand(batch, -1)
            joint = self.ARM_JOINTS[side]
            pose[:, self.index[joint]] = self.local(joint, _rotation_between(rest, target))
            # elbow: a hinge (first axis of the joint's limit frame); straight on both sides
            # where both arms are alike and straight
            bend = torch.where(symmetric & straight_both, uniform(0.0, 0.15), mixture(((0.7, 0.0, 0.3), (0.3, 0.3, 2.0))))
            self._hinge(pose, self.FOREARM_JOINTS[side], bend)
            # thigh forward (flexion) and outward; knee bend
            flexion = torch.where(squat, uniform(1.3, 1.9), mixture(((0.7, -0.3, 0.35), (0.3, 0.35, 1.7))))
            outward = mixture(((0.7, -0.1, 0.15), (0.3, 0.15, 0.6)))
            joint = self.THIGH_JOINTS[side]
            rotvec = torch.stack((-flexion, torch.zeros_like(flexion), sign * outward), -1)
            pose[:, self.index[joint]] = self.local(joint, rotvec)
            knee = torch.where(squat, uniform(1.7, 2.4), mixture(((0.55, 0.0, 0.3), (0.45, 0.3, 2.0))))
            self._hinge(pose, self.SHIN_JOINTS[side], knee)
        # spine: forward bend and sideways lean, spread over its three joints
        forward = mixture(((0.55, -0.2, 0.25), (0.45, 0.45, 1.6)))
        sideways = mixture(((0.6, -0.1, 0.1), (0.2, 0.3, 0.7), (0.2, -0.7, -0.3)))
        for joint in self.SPINE_JOINTS:
            rotvec = torch.stack((forward, torch.zeros_like(forward), sideways), -1) / len(self.SPINE_JOINTS)
            pose[:, self.index[joint]] = self.local(joint, rotvec)
        # the body turned: mostly towards the camera, sometimes in profile or from behind
        yaw = mixture(((0.6, -0.6, 0.6), (0.3, -1.7, 1.7), (0.1, math.pi - 0.6, math.pi + 0.6)))
        pose[:, 0] = yaw[:, None] * torch.tensor(model.up_axis, device=device)
        return pose

    def _hinge(self, pose: torch.Tensor, joint: str, angle: torch.Tensor) -> None:
        """Sets `joint` of `pose (B, J, 3)` to a rotation of `angle (B,)` about its hinge axis."""
        prior = self.model.pose_prior
        index = self.index[joint]
        components = torch.stack((angle, torch.zeros_like(angle), torch.zeros_like(angle)), -1)
        pose[:, index] = components if prior.frames is None else components @ prior.frames[index]


def fitted_poses(paths: Sequence[Path], model: BodyModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Poses `(N, J, 3)` and shapes `(N, S)` of the frames with a person in `mimic fit` outputs
    (`fit.npz` files) of `model`; InputError for a file of another body model."""
    poses, shapes = [], []
    for path in paths:
        data = np.load(path)
        if str(data["body_model"]) != model.name or data["pose"].shape[1] != len(model.joint_names):
            raise InputError(f"{path} holds {data['body_model']} fits; text2pose trains on {model.name} poses")
        found = data["found"].astype(bool)
        poses.append(torch.from_numpy(data["pose"][found]).float())
        shapes.append(torch.from_numpy(data["shape"]).float().expand(int(found.sum()), -1))
    if not poses:
        return torch.zeros(0, len(model.joint_names), 3), torch.zeros(0, model.num_shape)
    return torch.cat(poses), torch.cat(shapes)


@dataclass
class PoseTextBatch:
    """A batch of text-to-pose examples.

    heatmaps: `(B, K, 64, 64)` in [-1, 1] (the generator's range; -1 where no keypoint).
    text: `(B, 384)` embedding of each pose's caption. wrong_text: `(B, 384)` a caption of
    another pose (the mismatching text). other_text: `(B, 384)` a third caption, for the
    generator's text interpolation. facts: `(B, F)` bool, the facts (`captioner.FACTS`) each
    caption states (`fact_loss.fact_mask`), or None when unknown.
    """

    heatmaps: torch.Tensor
    text: torch.Tensor
    wrong_text: torch.Tensor
    other_text: torch.Tensor
    facts: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "PoseTextBatch":
        """The same batch with every tensor on `device`."""
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return PoseTextBatch(**{name: None if value is None else value.to(device) for name, value in moved.items()})

    def __len__(self) -> int:
        return self.heatmaps.shape[0]


@dataclass
class PoseTextSet:
    """Captioned poses: `keypoints (N, K, 3)` in the heatmap frame, `captions` (several per
    pose) and their embeddings `embeddings (N, C, 384)`."""

    keypoints: torch.Tensor
    captions: list[list[Caption]]
    embeddings: torch.Tensor

    def __len__(self) -> int:
        return self.keypoints.shape[0]

    def batch(self, indices: torch.Tensor, generator: torch.Generator, captions: torch.Tensor | None = None) -> PoseTextBatch:
        """The examples at pose `indices (B,)`, each with its caption `captions (B,)` (None:
        one of its captions at random) and the facts it states; the wrong and interpolation
        texts are captions of other poses drawn at random."""
        count, per_pose = len(self), self.embeddings.shape[1]
        pick = lambda rows: self.embeddings[rows, torch.randint(per_pose, (len(rows),), generator=generator)]  # noqa: E731
        shift = torch.randint(1, count, (len(indices),), generator=generator)
        other = torch.randint(count, (len(indices),), generator=generator)
        if captions is None:
            captions = torch.randint(per_pose, (len(indices),), generator=generator)
        heatmaps = keypoints_to_heatmaps(self.keypoints[indices], FRAME, FRAME, SIGMA) * 2 - 1
        stated = fact_mask([self.captions[int(i)][int(j)].facts for i, j in zip(indices, captions)])
        return PoseTextBatch(heatmaps, self.embeddings[indices, captions], pick((indices + shift) % count), pick(other), stated)


def caption_weights(captions: Sequence[Sequence[Caption]], cap: float = 10.0) -> torch.Tensor:
    """`(N, C)` sampling weights of captions (`C` per pose) that balance the facts: a caption
    weighs 1 / the number of captions stating its rarest fact, at most `cap` times the median
    weight (a fact stated a handful of times would otherwise fill the batches with those few
    poses). Uniform sampling leaves facts such as arms out to the sides (2.7% of captions)
    and leaning forward (2.5%) some ten times rarer than legs apart (32%), and the model never
    learnt them."""
    stated = Counter(fact for row in captions for c in row for fact in c.facts)
    weights = torch.tensor([[1.0 / min(stated[f] for f in c.facts) for c in row] for row in captions])
    return weights.clamp(max=cap * float(weights.median()))


def captioned_set(
    keypoints: torch.Tensor, encoder: "SentenceEncoder", seed: int, per_pose: int = 3, cache: Path | None = None
) -> PoseTextSet:
    """Captions (`per_pose` each, wording drawn with `seed`) and their embeddings
    (`pose_text.embed_pose_texts`) for keypoints `(N, K, 3)` in the heatmap frame. With a
    `cache` folder the embeddings are kept there in a file named by a hash of the sentences
    (`cached_embeddings`)."""
    rng = random.Random(seed)
    captions = [[caption(pose_facts(k), rng) for _ in range(per_pose)] for k in keypoints]
    flat = [c.text for row in captions for c in row]
    embeddings = cached_embeddings(flat, encoder, cache) if cache is not None else embed_pose_texts(encoder, flat).cpu()
    return PoseTextSet(keypoints, captions, embeddings.reshape(len(keypoints), per_pose, -1))


def cached_embeddings(sentences: list[str], encoder: "SentenceEncoder", cache: Path) -> torch.Tensor:
    """`(N, 384)` embeddings of `sentences` (`pose_text.embed_pose_texts`, on the CPU), read
    from `cache` when this exact list was embedded before, else embedded and written there
    atomically (a file per list, named by the SHA-256 of the sentences)."""
    key = hashlib.sha256("\n".join(sentences).encode("utf-8")).hexdigest()[:24]
    path = cache / f"clause-embeddings-{key}.pt"
    if path.is_file():
        embeddings = torch.load(path, weights_only=True)
        if embeddings.shape[0] == len(sentences):
            return embeddings
    embeddings = embed_pose_texts(encoder, sentences).cpu()
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        torch.save(embeddings, temporary)
    return embeddings


def body_keypoints(model: BodyModel, poses: torch.Tensor, shapes: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """`(N, K, 3)` heatmap-frame keypoints of poses `(N, J, 3)` with shapes `(N, S)`."""
    out = []
    with torch.no_grad():
        for start in range(0, len(poses), chunk):
            out.append(image_keypoints(model.keypoints(poses[start : start + chunk], shapes[start : start + chunk])).cpu())
    return torch.cat(out) if out else torch.zeros(0, 0, 3)


def sampled_keypoints(model: BodyModel, count: int, seed: int) -> torch.Tensor:
    """`(count, K, 3)` heatmap-frame keypoints of `Gestures` poses with random shapes."""
    generator = torch.Generator().manual_seed(seed)
    poses = Gestures(model).sample(count, generator)
    return body_keypoints(model, poses, random_shape(model, count, generator, spread=0.6))


def text_pose_batches(options: "DataOptions", rank: int = 0, world: int = 1, synthetic: int = 4000) -> Iterator[PoseTextBatch]:
    """The training batches of text2pose (the data factory `mimic train --generator text2pose`
    uses): `synthetic` sampled poses plus every frame of the `fit.npz` files under
    `options.videos` (folders written by `mimic fit`), captioned and embedded once (the
    embeddings cached under `options.cache_dir`/text2pose), then endless
    random batches of `options.batch_size`, batch `i` of a rank drawn from a seed of
    `(options.seed, rank, i)` (`pair_generator`) from `options.start` on (a resumed run sees
    the batches it would have seen). `world` is unused: ranks differ by their seed stream."""
    from mimic.core.progress import spinner
    from mimic.pipeline.body import load_body_model
    from mimic.text2pose.text_encoder import shared_encoder
    from mimic.training.synthetic_pairs import pair_generator

    model = load_body_model(options.body_model, None, options.cache_dir, progress=options.progress)
    with spinner("captioning training poses", enabled=options.progress):
        keypoints = [sampled_keypoints(model, synthetic, options.seed)]
        fits = sorted(options.videos.rglob("fit.npz")) if options.videos is not None else []
        if fits:
            poses, shapes = fitted_poses(fits, model)
            keypoints.append(body_keypoints(model, poses, shapes))
        cache = resolve_cache_dir(options.cache_dir) / "text2pose"
        data = captioned_set(torch.cat(keypoints), shared_encoder(), options.seed, cache=cache)
    weights = caption_weights(data.captions).flatten()
    per_pose = data.embeddings.shape[1]
    index = options.start
    while True:
        generator = pair_generator(options.seed, index, stream=rank)
        drawn = torch.multinomial(weights, options.batch_size, replacement=True, generator=generator)
        yield data.batch(drawn // per_pose, generator, drawn % per_pose)
        index += 1
