"""Personalization of the 2D baselines (PG2, PATN; SPT refused): the generic fine-tune on pseudo
pairs, the subject file of any generator, and the CLI end to end on a shared photo."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mimic.core.pairs import resize_pairs
from mimic.errors import ModelFilesError, OptionError
from mimic.generators.pose_transfer import PoseTransferGenerator
from mimic.networks.losses import weighted_l1
from mimic.networks.pose_inputs import PoseTransferInputs
from mimic.registry import GeneratorOptions, create, load_generator, personalization
from mimic.tasks.personalize import PersonalizeConfig, fine_tune, personalized_generator, personalizing_model, pseudo_pairs
from mimic.training.subject_file import read_subject, save_subject
from tests.baseline_pairs import toy_pairs
from tests.conftest import cache_dir, shared_file

SIZE = 128  # the pipeline's canvas here; the shipped baselines work at 64, so the pairs are resized
FACTOR = 0.75  # fine-tuning brings the reconstruction L1 on the pseudo pairs below this share of the base's


@pytest.fixture(scope="module")
def photo_subject(anny_body, demo_inputs):
    """An imitator on a 128-pixel canvas and the subject of the demo's synthetic photo."""
    from mimic.generators.warp_only import WarpOnlyGenerator
    from mimic.media.images import read_image
    from mimic.pipeline.imitator import Imitator, ImitatorConfig

    torch.set_num_threads(1)
    imitator = Imitator(anny_body, WarpOnlyGenerator(), ImitatorConfig(size=SIZE))
    return imitator, imitator.prepare([read_image(demo_inputs[0])])


def _reconstruction(model, pairs) -> float:
    """Mean L1 of the model's image against the targets of `pairs` (at the model's canvas)."""
    pairs = resize_pairs(pairs, model.config.size)
    with torch.no_grad():
        return float(weighted_l1(model.transfer(PoseTransferInputs.from_pair(pairs, model.config.size))[0], pairs.target_image))


@pytest.mark.slow  # BlazePose and the fit of the photo, then 2 x 30 steps
@pytest.mark.parametrize("name", ["pg2", "patn"])
def test_fine_tuning_lowers_the_reconstruction_loss_on_the_pseudo_pairs(photo_subject, name):
    imitator, subject = photo_subject
    config = PersonalizeConfig(steps=30, pairs=4, batch=2, seed=0)
    pairs = pseudo_pairs(imitator, subject, config)
    model, base = personalizing_model(name)
    shipped = load_generator(name).model
    assert all(torch.equal(model.nets[n].state_dict()[k], v) for n in personalization(name).nets for k, v in shipped.nets[n].state_dict().items())
    before = _reconstruction(model, pairs)
    losses = fine_tune(model, pairs, config)
    after = _reconstruction(model, pairs)
    assert len(losses) == 30 and all(not net.training for net in model.nets.values())
    assert after < FACTOR * before, (before, after)


def _tiny(name: str, **overrides):
    """A small PG2 or PATN on a 32-pixel canvas, its config updated by `overrides`."""
    return create(name, {"size": 32, "width": 4, **({"levels": 2, "fc_dims": 4} if name == "pg2" else {"blocks": 1}), **overrides})


@pytest.mark.parametrize("name", ["pg2", "patn"])
def test_reconstruction_only_step_leaves_the_discriminators_alone(name):
    model = _tiny(name, adversarial_weight=0.0)
    drawing = personalization(name).nets
    before = {n: {k: v.clone() for k, v in net.state_dict().items()} for n, net in model.nets.items()}
    logs = model.train_step(toy_pairs(2, 32), 0)
    assert personalization(name).loss in logs and not any(k.startswith(("d", "g_adv")) for k in logs)
    for n, net in model.nets.items():
        changed = any(not torch.equal(before[n][k], v) for k, v in net.state_dict().items())
        assert changed == (n in drawing), n


def test_subject_file_round_trip_for_a_baseline(tmp_path):
    model = _tiny("pg2")
    path = tmp_path / "me.mimic"
    save_subject(path, model, ("g1", "g2"), "base0", "key0", {"steps": 3})
    found = read_subject(path)
    assert found.generator == "pg2" and found.config["size"] == 32 and set(found.weights) == {"g1", "g2"}
    assert (found.base, found.key, found.info) == ("base0", "key0", {"steps": 3})
    generator = load_generator("pg2", GeneratorOptions(checkpoint=path))
    assert isinstance(generator, PoseTransferGenerator) and generator.model.config == model.config
    for net in ("g1", "g2"):
        assert all(torch.equal(generator.model.nets[net].state_dict()[k], v) for k, v in model.nets[net].state_dict().items())
    again, base = personalizing_model("pg2", path)  # a subject file is a base to personalize further
    assert again.config.adversarial_weight == 0.0 and len(base) == 16


