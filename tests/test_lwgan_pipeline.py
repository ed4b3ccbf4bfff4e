"""The LWGAN through the project's machinery: checkpoints of `mimic train`, the pipeline's
generator interface, personalization and its cache."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
import torch

from bodymesh.body_model import zero_pose, zero_shape
from bodymesh.camera import to_image_space
from mimic import registry
from mimic.core.bundles import SourceBundle, TargetBundle
from mimic.errors import ModelFilesError
from mimic.generators.lwgan import LWGANGenerator
from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.networks.lwgan import LWGAN
from mimic.registry import GeneratorOptions, load_generator
from mimic.training.checkpoint import latest_checkpoint
from mimic.training.synthetic_person import procedural_background, procedural_texture, render_person
from mimic.training.trainer import TrainOptions, train
from tests.conftest import front_camera
from tests.lwgan_toys import TINY, toy_pair
from warping.correspondence import mesh_maps, uv_map
from warping.sampler import identity_grid
from warping.topology import MeshTopology

SIZE = 64
TINY_OVERRIDES = {"generator": {"width": 4, "res_blocks": 1, "background_width": 4}, "disc_width": 8, "face_size": 16}


def _toy_batches(start: int):
    return (toy_pair(32, batch=2, seed=n) for n in itertools.count(start))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny LWGAN trained 4 steps by the trainer; its output folder."""
    out = tmp_path_factory.mktemp("lwgan_train")
    torch.manual_seed(0)
    model = registry.create("lwgan", TINY_OVERRIDES)
    train(model, _toy_batches, out, TrainOptions(steps=4, checkpoint_every=2))
    return out


def test_checkpoint_round_trip_and_generator_loading(trained):
    restored = registry.load_model(None, trained).model
    assert restored.name == "lwgan" and restored.config.generator == TINY
    loaded = registry.load_model("lwgan", latest_checkpoint(trained))
    network, weights = loaded.model.nets["generator"], loaded.weights
    state = restored.nets["generator"].state_dict()
    assert all(torch.equal(state[k], v) for k, v in network.state_dict().items())
    assert len(weights) == 16 and not network.training
    generator = load_generator("lwgan", GeneratorOptions(checkpoint=latest_checkpoint(trained)))
    assert isinstance(generator, LWGANGenerator) and generator.weights == weights


def test_resume_continues_as_if_never_stopped(tmp_path):
    torch.manual_seed(0)
    straight = train(registry.create("lwgan", TINY_OVERRIDES), _toy_batches, tmp_path / "a", TrainOptions(steps=4, checkpoint_every=2))
    torch.manual_seed(0)
    train(registry.create("lwgan", TINY_OVERRIDES), _toy_batches, tmp_path / "b", TrainOptions(steps=2, checkpoint_every=2))
    torch.manual_seed(123)  # a fresh process: other initial weights, replaced by the checkpoint's
    resumed = train(registry.create("lwgan", TINY_OVERRIDES), _toy_batches, tmp_path / "b", TrainOptions(steps=4, checkpoint_every=2))
    assert resumed.start_step == 2 and resumed.steps == 4
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-4)


def test_missing_weights_are_a_user_error(tmp_path):
    with pytest.raises(ModelFilesError, match="mimic train --generator lwgan"):
        registry.load_model("lwgan", tmp_path)


@pytest.fixture(scope="module")
def scene(anny_body):
    """One rendered source and a target in the same pose (identity flow)."""
    with torch.no_grad():
        pose, shape = zero_pose(anny_body), zero_shape(anny_body)
        verts0 = anny_body.forward(pose, shape).vertices
        cam = front_camera(anny_body, SIZE)
        texture = procedural_texture(anny_body, 64, seed=5)
        background = procedural_background(SIZE, SIZE, seed=3)
        image, mask = render_person(anny_body, pose, shape, cam, texture, background, SIZE, SIZE)
        verts = to_image_space(verts0, cam)
        topology = MeshTopology.of(anny_body, verts0[0])
        frags, correspondence, parts = mesh_maps(verts, topology, SIZE)
        uv = uv_map(frags, topology)
    keypoints = torch.ones(1, 23, 3)
    source = SourceBundle(image, mask, verts, frags, background, texture, correspondence, parts, keypoints)
    target = TargetBundle(
        verts, frags, uv, identity_grid(1, SIZE, SIZE), (frags.face_id >= 0).float(), procedural_background(SIZE, SIZE, seed=4),
        correspondence, parts, keypoints,
    )
    return source, target


