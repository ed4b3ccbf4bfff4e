"""Synthetic pairs (exact correspondences, determinism, shards) and video pairs (cache)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import torch
from conftest import SHARED_VIDEOS, shared_file

from bodymesh.camera import mesh_to_image
from mimic.core.pairs import PairBatch, collate_pairs, resize_pairs
from mimic.training.data_options import DataOptions
from mimic.training.synthetic_pairs import SyntheticConfig, SyntheticPairs, shard_indices
from mimic.training.video_pairs import VideoPairs, mixed_batches, pair_batches, prepare_video
from warping.correspondence import mesh_maps
from warping.sampler import warp

SIZE = 64


def _same(a: PairBatch, b: PairBatch) -> bool:
    mine, theirs = a.tensors(), b.tensors()
    return mine.keys() == theirs.keys() and all(torch.equal(mine[name], theirs[name]) for name in mine)


def _extra_view(pair: PairBatch, s: int = 0) -> PairBatch:
    """The pair with its extra source `s` as its only source."""
    return replace(
        pair.first_source(), source_image=pair.extra_source_image[:, s], source_mask=pair.extra_source_mask[:, s],
        source_correspondence=pair.extra_source_correspondence[:, s], grid=pair.extra_grid[:, s], visibility=pair.extra_visibility[:, s],
    )


def _warp_error(pair: PairBatch) -> torch.Tensor:
    """`(N,)` per visible target pixel: mean absolute RGB difference between the target and the
    source warped by the grid, away from the source silhouette (bilinear mixing there)."""
    warped = warp(pair.source_image, pair.grid)
    inside = warp(pair.source_mask, pair.grid) > 0.999
    keep = (pair.visibility[:, 0] > 0) & inside[:, 0]
    return (warped - pair.target_image).abs().mean(1)[keep]


def test_synthetic_pairs_have_exact_correspondences(anny_body):
    """Warping the source by the grid gives the target on visible pixels. A texture coarse for the
    canvas (32 texels for 128 pixels) keeps resampling error out: what is left is the flow's."""
    flat = SyntheticPairs(anny_body, SyntheticConfig(size=128, texture_size=32, shading=False), seed=3)
    errors = torch.cat([_warp_error(flat.pair(n)) for n in range(3)])
    assert len(errors) > 1000
    quantiles = errors.quantile(torch.tensor([0.5, 0.9]))
    assert float(quantiles[0]) < 0.01 and float(quantiles[1]) < 0.06, quantiles  # of a [-1, 1] range
    shaded = SyntheticPairs(anny_body, SyntheticConfig(size=128, texture_size=32), seed=3).pair(0)
    assert float(_warp_error(shaded).median()) < 0.1  # the headlight changes with the pose


def test_fill_is_the_source_texture_on_the_target_body(anny_body):
    """The fill shows the target's colours where the source sees them (the texture was unwrapped
    from the source), something filled on the body the source does not see, nothing off it."""
    pair = SyntheticPairs(anny_body, SyntheticConfig(size=128, texture_size=32, shading=False), seed=3).pair(0)
    body = pair.target_parts >= 0
    assert float(pair.fill[:, :, ~body[0]].abs().max()) == 0
    seen = body & (pair.visibility[:, 0] > 0)
    unseen = body & (pair.visibility[:, 0] == 0)
    assert int(seen.sum()) > 1000 and int(unseen.sum()) > 50
    error = (pair.fill - pair.target_image).abs().mean(1)
    assert float(error[seen].median()) < 0.05
    assert float(pair.fill.abs().sum(1)[unseen].gt(0).float().mean()) > 0.99


