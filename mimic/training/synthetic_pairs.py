"""Unlimited training pairs with exact correspondences, rendered from the body model: no data set.

Each pair is one random person (shape, procedural outfit, optionally patches cut from given
images) in a random room (procedural, or a crop of a given image), drawn twice by the project's
rasterizer: in a source pose and a target pose (sometimes turned far about the up axis, so the
views differ a lot), each placed in the square canvas as the pipeline's person crops are (the
person 70-85% of the canvas height). The correspondences are those of the meshes themselves.

`PairMaker` turns two posed meshes and their images into a `PairBatch`; video pairs
(`mimic.training.video_pairs`) use it too. Pair `n` of a seed is always the same pair, and the
batches of rank `r` of `world` hold the pairs `n = r, r + world, r + 2 world, ...`
(`shard_indices`), so ranks never share a pair and a resumed run sees the same data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from bodymesh.body_model import BodyModel, rest_vertices
from bodymesh.camera import mesh_to_image
from bodymesh.synthetic import random_pose, random_shape
from mimic.core.pairs import PairBatch, collate_pairs
from mimic.core.tensors import to_tensor
from mimic.pipeline.subject_texture import TextureMaker
from mimic.training.synthetic_person import GARMENTS, procedural_background, procedural_texture, render_person
from warping.correspondence import mesh_maps, uv_map
from warping.flow import transfer_flow
from warping.raster import Fragments
from warping.texture import sample_texture
from warping.topology import MeshTopology

__all__ = ["PairMaker", "SyntheticConfig", "SyntheticPairs", "shard_indices", "pair_generator"]


def shard_indices(batch: int, batch_size: int, rank: int = 0, world: int = 1) -> list[int]:
    """The global pair indices of batch `batch` of rank `rank` of `world`: the ranks' batches
    `batch` together are the pairs `[batch * batch_size * world, (batch + 1) * batch_size * world)`,
    rank `r` taking those `= r (mod world)`."""
    if not 0 <= rank < world:
        raise ValueError(f"rank must be in [0, {world}), got {rank}")
    first = batch * batch_size
    return [rank + world * (first + k) for k in range(batch_size)]


def pair_generator(seed: int, index: int, stream: int = 0) -> torch.Generator:
    """A CPU generator seeded from `(seed, stream, index)` (non-negative ints; well mixed:
    neighbouring indices are unrelated). Streams separate what is drawn per pair and per person."""
    state = np.random.SeedSequence([int(seed), int(stream), int(index)]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))


class PairMaker:
    """Builds `PairBatch`es from posed meshes of one body model on a `size` square canvas.

    Args:
        body: the body model (its device is where the pairs are built).
        size: side of the canvas, pixels.
    """

    def __init__(self, body: BodyModel, size: int) -> None:
        self.body = body
        self.size = size
        self.topology = MeshTopology.of(body, rest_vertices(body))
        self.textures = TextureMaker(body, self.topology, size)

    def pair(
        self,
        source_verts: torch.Tensor,
        target_verts: torch.Tensor,
        source_image: torch.Tensor,
        target_image: torch.Tensor,
        background: torch.Tensor,
        source_keypoints: torch.Tensor,
        target_keypoints: torch.Tensor,
        source_mask: torch.Tensor | None = None,
        target_mask: torch.Tensor | None = None,
        extra_verts: torch.Tensor | None = None,
        extra_images: torch.Tensor | None = None,
        extra_masks: torch.Tensor | None = None,
    ) -> PairBatch:
        """The pairs of `B` source and target meshes and images.

        Args:
            source_verts, target_verts: `(B, V, 3)` image-space vertices (canvas pixels).
            source_image, target_image, background: `(B, 3, H, W)` in [-1, 1], `H = W = size`.
            source_keypoints, target_keypoints: `(B, K, 3)` pixels + confidence.
            source_mask, target_mask: `(B, 1, H, W)` person masks in [0, 1]; None: the mesh's
                coverage.
            extra_verts, extra_images, extra_masks: `S'` more sources of each target,
                `(B, S', V, 3)`, `(B, S', 3, H, W)`, `(B, S', 1, H, W)` (masks None: the meshes'
                coverage); None: one source.
        Returns:
            The PairBatch: correspondence and part maps of both meshes, the target-to-source
            grid and the visibility (`warping.flow.transfer_flow`), and the fill: each source's
            texture (unwrapped from its person pixels, filled as the pipeline fills a
            subject's) on the target's body; the extra sources' maps, grids and visibility.
        """
        source_frags, source_corr, source_parts = mesh_maps(source_verts, self.topology, self.size)
        target_frags, target_corr, target_parts = mesh_maps(target_verts, self.topology, self.size)
        flow = transfer_flow(target_frags, source_verts, source_frags, self.topology.faces)
        dtype = source_image.dtype
        if source_mask is None:
            source_mask = (source_frags.face_id >= 0)[:, None].to(dtype)
        if target_mask is None:
            target_mask = (target_frags.face_id >= 0)[:, None].to(dtype)
        fill = self._fill(source_image, source_mask, source_frags, source_verts, target_frags)
        extras = {} if extra_verts is None else self._extra_sources(extra_verts, extra_images, extra_masks, target_frags)
        return PairBatch(
            **extras,
            source_image=source_image, source_mask=source_mask, source_correspondence=source_corr,
            source_parts=source_parts, source_keypoints=source_keypoints.to(dtype),
            target_image=target_image, target_mask=target_mask, target_correspondence=target_corr,
            target_parts=target_parts, target_keypoints=target_keypoints.to(dtype),
            grid=flow.grid.to(dtype), visibility=flow.visible[:, None].to(dtype), fill=fill, background=background,
        )

    def _extra_sources(
        self, verts: torch.Tensor, images: torch.Tensor, masks: torch.Tensor | None, target_frags: Fragments
    ) -> dict[str, torch.Tensor]:
        """The `PairBatch.extra_*` fields of the sources `verts (B, S', V, 3)` of the targets
        `target_frags`, with their `images (B, S', 3, H, W)` and person `masks` (None: coverage)."""
        dtype = images.dtype
        correspondences, grids, visibilities, coverages = [], [], [], []
        for s in range(verts.shape[1]):
            frags, correspondence, _ = mesh_maps(verts[:, s], self.topology, self.size)
            flow = transfer_flow(target_frags, verts[:, s], frags, self.topology.faces)
            correspondences.append(correspondence)
            grids.append(flow.grid.to(dtype))
            visibilities.append(flow.visible[:, None].to(dtype))
            coverages.append((frags.face_id >= 0)[:, None].to(dtype))
        return {
            "extra_source_image": images, "extra_source_mask": torch.stack(coverages, 1) if masks is None else masks,
            "extra_source_correspondence": torch.stack(correspondences, 1), "extra_grid": torch.stack(grids, 1),
            "extra_visibility": torch.stack(visibilities, 1),
        }

    def _fill(
        self, images: torch.Tensor, masks: torch.Tensor, source_frags: Fragments, source_verts: torch.Tensor, target_frags: Fragments
    ) -> torch.Tensor:
        """`(B, 3, H, W)`: each source's filled texture read on its target's body (0 off it)."""
        person = masks * (source_frags.face_id >= 0)[:, None].to(masks.dtype)
        textures = torch.cat([
            self.textures(images[b : b + 1], Fragments(*(t[b : b + 1] for t in source_frags)), source_verts[b : b + 1], person[b : b + 1])
            for b in range(images.shape[0])
        ])
        covered = (target_frags.face_id >= 0)[:, None].to(images.dtype)
        return sample_texture(textures.to(images.dtype), uv_map(target_frags, self.topology)) * covered


@dataclass
class SyntheticConfig:
    """How synthetic pairs are drawn.

    size: canvas side, pixels. texture_size: UV texture side. height: range of the person's
    height as a fraction of the canvas. pose_spread: `random_pose`'s spread, radians. turn:
    chance that the target is turned by any angle about the up axis (otherwise both views are
    within +-60 degrees of frontal). patch: chance, per garment, of a patch cut from the given
    images (when there are any). image_background: chance of a crop of a given image as the
    room (when there are any). shading: the renderer's headlight shading. pairs_per_person:
    consecutive pair numbers that share one person (outfit, shape, room): drawing an outfit
    costs more than a pose, and the video pairs too hold many pairs per person.
    """

    size: int = 256
    texture_size: int = 256
    height: tuple[float, float] = (0.70, 0.85)
    pose_spread: float = 0.4
    turn: float = 0.3
    patch: float = 0.5
    image_background: float = 0.5
    shading: bool = True
    pairs_per_person: int = 4


class SyntheticPairs:
    """Pairs of one random textured person in two poses, deterministic by `(seed, index)`.

    Args:
        body: the body model (with UVs), on the device the pairs are built on.
        config: how pairs are drawn.
        seed: the data seed.
        images: `(H, W, 3)` uint8 RGB images for garment patches and backgrounds (may be empty).
    """

    def __init__(self, body: BodyModel, config: SyntheticConfig | None = None, seed: int = 0, images: Sequence[np.ndarray] = ()) -> None:
        self.body = body
        self.config = config or SyntheticConfig()
        self.seed = seed
        self.images = list(images)
        self.maker = PairMaker(body, self.config.size)
        self._last: tuple[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None

    def pair(self, index: int, sources: int = 1) -> PairBatch:
        """Pair number `index` (a batch of one); with `sources` > 1, the person also drawn
        turned around (its back: about the up axis by 180 +- 60 degrees) in `sources - 1` more poses,
        as the pair's extra sources (the first source and the target are those of `sources=1`)."""
        cfg, body, size = self.config, self.body, self.config.size
        texture, background, shape = self._person(index // cfg.pairs_per_person)
        gen = pair_generator(self.seed, index)
        pose = random_pose(body, 2, gen, spread=cfg.pose_spread)
        if float(torch.rand(1, generator=gen)) < cfg.turn:
            turn = (float(torch.rand(1, generator=gen)) * 2 - 1) * torch.pi
            pose[1, 0] = turn * torch.tensor(body.up_axis, device=pose.device, dtype=pose.dtype)
        shape = shape.expand(2, -1)
        with torch.no_grad():
            output = body.forward(pose, shape)
        cam = torch.stack([self._camera(output.vertices[i], gen) for i in range(2)]).to(output.vertices)
        verts, keypoints = mesh_to_image(output.vertices, output.keypoints, cam)
        rendered = [
            render_person(body, pose[i : i + 1], shape[i : i + 1], cam[i : i + 1], texture, background, size, size, cfg.shading)[0]
            for i in range(2)
        ]
        extras = {}
        if sources > 1:
            back = random_pose(body, sources - 1, gen, spread=cfg.pose_spread)
            turn = torch.pi * (1.0 + (torch.rand(sources - 1, 1, generator=gen) * 2 - 1) / 3)  # 180 +- 60 degrees
            back[:, 0] = turn.to(back) * torch.tensor(body.up_axis, device=back.device, dtype=back.dtype)
            with torch.no_grad():
                back_output = body.forward(back, shape[:1].expand(sources - 1, -1))
            back_cam = torch.stack([self._camera(v, gen) for v in back_output.vertices]).to(back_output.vertices)
            back_verts = mesh_to_image(back_output.vertices, back_output.keypoints, back_cam)[0]
            back_images = [
                render_person(body, back[i : i + 1], shape[:1], back_cam[i : i + 1], texture, background, size, size, cfg.shading)[0]
                for i in range(sources - 1)
            ]
            extras = {"extra_verts": back_verts[None], "extra_images": torch.cat(back_images)[None]}
        return self.maker.pair(verts[:1], verts[1:], rendered[0], rendered[1], background, keypoints[:1], keypoints[1:], **extras)

    def _person(self, person: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Texture `(1, 3, T, T)`, room `(1, 3, size, size)` and shape `(1, S)` of person number
        `person` (the last one is kept: consecutive pairs of a rank often share it)."""
        if self._last is not None and self._last[0] == person:
            return self._last[1]
        gen = pair_generator(self.seed, person, stream=1)
        texture, labels = procedural_texture(self.body, self.config.texture_size, int(torch.randint(2**31 - 1, (1,), generator=gen)), return_labels=True)
        if self.images:
            texture = self._patches(texture, labels, gen)
        drawn = texture, self._background(gen).to(texture.device), random_shape(self.body, 1, gen)
        self._last = (person, drawn)
        return drawn

    def batches(self, batch_size: int, rank: int = 0, world: int = 1, start: int = 0) -> Iterator[PairBatch]:
        """Endless batches of `batch_size` pairs of this rank's shard, from batch `start` on."""
        batch = start
        while True:
            yield collate_pairs([self.pair(n) for n in shard_indices(batch, batch_size, rank, world)])
            batch += 1

    def _camera(self, vertices: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """`(3,)` camera placing `vertices (V, 3)` (metres) in the canvas: height a random share
        of it (narrowed when the pose is wide), centre jittered within the free room."""
        size = self.config.size
        low_h, high_h = self.config.height
        low, high = vertices[:, :2].amin(0), vertices[:, :2].amax(0)
        extent = (high - low).clamp(min=1e-3)
        share = low_h + (high_h - low_h) * float(torch.rand(1, generator=gen))
        scale = min(share * size / float(extent[1]), 0.95 * size / float(extent[0]))
        room = (size - scale * extent.cpu()).clamp(min=0) / 2
        jitter = (torch.rand(2, generator=gen) * 2 - 1) * room * 0.8
        centre = (low + high).cpu() / 2
        tx = size / 2 - scale * float(centre[0]) + float(jitter[0])
        ty = size / 2 + scale * float(centre[1]) + float(jitter[1])
        return torch.tensor([scale, tx, ty])

    def _background(self, gen: torch.Generator) -> torch.Tensor:
        """`(1, 3, size, size)` in [-1, 1]: a procedural room or a crop of a given image."""
        size = self.config.size
        if self.images and float(torch.rand(1, generator=gen)) < self.config.image_background:
            return to_tensor(_random_crop(self.images, size, size, gen, square=True), "cpu")
        return procedural_background(size, size, seed=int(torch.randint(2**31 - 1, (1,), generator=gen)))

    def _patches(self, texture: torch.Tensor, labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """`texture (1, 3, T, T)` with image crops pasted into the shirt and trousers regions of
        `labels (1, T, T)`, each garment with chance `config.patch`, a rectangle of 15-45% of T
        around a random texel of the garment."""
        side = texture.shape[-1]
        texture = texture.clone()
        for garment in ("shirt", "trousers"):
            region = labels[0] == GARMENTS.index(garment)
            if float(torch.rand(1, generator=gen)) >= self.config.patch or not bool(region.any()):
                continue
            texels = region.nonzero()
            row, col = texels[int(torch.randint(len(texels), (1,), generator=gen))].tolist()
            h, w = (int(side * (0.15 + 0.3 * float(torch.rand(1, generator=gen)))) for _ in range(2))
            top, left = max(0, row - h // 2), max(0, col - w // 2)
            h, w = min(h, side - top), min(w, side - left)
            patch = to_tensor(_random_crop(self.images, h, w, gen), texture.device)
            inside = region[top : top + h, left : left + w]
            window = texture[:, :, top : top + h, left : left + w]
            texture[:, :, top : top + h, left : left + w] = torch.where(inside, patch, window)
        return texture


def _random_crop(images: Sequence[np.ndarray], height: int, width: int, gen: torch.Generator, square: bool = False) -> np.ndarray:
    """A random window (30-100% of the shorter side; the output's aspect ratio) of a random image
    of `images`, resized to `(height, width, 3)` uint8."""
    image = images[int(torch.randint(len(images), (1,), generator=gen))]
    rows, cols = image.shape[:2]
    side = min(rows, cols) * (0.3 + 0.7 * float(torch.rand(1, generator=gen)))
    crop_h = side if square else side * min(1.0, height / width)
    crop_w = side if square else side * min(1.0, width / height)
    top = float(torch.rand(1, generator=gen)) * (rows - crop_h)
    left = float(torch.rand(1, generator=gen)) * (cols - crop_w)
    window = image[int(top) : int(top + crop_h) + 1, int(left) : int(left + crop_w) + 1]
    return cv2.resize(window, (width, height), interpolation=cv2.INTER_AREA)
