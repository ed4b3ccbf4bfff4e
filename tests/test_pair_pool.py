"""The pair pool: pairs made once into a folder on disk, read back as the stream made them, drawn
deterministically (resume, ranks), written whole or not at all, reused by a later run."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from conftest import cache_dir

from mimic.training import pair_pool, video_pairs
from mimic.training.data_options import DataOptions
from mimic.training.pair_pool import PairPool, build_pool, pool_batches, pool_folder
from mimic.training.video_pairs import pair_batches

SIZE = 32
COUNT = 5


@pytest.fixture(scope="module")
def made(tmp_path_factory, anny_body):
    """The stream's first pairs and the pool built from them."""
    folder = tmp_path_factory.mktemp("pool") / "pairs"
    options = DataOptions(batch_size=1, size=SIZE, seed=3, cache_dir=cache_dir())
    pairs = [p for _, p in zip(range(COUNT), pair_batches(options))]
    build_pool(iter(pairs), COUNT, folder)
    return pairs, PairPool(folder)


def test_pool_holds_the_pairs_it_was_made_of(made):
    pairs, pool = made
    assert len(pool) == COUNT
    for index in (0, COUNT - 1):
        read = pool.batch([index])
        assert read.tensors().keys() == pairs[index].tensors().keys() and read.sources == 1
        for name, theirs in pairs[index].tensors().items():
            mine = getattr(read, name)
            assert mine.dtype == theirs.dtype and mine.shape == theirs.shape, name
            assert torch.allclose(mine, theirs, atol=2e-3 * max(1.0, float(theirs.abs().max()))), name  # float16


def test_a_pool_of_two_source_pairs_keeps_the_extra_sources(anny_body, tmp_path):
    options = DataOptions(batch_size=1, size=SIZE, seed=3, cache_dir=cache_dir(), sources=2)
    pairs = [p for _, p in zip(range(2), pair_batches(options))]
    assert pool_folder(options, 2, tmp_path) != pool_folder(replace(options, sources=1), 2, tmp_path)
    pool = PairPool(build_pool(iter(pairs), 2, tmp_path / "pairs"))
    read = pool.batch([1, 0])
    assert read.sources == 2
    for name, value in read.tensors().items():
        theirs = torch.cat([pairs[1].tensors()[name], pairs[0].tensors()[name]])
        assert value.shape == theirs.shape and torch.allclose(value, theirs, atol=2e-3 * max(1.0, float(theirs.abs().max()))), name


def test_pool_batches_resume_and_shard(made):
    pool = made[1]
    options = DataOptions(batch_size=3, seed=1)
    first = [b for _, b in zip(range(4), pool_batches(pool, options))]
    resumed = next(pool_batches(pool, replace(options, start=3)))
    assert torch.equal(resumed.target_image, first[3].target_image)
    assert len({float(b.target_image.sum()) for b in first}) > 1
    rank0 = next(pool_batches(pool, replace(options, batch_size=1), 0, 2))
    rank1 = next(pool_batches(pool, replace(options, batch_size=1), 1, 2))
    assert torch.equal(rank0.source_image, next(pool_batches(pool, options)).source_image[:1])
    assert torch.equal(rank1.source_image, next(pool_batches(pool, options)).source_image[1:2])


def test_fit_iou_filter_draws_only_well_fitted_pairs(made, tmp_path):
    pairs = made[0]
    spoiled = []
    for index, pair in enumerate(pairs):  # pairs 1 and 3 get a person mask far from their mesh
        if index in (1, 3):
            pair = replace(pair, target_mask=torch.roll(pair.target_correspondence[:, 3:], SIZE // 2, dims=-1))
        spoiled.append(pair)
    pool = PairPool(build_pool(iter(spoiled), COUNT, tmp_path / "pairs"))
    iou = pool.fit_iou(chunk=2)
    assert iou.shape == (COUNT,) and min(iou[[0, 2, 4]]) > 0.9 and max(iou[[1, 3]]) < 0.5
    drawn = [b for _, b in zip(range(20), pool_batches(pool, DataOptions(batch_size=1, seed=2, min_fit_iou=0.8)))]
    kept = {float(pool.batch([i]).target_image.sum()) for i in (0, 2, 4)}
    assert {float(b.target_image.sum()) for b in drawn} <= kept
    failed = PairPool(build_pool(iter(spoiled[1:2]), 1, tmp_path / "failed"))
    with pytest.raises(ValueError, match="fit IoU"):
        next(pool_batches(failed, DataOptions(batch_size=1, min_fit_iou=0.8)))


def test_a_failed_build_leaves_nothing(made, tmp_path):
    pairs = made[0]

    def broken():
        yield pairs[0]
        raise RuntimeError("stream broke")

    folder = tmp_path / "pairs"
    with pytest.raises(RuntimeError, match="stream broke"):
        build_pool(broken(), 3, folder)
    assert list(tmp_path.iterdir()) == []


def test_train_stream_builds_the_pool_once_and_reuses_it(anny_body, tmp_path, monkeypatch):
    options = replace(DataOptions(batch_size=2, size=SIZE, seed=3), pool=3, cache_dir=tmp_path)
    monkeypatch.setattr("mimic.pipeline.body.load_body_model", lambda *a, **k: anny_body)  # not rebuilt in tmp_path
    built = []
    real_build = pair_pool.build_pool
    monkeypatch.setattr(video_pairs, "build_pool", lambda *a, **k: built.append(1) or real_build(*a, **k))
    first = next(pair_batches(options))
    again = next(pair_batches(options))
    assert built == [1] and torch.equal(first.target_image, again.target_image)
    folder = pool_folder(options, 3, tmp_path / "pair_pools")
    assert folder.is_dir() and pool_folder(replace(options, seed=4), 3, tmp_path / "pair_pools") != folder
    assert pool_folder(replace(options, size=64), 3, tmp_path) != pool_folder(options, 3, tmp_path)


def test_cli_refuses_pair_options_for_a_model_without_pairs_and_a_fit_filter_without_a_pool(tmp_path):
    from typer.testing import CliRunner

    from mimic.errors import OptionError
    from mimic_cli.app import app

    for option, value in (("--pair-pool", "10"), ("--sources", "2")):
        result = CliRunner().invoke(app, ["train", "--generator", "text2pose", "--out", str(tmp_path / "o"), option, value])
        assert isinstance(result.exception, OptionError) and option in str(result.exception)
        assert not (tmp_path / "o").exists()
    result = CliRunner().invoke(app, ["train", "--generator", "lwgan", "--out", str(tmp_path / "o"), "--min-fit-iou", "0.8"])
    assert isinstance(result.exception, OptionError) and "--pair-pool" in str(result.exception)
    assert not (tmp_path / "o").exists()
