"""The trainer, checkpoints, the registry and `mimic train`, with the tiny Trainable of
tests/training_tiny.py on synthetic pairs."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import cache_dir
from training_tiny import NAME, register_tiny

from mimic import registry
from mimic.errors import ModelFilesError, OptionError
from mimic.training.checkpoint import (
    STATE_FILE, WEIGHTS_FILE, checkpoint_step, latest_checkpoint, list_checkpoints, load_nets, load_weights, save_checkpoint,
)
from mimic.training.data_options import DataOptions
from mimic.training.trainer import LOSSES_FILE, SAMPLES_DIR, TrainOptions, train

SIZE, BATCH = 32, 2
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _tiny_registered():
    register_tiny()


def _batches(seed: int = 0, fail_at: int | None = None):
    """`start -> iterator` of tiny-model batches; raises KeyboardInterrupt before batch `fail_at`."""

    def make(start: int):
        data = registry.batches(NAME, DataOptions(batch_size=BATCH, size=SIZE, seed=seed, start=start, cache_dir=cache_dir()))
        for index, batch in enumerate(data, start):
            if index == fail_at:
                raise KeyboardInterrupt
            yield batch

    return make


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.nets["generator"].state_dict().items()}


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return registry.create(NAME, None, "cpu")


def test_checkpoint_round_trip_and_errors(tmp_path):
    model = _model()
    for step in (1, 2, 3, 4):
        folder = save_checkpoint(tmp_path, NAME, model.config, model.nets, model.optimizers(), step, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-00000003", "checkpoint-00000004"]
    assert latest_checkpoint(tmp_path) == folder and checkpoint_step(folder) == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial")]
    name, config, weights = load_weights(tmp_path)  # an output folder means its newest checkpoint
    assert name == NAME and config == {"width": 16, "lr": 0.01}
    assert set(weights) == {"generator"}
    for key, value in model.nets["generator"].state_dict().items():
        assert torch.equal(weights["generator"][key], value)
    loaded = registry.load_model(None, folder, "cpu").model
    assert all(torch.equal(a, b) for a, b in zip(loaded.nets["generator"].state_dict().values(), model.nets["generator"].state_dict().values()))

    with pytest.raises(ModelFilesError, match="not a mimic checkpoint"):
        load_weights(tmp_path / "nothing")
    (folder / WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(ModelFilesError, match="corrupt weights"):
        load_weights(folder)
    with pytest.raises(ModelFilesError, match="does not fit"):
        load_nets(registry.create(NAME, {"width": 8}), load_weights(tmp_path / "checkpoint-00000003")[2], "x")
    with pytest.raises(OptionError, match="no field"):
        registry.create(NAME, {"depth": 3})
    with pytest.raises(OptionError, match="unknown generator"):
        registry.create("no-such-model")


def test_training_lowers_the_loss_logs_and_samples(tmp_path):
    model = _model()
    result = train(model, _batches(), tmp_path, TrainOptions(steps=30, checkpoint_every=10, sample_every=15))
    assert result.start_step == 0 and result.steps == 30
    with (tmp_path / LOSSES_FILE).open() as file:
        rows = list(csv.DictReader(file))
    assert [int(r["step"]) for r in rows] == list(range(1, 31))
    losses = [float(r["l1"]) for r in rows]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.6 * first, (first, last)
    assert sorted(p.name for p in (tmp_path / SAMPLES_DIR).iterdir()) == ["step-00000015.png", "step-00000030.png"]
    assert [checkpoint_step(p) for p in list_checkpoints(tmp_path)] == [10, 20, 30]


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path):
    options = TrainOptions(steps=8, checkpoint_every=3)
    straight = _model()
    train(straight, _batches(), tmp_path / "straight", options)

    interrupted = _model()
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, _batches(fail_at=5), tmp_path / "resumed", options)
    assert checkpoint_step(latest_checkpoint(tmp_path / "resumed")) == 3
    torch.manual_seed(123)  # the RNG state comes from the checkpoint, not from here
    resumed = _model(seed=7)  # different initial weights: the checkpoint's replace them
    result = train(resumed, _batches(), tmp_path / "resumed", options)
    assert result.start_step == 3
    for key, value in _weights(straight).items():
        torch.testing.assert_close(_weights(resumed)[key], value, rtol=0, atol=1e-6)
    with (tmp_path / "resumed" / LOSSES_FILE).open() as file:
        assert [int(r["step"]) for r in csv.DictReader(file)] == list(range(1, 9))

    with pytest.raises(OptionError, match="another config"):
        train(registry.create(NAME, {"width": 8}), _batches(), tmp_path / "resumed", options)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "import training_tiny; training_tiny.main()", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}", OMP_NUM_THREADS="1")
    if cache_dir() is not None:
        env["MIMIC_CACHE_DIR"] = str(cache_dir())
    return env


@pytest.mark.slow
def test_cli_train_killed_mid_way_resumes(tmp_path):
    """`mimic train` killed (SIGKILL) after its first checkpoint resumes from it and ends with the
    weights of a run that was never stopped."""
    # 200 steps (about 2 s): long enough after the first checkpoint that the kill lands before
    # the end (with 12 steps an idle machine finished first)
    common = ["train", "--generator", NAME, "--steps", "200", "--batch-size", str(BATCH), "--size", str(SIZE),
              "--checkpoint-every", "4", "--sample-every", "100", "--lr", "0.02"]
    straight = subprocess.run(_cli(*common, "--out", str(tmp_path / "a")), capture_output=True, text=True, env=_env(), timeout=300)
    assert straight.returncode == 0, straight.stderr
    assert "trained tiny from step 0 to 200" in straight.stdout

    process = subprocess.Popen(_cli(*common, "--out", str(tmp_path / "b")), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while latest_checkpoint(tmp_path / "b") is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = checkpoint_step(latest_checkpoint(tmp_path / "b"))
    assert killed_at < 200, "the run ended before it could be killed"

    again = subprocess.run(_cli(*common, "--out", str(tmp_path / "b")), capture_output=True, text=True, env=_env(), timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"resuming from step {killed_at}" in again.stdout
    _, config, first = load_weights(tmp_path / "a")
    _, _, second = load_weights(tmp_path / "b")
    assert config["lr"] == 0.02
    for key, value in first["generator"].items():
        torch.testing.assert_close(second["generator"][key], value, rtol=0, atol=1e-6)
    assert (tmp_path / "b" / SAMPLES_DIR / "step-00000200.png").is_file()
    assert (tmp_path / "b" / latest_checkpoint(tmp_path / "b").name / STATE_FILE).is_file()


def test_cli_train_errors(tmp_path):
    """User errors of `mimic train` (in-process: the CLI turns these MimicErrors into one line, exit 1)."""
    from typer.testing import CliRunner

    from mimic.errors import InputError
    from mimic_cli.app import app

    def run(*args: str):
        return CliRunner().invoke(app, ["train", "--out", str(tmp_path / "o"), *args])

    unknown = run("--generator", "nope")
    assert isinstance(unknown.exception, OptionError)
    assert str(unknown.exception).startswith("unknown generator 'nope' for training; choose one of: ")
    assert "tiny" in str(unknown.exception).split(": ")[-1].split(", ")
    empty = tmp_path / "videos"
    empty.mkdir()
    no_videos = run("--generator", NAME, "--videos", str(empty))
    assert isinstance(no_videos.exception, InputError) and "no videos in" in str(no_videos.exception)
    bad = run("--generator", NAME, "--config", "width")
    assert isinstance(bad.exception, OptionError) and "KEY=VALUE" in str(bad.exception)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_cli_train_stopped_by_sigterm_resumes_bit_for_bit(tmp_path):
    """Issue #17: `mimic train` stopped by SIGTERM (as a scheduler stops a job) says so in one
    line, keeps the checkpoints it wrote, and resumed ends with exactly the weights (bit for
    bit) of a run of the same steps that was never stopped."""
    common = ["train", "--generator", NAME, "--steps", "200", "--batch-size", str(BATCH), "--size", str(SIZE),
              "--checkpoint-every", "4", "--sample-every", "0", "--lr", "0.02"]
    straight = subprocess.run(_cli(*common, "--out", str(tmp_path / "a")), capture_output=True, text=True, env=_env(), timeout=300)
    assert straight.returncode == 0, straight.stderr

    process = subprocess.Popen(_cli(*common, "--out", str(tmp_path / "b")), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while latest_checkpoint(tmp_path / "b") is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    stopped_at = checkpoint_step(latest_checkpoint(tmp_path / "b"))
    assert process.returncode == 128 + signal.SIGTERM and stopped_at < 200, err
    assert err.strip().splitlines()[-1] == "mimic: interrupted; the checkpoints written so far are kept (run it again to resume)"

    again = subprocess.run(_cli(*common, "--out", str(tmp_path / "b")), capture_output=True, text=True, env=_env(), timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"resuming from step {stopped_at}" in again.stdout
    _, _, first = load_weights(tmp_path / "a")
    _, _, second = load_weights(tmp_path / "b")
    for key, value in first["generator"].items():
        assert torch.equal(second["generator"][key], value), key
