"""Checkpoints of `mimic train`: folders that appear whole or not at all.

A checkpoint is a folder `checkpoint-<step>` (8 digits) inside the training's output folder:

- `config.json`: `{"generator": name, "config": asdict(model.config), "step": n,
  "mimic_version": ...}`: enough to rebuild the networks (`mimic.registry`).
- `weights.safetensors`: every network's parameters and buffers, keys `"<net>.<param>"`
  (the networks unwrapped from DistributedDataParallel).
- `training_state.pt`: what only resuming needs: optimizer states, the step, RNG states.

Written into a hidden staging folder and renamed into place (`mimic.media.files.staged_folder`), so
an interrupted write leaves the previous checkpoints as they were. The last `keep` are kept.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import mimic
from mimic.core.trainable import Trainable, unwrap
from mimic.errors import ModelFilesError
from mimic.media.files import staged_folder

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "STATE_FILE", "save_checkpoint", "load_weights", "load_training_state",
           "latest_checkpoint", "list_checkpoints", "checkpoint_step", "restore_rng", "load_nets"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
STATE_FILE = "training_state.pt"
_NAME = re.compile(r"^checkpoint-(\d{8,})$")


def list_checkpoints(out_dir: Path) -> list[Path]:
    """The complete checkpoint folders of a training output folder, oldest step first."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out_dir.iterdir() if (m := _NAME.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found) if (p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file()]


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest checkpoint folder in a training output folder, or None."""
    found = list_checkpoints(out_dir)
    return found[-1] if found else None


def checkpoint_step(folder: Path) -> int:
    """The step a checkpoint folder was taken at (from its config.json); ModelFilesError if unreadable."""
    try:
        return int(json.loads((Path(folder) / CONFIG_FILE).read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelFilesError(f"checkpoint '{folder}' has a corrupt {CONFIG_FILE} ({error})") from None


def save_checkpoint(
    out_dir: Path,
    name: str,
    config: Any,
    nets: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    step: int,
    keep: int = 3,
) -> Path:
    """Writes `out_dir/checkpoint-<step>` atomically and deletes all but the newest `keep`.

    Args:
        name: the generator name it trains under. config: the model's config dataclass.
        nets: networks by name (DistributedDataParallel wrappers are unwrapped).
        optimizers: optimizers by name (their state goes to training_state.pt).
        step: optimisation steps done.
        keep: how many checkpoints to keep (>= 1).
    Returns:
        The checkpoint folder. Raises OutputError if `out_dir` cannot be written.
    """
    from safetensors.torch import save_file

    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    folder_name = f"checkpoint-{step:08d}"
    weights = {}
    for net_name, net in nets.items():
        if "." in net_name:
            raise ValueError(f"network names may not contain '.', got {net_name!r}")
        for key, value in unwrap(net).state_dict().items():
            weights[f"{net_name}.{key}"] = value.detach().to("cpu", copy=True).contiguous()
    meta = {"generator": name, "config": asdict(config), "step": int(step), "mimic_version": mimic.__version__}
    state = {
        "step": int(step),
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "rng": _rng_state(),
    }
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as staging:
        folder = staging / folder_name
        folder.mkdir()
        (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        save_file(weights, str(folder / WEIGHTS_FILE), metadata={"generator": name})
        torch.save(state, folder / STATE_FILE)
        shutil.rmtree(out_dir / folder_name, ignore_errors=True)  # a same-step leftover is replaced
    for old in list_checkpoints(out_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return out_dir / folder_name


def _resolve(folder: Path) -> Path:
    """A checkpoint folder itself, or the newest checkpoint of a training output folder."""
    folder = Path(folder)
    if (folder / CONFIG_FILE).is_file():
        return folder
    newest = latest_checkpoint(folder)
    if newest is None:
        raise ModelFilesError(
            f"'{folder}' is not a mimic checkpoint (no {CONFIG_FILE}, and no checkpoint-* folder in it); "
            "give a folder written by `mimic train`"
        )
    return newest


def load_weights(folder: Path) -> tuple[str, dict, dict[str, dict[str, torch.Tensor]]]:
    """Reads a checkpoint (or the newest one in a training output folder).

    Returns:
        `(generator name, config dict, {net name: state dict})`, tensors on the CPU.
    Raises:
        ModelFilesError when a file is missing or unreadable.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = _resolve(folder)
    try:
        meta = json.loads((folder / CONFIG_FILE).read_text())
        name, config = meta["generator"], meta["config"]
        if not isinstance(name, str) or not isinstance(config, dict):
            raise TypeError("generator must be a string and config an object")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelFilesError(f"checkpoint '{folder}' has a corrupt {CONFIG_FILE} ({error}); train again or pick another") from None
    try:
        flat = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, SafetensorError, ValueError) as error:
        raise ModelFilesError(f"checkpoint '{folder}' has missing or corrupt weights ({error}); train again or pick another") from None
    weights: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        net, _, param = key.partition(".")
        weights.setdefault(net, {})[param] = value
    return name, config, weights


def load_training_state(folder: Path) -> dict:
    """`{"step", "optimizers", "rng"}` of a checkpoint (for resuming); ModelFilesError if unreadable."""
    folder = _resolve(folder)
    try:
        return torch.load(folder / STATE_FILE, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError) as error:
        raise ModelFilesError(f"checkpoint '{folder}' has a missing or corrupt {STATE_FILE} ({error}); cannot resume from it") from None


def _rng_state() -> dict:
    """The RNG states of torch (CPU and CUDA), Python and NumPy, in types `torch.load(weights_only=True)` reads."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    """Puts back the RNG states `save_checkpoint` stored (CUDA ones only where CUDA is available)."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_nets(model: Trainable, weights: dict[str, dict], source: Path | str, every: bool = True) -> None:
    """Loads `{net name: state dict}` into `model.nets` (each strictly); ModelFilesError on a
    mismatch. `every`: `weights` must name every network of the model (else a subset of them
    is loaded, as a subject file holds only the networks that draw)."""
    fits = set(weights) == set(model.nets) if every else set(weights) <= set(model.nets)
    if not fits:
        raise ModelFilesError(f"checkpoint '{source}' holds networks {sorted(weights)}, the model has {sorted(model.nets)}")
    for net_name, state in weights.items():
        try:
            unwrap(model.nets[net_name]).load_state_dict(state)
        except RuntimeError as error:
            raise ModelFilesError(f"checkpoint '{source}' does not fit network {net_name!r}: {str(error).splitlines()[0]}") from None