def test_synthetic_pairs_shapes_determinism_and_shards(anny_body):
    pairs = SyntheticPairs(anny_body, SyntheticConfig(size=SIZE, texture_size=64), seed=1)
    batch = next(pairs.batches(3))
    assert len(batch) == 3 and batch.size == SIZE and batch.source_keypoints.shape == (3, 23, 3)
    assert batch.source_image.min() >= -1 and batch.source_image.max() <= 1
    for image, mask in ((batch.source_image, batch.source_mask), (batch.target_image, batch.target_mask)):
        person = mask.mean((1, 2, 3))
        assert bool(((person > 0.03) & (person < 0.6)).all())
        rows = mask[:, 0].amax(2)  # the person's height: 70-85% of the canvas (wide poses narrower)
        height = (rows.shape[1] - rows.flip(1).argmax(1) - rows.argmax(1)).float() / SIZE
        assert bool(((height > 0.45) & (height < 0.9)).all()), height
    # keypoints lie on the canvas, the mask is the mesh's coverage, background = plate off the person
    assert bool(((batch.target_keypoints[..., :2] > -2) & (batch.target_keypoints[..., :2] < SIZE + 2)).all())
    assert torch.equal(batch.target_mask[:, 0] > 0, batch.target_parts >= 0)
    off = batch.target_mask.expand_as(batch.target_image) == 0
    assert torch.equal(batch.target_image[off], batch.background[off])
    assert bool((batch.visibility <= batch.target_mask).all())

    again = SyntheticPairs(anny_body, SyntheticConfig(size=SIZE, texture_size=64), seed=1)
    assert _same(next(again.batches(3)), batch)
    assert _same(pairs.pair(7), SyntheticPairs(anny_body, SyntheticConfig(size=SIZE, texture_size=64), seed=1).pair(7))
    assert not torch.equal(SyntheticPairs(anny_body, SyntheticConfig(size=SIZE, texture_size=64), seed=2).pair(0).target_image, pairs.pair(0).target_image)
    # shards: disjoint, and together the whole range, for every batch
    for b in range(3):
        shards = [shard_indices(b, 4, rank, 3) for rank in range(3)]
        assert sorted(sum(shards, [])) == list(range(b * 12, (b + 1) * 12))
    rank0 = next(pairs.batches(1, rank=0, world=2, start=1))
    rank1 = next(pairs.batches(1, rank=1, world=2, start=1))
    assert _same(rank0, pairs.pair(2)) and _same(rank1, pairs.pair(3))


def test_extra_sources_see_the_same_target(anny_body):
    """`sources=2`: the pair of `sources=1` plus the person turned around (180 +- 60 degrees),
    with exact correspondences to the same target; the pairs collate, resize and keep one
    source count per batch."""
    config = SyntheticConfig(size=128, texture_size=32, shading=False)
    one, two = SyntheticPairs(anny_body, config, seed=3).pair(1), SyntheticPairs(anny_body, config, seed=3).pair(1, sources=2)
    assert one.sources == 1 and two.sources == 2
    assert all(torch.allclose(value, getattr(one, name), atol=1e-4) for name, value in two.first_source().tensors().items())
    back = _extra_view(two)
    errors = _warp_error(back)
    assert len(errors) > 200 and float(errors.median()) < 0.02
    # From behind, it sees what the front view does not: together they see more of the target.
    body = two.target_mask > 0
    front, both = (two.visibility > 0)[body].float().mean(), ((two.visibility + two.extra_visibility[:, 0]) > 0)[body].float().mean()
    assert float(both) > float(front) + 0.02, (float(front), float(both))
    batch = collate_pairs([two, SyntheticPairs(anny_body, config, seed=3).pair(2, sources=2)])
    assert batch.sources == 2 and len(batch) == 2 and _same(batch[1], SyntheticPairs(anny_body, config, seed=3).pair(2, sources=2))
    small = resize_pairs(batch, 32)
    assert small.extra_grid.shape == (2, 1, 32, 32, 2) and small.extra_source_image.shape == (2, 1, 3, 32, 32)
    with pytest.raises(ValueError, match="one source count"):
        collate_pairs([one, two])
    with pytest.raises(ValueError, match="or none of them"):
        replace(one, extra_grid=two.extra_grid)