def test_wrong_generator_subject_file_and_spt_are_refused(tmp_path):
    path = tmp_path / "me.mimic"
    save_subject(path, _tiny("pg2"), ("g1", "g2"), "b", "k", {})
    for other in ("patn", "lwgan"):
        with pytest.raises(ModelFilesError, match=f"personalized 'pg2', not '{other}': use it with --generator pg2"):
            load_generator(other, GeneratorOptions(checkpoint=path))
    with pytest.raises(ModelFilesError, match="personalized 'pg2'"):
        personalizing_model("patn", path)
    with pytest.raises(OptionError, match="'spt' cannot be personalized"):
        personalizing_model("spt")
    with pytest.raises(ModelFilesError, match="not a mimic subject file"):
        (tmp_path / "bad.mimic").write_bytes(b"nope")
        load_generator("pg2", GeneratorOptions(checkpoint=tmp_path / "bad.mimic"))


@pytest.mark.slow
def test_personalized_baseline_is_cached(photo_subject, demo_inputs, tmp_path):
    imitator, subject = photo_subject
    config = PersonalizeConfig(steps=2, pairs=2, batch=1, flip=0.0)
    first, path, reused = personalized_generator(imitator, [demo_inputs[0]], tmp_path, None, config, generator="patn", subject=subject)
    assert not reused and path.name.startswith("patn-") and isinstance(first, PoseTransferGenerator)
    second, again, reused = personalized_generator(imitator, [demo_inputs[0]], tmp_path, None, config, generator="patn")
    assert reused and again == path
    assert read_subject(path).info["steps"] == 2 and read_subject(path).info["loss"] == "l1"
    lwgan_path = personalized_generator(imitator, [demo_inputs[0]], tmp_path, None, config, generator="lwgan", subject=subject)[1]
    assert lwgan_path != path  # another generator, another cache entry


def _cache_with_body(tmp_path: Path) -> Path:
    """A fresh cache folder that shares this run's built body model (no rebuild, no stray subjects)."""
    import anny

    from mimic.core.paths import default_cache_dir

    folder = tmp_path / "cache"
    folder.mkdir()
    name = f"anny-{anny.__version__}"
    (folder / name).symlink_to((cache_dir() or default_cache_dir()) / name)
    return folder


@pytest.mark.slow  # two CLI runs: BlazePose, fits, a short personalization
def test_cli_personalizes_pg2_and_video_reuses_it(tmp_path, anny_body):
    from tests.cli_helpers import run_mimic

    photo = str(shared_file("images", "ryota_apose.png"))
    driver = str(shared_file("videos", "musepose_dance.mp4"))
    cache = str(_cache_with_body(tmp_path))
    steps = ("--personalize-steps", "4", "--cache-dir", cache)
    result = run_mimic("personalize", "--generator", "pg2", "--source", photo, "--out", str(tmp_path / "me.mimic"), *steps)
    assert result.returncode == 0, result.stderr
    assert "made the pg2 personalization" in result.stdout and read_subject(tmp_path / "me.mimic").generator == "pg2"
    out = tmp_path / "out.mp4"
    result = run_mimic("video", "--generator", "pg2", "--source", photo, "--driver", driver, "--max-frames", "2", "--out", str(out), *steps)
    assert result.returncode == 0, result.stderr
    assert "reused the cached pg2 personalization" in result.stdout and out.is_file()
    from mimic.media.video_read import probe_video

    assert probe_video(out).num_frames == 2
    result = run_mimic("video", "--generator", "patn", "--subject", str(tmp_path / "me.mimic"), "--source", photo, "--driver", driver, "--out", str(out))
    assert result.returncode == 1 and "personalized 'pg2', not 'patn'" in result.stderr


def test_cli_refuses_to_personalize_spt(tmp_path):
    from tests.cli_helpers import run_mimic

    result = run_mimic("personalize", "--generator", "spt", "--source", str(tmp_path / "me.png"), "--out", str(tmp_path / "s.mimic"))
    assert result.returncode == 1 and "'spt' cannot be personalized" in result.stderr and not (tmp_path / "s.mimic").exists()