def test_generator_through_the_pipeline_interface(scene):
    source, target = scene
    torch.manual_seed(0)
    generator = LWGANGenerator(LWGAN(TINY))
    calls = []
    encode = generator.model.encode_sources
    generator.model.encode_sources = lambda *a: calls.append(1) or encode(*a)
    out = generator.generate(source, target)
    again = generator.generate(source, target)
    assert out.shape == (1, 3, SIZE, SIZE) and float(out.abs().max()) <= 1
    assert torch.equal(out, again) and len(calls) == 1  # the sources were encoded once
    # Far from the body the frame is the target's background, untouched.
    body = torch.nn.functional.max_pool2d((target.fragments.face_id >= 0).float()[:, None], 15, 1, 7)[0, 0] == 0
    assert torch.equal(out[0][:, body], target.background[0][:, body])
    # Over the source's own background the plate is kept; asked to, the background stream
    # refills where the source stood (and only there).
    plate = replace(target, background=source.background)
    kept = generator.generate(source, plate)
    assert torch.equal(kept[0][:, body], source.background[0][:, body])
    filling = LWGANGenerator(generator.model, inpaint_background=True)
    filling.generate(source, plate)
    changed = (filling._background - source.background).abs().amax(1)[0] > 0
    stood = torch.nn.functional.max_pool2d(source.masks, 9, 1, 4)[0, 0] > 0
    assert bool(changed.any()) and not bool((changed & ~stood).any())