def test_synthetic_pairs_with_image_patches(anny_body):
    images = [torch.full((40, 60, 3), 200, dtype=torch.uint8).numpy(), torch.zeros(50, 30, 3, dtype=torch.uint8).numpy()]
    config = SyntheticConfig(size=SIZE, texture_size=64, patch=1.0, image_background=1.0)
    pair = SyntheticPairs(anny_body, config, seed=0, images=images).pair(0)
    plain = SyntheticPairs(anny_body, config, seed=0).pair(0)
    grey = (pair.background + 1) * 127.5
    assert bool(((grey - 200).abs() < 1).all() | (grey.abs() < 1).all())  # the room is a crop of an image
    assert not torch.equal(pair.source_image, plain.source_image)


def test_video_pairs_are_cached(anny_body, tmp_path):
    video = shared_file("videos", SHARED_VIDEOS[0])
    clock = time.perf_counter()
    clip = prepare_video(video, anny_body, SIZE, tmp_path, max_frames=6)
    cold = time.perf_counter() - clock
    assert len(list(tmp_path.glob("*.npz"))) == 1 and len(clip) >= 2
    clock = time.perf_counter()
    cached = prepare_video(video, anny_body, SIZE, tmp_path, max_frames=6)
    warm = time.perf_counter() - clock
    assert warm < cold / 10, (cold, warm)
    assert cached.crops == clip.crops and (cached.pose == clip.pose).all()

    pairs = VideoPairs(anny_body, [cached], SIZE, seed=0)
    pair = pairs.pair(0)
    assert pair.size == SIZE and float(pair.target_mask.mean()) > 0.05
    assert float(pair.visibility.mean()) > 0.02
    # the fitted mesh covers the detected person: most of the mask is on the mesh
    on_mesh = (pair.target_parts >= 0)[:, None].float()
    assert float((pair.target_mask * on_mesh).sum() / pair.target_mask.sum()) > 0.6
    assert _same(pair, VideoPairs(anny_body, [cached], SIZE, seed=0).pair(0))
    # the person is clothed as the pipeline clothes a subject: on its first frame the clothed
    # mesh covers more of the mask than the naked body does
    naked = VideoPairs(anny_body, [cached], SIZE, seed=0, clothes=None)
    assert naked.subject(0) is anny_body and pairs.subject(0) is not anny_body

    def covered(subject) -> float:
        with torch.no_grad():
            verts = subject.forward(torch.from_numpy(cached.pose[:1]), torch.from_numpy(cached.shape)[None]).vertices
        coverage = mesh_maps(mesh_to_image(verts, verts[:, :1], torch.from_numpy(cached.cam[:1]))[0], pairs.maker.topology, SIZE)[1][:, 3]
        mask = torch.from_numpy(cached.frame(0)[1]) > 0.5
        return float((coverage[0] > 0)[mask].float().mean())

    assert covered(pairs.subject(0)) > covered(anny_body) + 0.05

    # Two sources: the pair of one source and another frame of the clip seeing the same target.
    two = pairs.pair(0, sources=2)
    assert two.sources == 2 and two.extra_source_image.shape == (1, 1, 3, SIZE, SIZE)
    assert all(torch.allclose(value, getattr(pair, name), atol=1e-3) for name, value in two.first_source().tensors().items())
    frames = [i for i in range(len(cached)) if torch.equal(two.extra_source_mask[0, 0, 0], torch.from_numpy(cached.frame(i)[1]))]
    assert frames and not torch.equal(two.extra_source_image, two.source_image[:, None])
    assert float(two.extra_visibility.mean()) > 0.02

    synthetic = SyntheticPairs(anny_body, SyntheticConfig(size=SIZE, texture_size=64), seed=0)
    mixed = next(mixed_batches(synthetic, pairs, DataOptions(batch_size=8, size=SIZE, synthetic_fraction=0.5)))
    from_video = [_same(mixed[i], pairs.pair(i)) for i in range(8)]
    assert 0 < sum(from_video) < 8  # both kinds, by the fraction
    assert all(_same(mixed[i], synthetic.pair(i)) for i in range(8) if not from_video[i])


def test_empty_video_folder(tmp_path):
    from mimic.errors import InputError

    with pytest.raises(InputError, match="no videos in"):
        next(pair_batches(DataOptions(batch_size=1, size=SIZE, videos=tmp_path)))
