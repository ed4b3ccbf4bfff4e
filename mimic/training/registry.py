"""Trainable models by name: what `mimic train --generator NAME` builds, and the data it learns from.

An entry names, as `"module:function"` strings imported only when used (the CLI starts fast and
a model's dependencies are needed only by who trains it):

- `factory(overrides: dict | None, device, cache_dir: Path | None = None) -> Trainable`: the
  model with its default config updated by `overrides` (a dict of config fields; a
  checkpoint's whole config rebuilds it); `cache_dir` is where one-time builds its training
  needs are kept (the perceptual loss's LPIPS weights; None: mimic's default).
- `batches(options: DataOptions, rank: int, world: int) -> Iterator`: its training batches,
  endless, deterministic by `options.seed`, this rank's shard of `world`, starting at batch
  `options.start` (so a resumed run sees the batches it would have seen). The default is
  `mimic.training.video_pairs:pair_batches` (PairBatch from videos and synthetic pairs); a model
  with its own data (text2pose) names its own.

- `personalization`: how `mimic.personalize` fine-tunes it to one person on pseudo pairs
  (`Personalization`), or None where that makes no sense for the model (SPT: see its module).

Add a model with one line in `_ENTRIES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimic.errors import ModelFilesError, OptionError

if TYPE_CHECKING:  # torch is imported by the models, not by the CLI's start
    import torch

    from mimic.training.trainable import Trainable

__all__ = ["DataOptions", "Personalization", "TrainableEntry", "register", "trainable_names", "personalizable_names", "entry",
           "personalization", "config_with", "create", "batches", "from_checkpoint", "load_nets"]


@dataclass
class DataOptions:
    """What a `batches` factory may use.

    batch_size: examples per batch on each rank. size: side of the square canvas, pixels.
    seed: the data's seed (same seed, same batches). start: index of the first batch to yield
    (the trainer's step when it resumes). videos: a folder of videos of people (None: none).
    images: a folder of images for texture and background patches (None: procedural only).
    synthetic_fraction: share of synthetic pairs when there are videos (1 without videos).
    cache_dir: where per-video detection and fits are cached (None: ~/.cache/mimic).
    max_video_frames: use only the first frames of each video (None: all).
    body_model: the body model meshes come from. progress: show progress bars (rank 0).
    """

    batch_size: int = 8
    size: int = 256
    seed: int = 0
    start: int = 0
    videos: Path | None = None
    images: Path | None = None
    synthetic_fraction: float = 0.5
    cache_dir: Path | None = None
    max_video_frames: int | None = None
    body_model: str = "anny"
    progress: bool = False


@dataclass(frozen=True)
class Personalization:
    """How a model is fine-tuned to one person (`mimic.personalize`), reconstruction only.

    nets: the networks that draw the image: fine-tuned and saved in the subject file (the
    others, its discriminators, are neither used nor saved). overrides: config fields that make
    its training step reconstruction-only (no adversarial or feature-matching term, so no
    discriminator step either) and leave out the LPIPS term (a fine-tune runs under a time
    budget; at 256 pixels the LWGAN would make about a fifth fewer steps). loss: the key of
    its step's log that measures the reconstruction (reported, and what the personalization
    tests check falls).
    """

    nets: tuple[str, ...]
    overrides: dict[str, Any]
    loss: str


@dataclass(frozen=True)
class TrainableEntry:
    """A trainable model: `"module:function"` of its factory and of its data factory, and how it
    is personalized (None: it is not)."""

    factory: str
    batches: str = "mimic.training.video_pairs:pair_batches"
    personalization: Personalization | None = None


_ENTRIES: dict[str, TrainableEntry] = {
    "lwgan": TrainableEntry(
        "mimic.training.lwgan_trainable:create",
        personalization=Personalization(("generator",), {"w_adversarial": 0.0, "w_feature_matching": 0.0, "w_lpips": 0.0}, "l1"),
    ),
    "pg2": TrainableEntry("mimic.models.pg2:create_pg2", personalization=Personalization(("g1", "g2"), {"adversarial_weight": 0.0, "lpips_weight": 0.0}, "l1_refined")),
    "patn": TrainableEntry("mimic.models.patn:create_patn", personalization=Personalization(("g",), {"adversarial_weight": 0.0, "lpips_weight": 0.0}, "l1")),
    "spt": TrainableEntry("mimic.models.spt:create_spt"),  # unpaired: not personalizable (mimic/models/spt.py says why)
    "text2pose": TrainableEntry("mimic.text2pose.model:create_text2pose", "mimic.text2pose.data:text_pose_batches"),
    "text2pose-regression": TrainableEntry("mimic.text2pose.regression:create_text2pose_regression", "mimic.text2pose.data:text_pose_batches"),
}


def register(name: str, new: TrainableEntry) -> None:
    """Adds (or replaces) the model called `name`."""
    _ENTRIES[name] = new


def trainable_names() -> tuple[str, ...]:
    """The names `mimic train --generator` accepts."""
    return tuple(_ENTRIES)


def personalizable_names() -> tuple[str, ...]:
    """The names `mimic personalize --generator` accepts."""
    return tuple(name for name, found in _ENTRIES.items() if found.personalization is not None)


def entry(name: str) -> TrainableEntry:
    """The entry of `name`; OptionError naming the choices for an unknown one."""
    found = _ENTRIES.get(name)
    if found is None:
        choices = ", ".join(_ENTRIES) or "none registered"
        raise OptionError(f"unknown generator {name!r} for training; choose one of: {choices}")
    return found


def personalization(name: str) -> Personalization:
    """How model `name` is personalized; OptionError when it cannot be."""
    found = entry(name).personalization
    if found is None:
        raise OptionError(
            f"generator {name!r} cannot be personalized (its module's docstring says why); "
            f"personalize one of {', '.join(personalizable_names())}, or pass --no-personalize"
        )
    return found


def resolve(target: str) -> Callable[..., Any]:
    """The function a `"module:function"` string names."""
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def config_with(default: Any, overrides: dict | None) -> Any:
    """The config dataclass `default` with the fields in `overrides` replaced (for factories).

    Values are converted to the type of the field's default where that is a plain type (an int
    field accepts "3" and 3.0 when whole, a tuple field a list, ...). OptionError names the
    fields when a key is not one of them or a value does not convert.
    """
    names = {f.name for f in fields(default)}
    unknown = sorted(set(overrides or {}) - names)
    if unknown:
        raise OptionError(f"{type(default).__name__} has no field {', '.join(unknown)}; its fields: {', '.join(sorted(names))}")
    changes = {}
    for key, value in (overrides or {}).items():
        current = getattr(default, key)
        try:
            changes[key] = _convert(value, current)
        except (TypeError, ValueError):
            raise OptionError(f"config field {key!r} must be like {current!r}, got {value!r}") from None
    return replace(default, **changes)


def _convert(value: Any, like: Any) -> Any:
    """`value` as the type of `like` (bool, int, float, str, tuple, list); anything else as is."""
    if isinstance(like, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if isinstance(value, bool):
            return value
        raise ValueError(value)
    if isinstance(like, int):
        number = float(value)
        if not number.is_integer() or isinstance(value, bool):
            raise ValueError(value)
        return int(number)
    if isinstance(like, float):
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if isinstance(like, str):
        return str(value)
    if isinstance(like, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise ValueError(value)
        return type(like)(value)
    return value


def create(name: str, overrides: dict | None = None, device: "torch.device | str" = "cpu", cache_dir: Path | None = None) -> "Trainable":
    """A new model `name` on `device`, its default config updated by `overrides`; its training
    keeps one-time builds in `cache_dir` (None: mimic's default)."""
    return resolve(entry(name).factory)(overrides, device, cache_dir)


def batches(name: str, options: DataOptions, rank: int = 0, world: int = 1) -> Iterator:
    """The training batches of model `name` (see the module docstring)."""
    return resolve(entry(name).batches)(options, rank, world)


def from_checkpoint(folder: Path, device: "torch.device | str" = "cpu") -> "Trainable":
    """The model saved in a checkpoint folder (or the newest checkpoint of a training output
    folder), weights loaded, on `device`. ModelFilesError when the checkpoint is unusable."""
    from mimic.training.checkpoint import load_weights

    name, config, weights = load_weights(folder)
    if name not in _ENTRIES:
        raise ModelFilesError(f"checkpoint '{folder}' is of generator {name!r}, which this mimic cannot build")
    model = create(name, config, device)
    load_nets(model, weights, folder)
    return model


def load_nets(model: "Trainable", weights: dict[str, dict], source: Path | str, every: bool = True) -> None:
    """Loads `{net name: state dict}` into `model.nets` (each strictly); ModelFilesError on a
    mismatch. `every`: `weights` must name every network of the model (else a subset of them
    is loaded, as a subject file holds only the networks that draw)."""
    from mimic.training.checkpoint import unwrap

    fits = set(weights) == set(model.nets) if every else set(weights) <= set(model.nets)
    if not fits:
        raise ModelFilesError(f"checkpoint '{source}' holds networks {sorted(weights)}, the model has {sorted(model.nets)}")
    for net_name, state in weights.items():
        try:
            unwrap(model.nets[net_name]).load_state_dict(state)
        except RuntimeError as error:
            raise ModelFilesError(f"checkpoint '{source}' does not fit network {net_name!r}: {str(error).splitlines()[0]}") from None