def test_a_closed_mask_draws_the_warp_only_frame(scene):
    """The transfer stream refines the warp-only frame: with its blending mask shut, the LWGAN
    shows exactly what the no-network warp shows (sources where seen, the subject's texture on the
    rest of the body, the background off it, the same soft edge)."""
    source, target = scene
    unseen = replace(target, weights=target.weights * (torch.arange(SIZE)[None, :, None] < SIZE // 2))  # the lower half unseen
    torch.manual_seed(0)
    model = LWGAN(replace(TINY, body_dilation=0.1))  # the body mask's soft edge clear of the feathered one on this small canvas
    with torch.no_grad():
        model.tsf_head[0].weight[3].zero_()
        model.tsf_head[0].bias[3] = -100.0
    out = LWGANGenerator(model).generate(source, unseen)
    warp = WarpOnlyGenerator().generate(source, unseen)
    assert torch.allclose(out, warp, atol=1e-5)  # the soft edge too: both feather the silhouette alike


def test_generator_takes_two_sources(scene):
    source, target = scene
    two = replace(
        source, images=source.images.repeat(2, 1, 1, 1), masks=source.masks.repeat(2, 1, 1, 1),
        fragments=type(source.fragments)(*(t.repeat(2, *[1] * (t.dim() - 1)) for t in source.fragments)),
        correspondence=source.correspondence.repeat(2, 1, 1, 1), verts=source.verts.repeat(2, 1, 1),
        parts=source.parts.repeat(2, 1, 1), keypoints=source.keypoints.repeat(2, 1, 1),
    )
    both = replace(target, grids=target.grids.repeat(2, 1, 1, 1), weights=target.weights.repeat(2, 1, 1) / 2)
    torch.manual_seed(0)
    generator = LWGANGenerator(LWGAN(TINY))
    one = generator.generate(source, target)
    out = generator.generate(two, both)
    assert out.shape == (1, 3, SIZE, SIZE)
    assert torch.allclose(out, one, atol=1e-4)  # two identical sources attend like one


@pytest.fixture(scope="module")
def photo_subject(anny_body, demo_inputs):
    """An imitator on a 64-pixel canvas and the subject of the demo's synthetic photo."""
    from mimic.generators.warp_only import WarpOnlyGenerator
    from mimic.media.images import read_image
    from mimic.pipeline.imitator import Imitator, ImitatorConfig

    imitator = Imitator(anny_body, WarpOnlyGenerator(), ImitatorConfig(size=SIZE))
    return imitator, imitator.prepare([read_image(demo_inputs[0])])


@pytest.mark.slow  # BlazePose and the fit of the photo
def test_pseudo_pairs_lead_back_to_the_photo(photo_subject):
    from mimic.networks.lwgan import warp_sources
    from mimic.tasks.personalize import PersonalizeConfig, pseudo_pairs

    imitator, subject = photo_subject
    pairs = pseudo_pairs(imitator, subject, PersonalizeConfig(pairs=3, flip=1.0, seed=1))
    assert len(pairs) == 3 and pairs.size == SIZE
    # The target is the (moved, mirrored) photo; the pseudo-source is it on another pose, so
    # following the grid back from the target reads the target's own colours.
    back, read = warp_sources(pairs.source_image, pairs.source_mask, pairs.grid)
    seen = (pairs.visibility * (read > 0.99) * (pairs.target_mask > 0.5)).expand_as(back) > 0
    assert int(seen.sum()) > 3 * 3 * 200
    error = (back - pairs.target_image)[seen].abs().mean()
    shifted = (back.roll(3, -1) - pairs.target_image)[seen].abs().mean()
    assert float(error) < 0.12 and float(error) < 0.6 * float(shifted)
    # The pose really changed: the two meshes cover different pixels.
    changed = (pairs.source_correspondence[:, 3] != pairs.target_correspondence[:, 3]).float().mean()
    assert float(changed) > 0.01


@pytest.mark.slow
def test_personalization_is_cached(photo_subject, demo_inputs, trained, tmp_path):
    import time

    from safetensors import safe_open

    from mimic.tasks.personalize import PersonalizeConfig, personalized_generator

    imitator, _ = photo_subject
    base = latest_checkpoint(trained)
    config = PersonalizeConfig(steps=2, pairs=2, batch=1, flip=0.0)
    first, path, reused = personalized_generator(imitator, [demo_inputs[0]], tmp_path, base, config)
    assert not reused and path.is_file() and path.suffix == ".mimic"
    clock = time.perf_counter()
    second, again, reused = personalized_generator(imitator, [demo_inputs[0]], tmp_path, base, config)
    assert reused and again == path and time.perf_counter() - clock < 5.0
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()))
    untuned = registry.load_model("lwgan", base).model.nets["generator"]
    assert any(not torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), untuned.state_dict().values()))
    with safe_open(str(path), "pt") as file:
        meta = file.metadata()
    assert meta["format"] == "mimic-subject/1" and meta["base"] == first.weights and meta["key"] in path.name
    other, other_path, reused = personalized_generator(imitator, [demo_inputs[0]], tmp_path, base, replace(config, steps=3))
    assert not reused and other_path != path  # other settings, another cache entry


def test_cli_refuses_bad_personalization_options(tmp_path, demo_inputs):
    from tests.cli_helpers import run_mimic

    source = str(demo_inputs[0])
    result = run_mimic("personalize", "--source", source, "--out", str(tmp_path / "subject.png"))
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1].startswith("mimic: error: --out must end with .mimic")
    result = run_mimic("video", "--source", source, "--driver", str(demo_inputs[1]), "--subject", str(tmp_path / "s.mimic"), "--out", str(tmp_path / "o.mp4"))
    assert result.returncode == 1 and "needs --generator lwgan" in result.stderr
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "subject.png").exists()
