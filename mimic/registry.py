"""Every model by name, and the one loader of their weights.

One entry per name says everything mimic does with that model, as `"module:attribute"`
strings imported only when used (the CLI starts fast and a model's dependencies are needed
only by who uses it):

- `factory(overrides: dict | None, device, cache_dir: Path | None = None) -> Trainable`: the
  model with its default config updated by `overrides` (a dict of config fields; a
  checkpoint's whole config rebuilds it); `cache_dir` is where one-time builds its training
  needs are kept (the perceptual loss's LPIPS weights; None: mimic's default). None for a
  renderer with no network (warp).
- `generator(model: Trainable, weights: str) -> Generator`: the pipeline adapter that draws
  frames with a loaded model (`weights` names its weights), or, without a factory, the
  renderer itself, called with no argument. None for a model the pipeline does not draw
  with (text2pose).
- `batches(options: DataOptions, rank: int, world: int) -> Iterator`: its training batches,
  endless, deterministic by `options.seed`, this rank's shard of `world`, starting at batch
  `options.start` (so a resumed run sees the batches it would have seen). The default is
  `mimic.training.video_pairs:pair_batches` (PairBatch from videos and synthetic pairs); a
  model with its own data (text2pose) names its own.
- `personalization`: how `mimic.tasks.personalize` fine-tunes it to one person on pseudo
  pairs, or None where that makes no sense for the model (SPT: see its module).
- shipped weights: `mimic/weights/<name>/` (`mimic.core.paths.WEIGHTS_DIR`), a `mimic train`
  checkpoint, for every model with a factory.

`load_model` loads any of them from shipped weights, a `mimic train` checkpoint (or training
output folder) or a personalized `.mimic` subject file; `load_generator` wraps that in the
pipeline adapter. Add a model with one entry in `_ENTRIES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimic.core.paths import WEIGHTS_DIR
from mimic.errors import ModelFilesError, OptionError

if TYPE_CHECKING:  # torch is imported by the models, not by the CLI's start
    import torch

    from mimic.core.bundles import Generator
    from mimic.core.trainable import Trainable
    from mimic.training.data_options import DataOptions

__all__ = ["Personalization", "ModelEntry", "LoadedModel", "GeneratorOptions", "GENERATOR_NAMES", "register", "entry", "trainable_entry",
           "trainable_names", "personalizable_names", "personalization", "create", "batches", "load_model", "load_generator"]


@dataclass(frozen=True)
class Personalization:
    """How a model is fine-tuned to one person (`mimic.tasks.personalize`), reconstruction only.

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
class ModelEntry:
    """A model: `"module:attribute"` of its factory, of its pipeline adapter and of its data
    factory, and how it is personalized (see the module docstring)."""

    factory: str | None
    generator: str | None = None
    batches: str = "mimic.training.video_pairs:pair_batches"
    personalization: Personalization | None = None


_ENTRIES: dict[str, ModelEntry] = {
    "warp": ModelEntry(None, "mimic.generators.warp_only:WarpOnlyGenerator"),
    "lwgan": ModelEntry(
        "mimic.networks.lwgan_training:create",
        "mimic.generators.lwgan:LWGANGenerator.of",
        personalization=Personalization(("generator",), {"w_adversarial": 0.0, "w_feature_matching": 0.0, "w_lpips": 0.0}, "l1"),
    ),
    "pg2": ModelEntry(
        "mimic.networks.pg2:create_pg2", "mimic.generators.pose_transfer:PoseTransferGenerator",
        personalization=Personalization(("g1", "g2"), {"adversarial_weight": 0.0, "lpips_weight": 0.0}, "l1_refined"),
    ),
    "patn": ModelEntry(
        "mimic.networks.patn:create_patn", "mimic.generators.pose_transfer:PoseTransferGenerator",
        personalization=Personalization(("g",), {"adversarial_weight": 0.0, "lpips_weight": 0.0}, "l1"),
    ),
    # unpaired: not personalizable (mimic/networks/spt.py says why)
    "spt": ModelEntry("mimic.networks.spt:create_spt", "mimic.generators.pose_transfer:PoseTransferGenerator"),
    "text2pose": ModelEntry("mimic.text2pose.model:create_text2pose", batches="mimic.text2pose.data:text_pose_batches"),
    "text2pose-regression": ModelEntry(
        "mimic.text2pose.regression:create_text2pose_regression", batches="mimic.text2pose.data:text_pose_batches"
    ),
}

GENERATOR_NAMES: tuple[str, ...] = tuple(name for name, found in _ENTRIES.items() if found.generator is not None)
"""The names `mimic video --generator` accepts."""


def register(name: str, new: ModelEntry) -> None:
    """Adds (or replaces) the model called `name`."""
    _ENTRIES[name] = new


def entry(name: str) -> ModelEntry:
    """The entry of `name`; OptionError naming the choices for an unknown one."""
    found = _ENTRIES.get(name)
    if found is None:
        raise OptionError(f"unknown generator {name!r}; choose one of: {', '.join(_ENTRIES)}")
    return found


def trainable_names() -> tuple[str, ...]:
    """The names `mimic train --generator` accepts."""
    return tuple(name for name, found in _ENTRIES.items() if found.factory is not None)


def personalizable_names() -> tuple[str, ...]:
    """The names `mimic personalize --generator` accepts."""
    return tuple(name for name, found in _ENTRIES.items() if found.personalization is not None)


def personalization(name: str) -> Personalization:
    """How model `name` is personalized; OptionError when it cannot be."""
    found = entry(name).personalization
    if found is None:
        raise OptionError(
            f"generator {name!r} cannot be personalized (its module's docstring says why); "
            f"personalize one of {', '.join(personalizable_names())}, or pass --no-personalize"
        )
    return found


def _resolve(target: str) -> Any:
    """What a `"module:attribute"` string names (the attribute may be dotted: `Class.method`)."""
    module, _, attribute = target.partition(":")
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def trainable_entry(name: str) -> ModelEntry:
    """The entry of a model `mimic train` can train; OptionError naming the choices otherwise."""
    found = _ENTRIES.get(name)
    if found is None or found.factory is None:
        raise OptionError(f"unknown generator {name!r} for training; choose one of: {', '.join(trainable_names())}")
    return found


def create(name: str, overrides: dict | None = None, device: "torch.device | str" = "cpu", cache_dir: Path | None = None) -> "Trainable":
    """A new model `name` on `device`, its default config updated by `overrides`; its training
    keeps one-time builds in `cache_dir` (None: mimic's default)."""
    return _resolve(trainable_entry(name).factory)(overrides, device, cache_dir)


def batches(name: str, options: "DataOptions", rank: int = 0, world: int = 1) -> Iterator:
    """The training batches of model `name` (see the module docstring)."""
    return _resolve(trainable_entry(name).batches)(options, rank, world)


@dataclass
class LoadedModel:
    """A model with its weights loaded: `model` and `weights`, 16 hex digits naming them (a
    subject file's base weights; else the loaded networks' content, `weights_hash`)."""

    model: "Trainable"
    weights: str


def load_model(
    name: str | None,
    path: Path | None = None,
    device: "torch.device | str" = "cpu",
    *,
    nets: tuple[str, ...] | None = None,
    overrides: dict | None = None,
    inference: bool = True,
) -> LoadedModel:
    """The model `name` with its weights, the one way mimic loads weights.

    Args:
        name: the model's registry name; None: whatever model `path` holds.
        path: a `mimic train` checkpoint folder (or a training output folder: its newest
            checkpoint) or a personalized `.mimic` subject file; None: the weights shipped in
            `mimic/weights/<name>/`.
        nets: load only these networks (the others keep their fresh weights); None: every
            network the file holds (a checkpoint must hold all of them).
        overrides: config fields changed from the file's (a personalization's).
        device: where the networks are built.
        inference: put every network in eval mode without gradients.
    Raises:
        ModelFilesError: the weights are missing, unreadable or of another model.
    """
    from mimic.training.checkpoint import CONFIG_FILE, latest_checkpoint, load_nets, load_weights
    from mimic.training.subject_file import SUBJECT_SUFFIX, check_generator, read_subject, weights_hash

    if path is None and name is None:
        raise ValueError("load_model needs a model name or a path")
    source = Path(path) if path is not None else WEIGHTS_DIR / name
    subject = source.suffix == SUBJECT_SUFFIX
    if subject:
        found = read_subject(source)
        held, config, weights, base = found.generator, found.config, found.weights, found.base
    elif source.exists() and (name is None or source.is_file() or (source / CONFIG_FILE).is_file() or latest_checkpoint(source) is not None):
        held, config, weights = load_weights(source)
        base = None
    elif name is None:
        raise ModelFilesError(f"no weights at '{source}': give a `mimic train` checkpoint (or run) folder or a `.mimic` subject file")
    else:
        shipping = f" and ship DIR's last checkpoint in mimic/weights/{name}/" if path is None else ""
        raise ModelFilesError(f"no weights for generator {name!r} at '{source}': train them with `mimic train --generator {name} --out DIR`{shipping}")
    if name is not None and subject:
        check_generator(source, held, name)
    elif name is not None and held != name:
        raise ModelFilesError(f"'{source}' holds a {held!r} checkpoint, not {name!r}")
    if held not in _ENTRIES or _ENTRIES[held].factory is None:
        raise ModelFilesError(f"'{source}' holds a {held!r} model, which this mimic cannot build")
    if nets is not None:
        missing = sorted(set(nets) - set(weights))
        if missing:
            raise ModelFilesError(f"'{source}' holds no network {', '.join(missing)} of {held!r}; give a `mimic train` checkpoint of it")
        weights = {net: weights[net] for net in nets}
    model = create(held, {**config, **(overrides or {})}, device)
    load_nets(model, weights, source, every=nets is None and not subject)
    if inference:
        for net in model.nets.values():
            net.eval().requires_grad_(False)
    return LoadedModel(model, base or weights_hash(weights))


@dataclass
class GeneratorOptions:
    """How to load a generator.

    checkpoint: a `mimic train` checkpoint folder (or, for lwgan, pg2 and patn, a personalized
    `.mimic` subject file); None: the weights shipped with mimic (for generators with
    weights). device: where its tensors live.
    """

    checkpoint: Path | None = None
    device: "torch.device | str" = "cpu"


def load_generator(name: str, options: GeneratorOptions | None = None) -> "Generator":
    """The pipeline generator called `name` (one of GENERATOR_NAMES) with its weights
    (`load_model`); OptionError for an unknown name."""
    options = options or GeneratorOptions()
    found = _ENTRIES.get(name)
    if found is None or found.generator is None:
        raise OptionError(f"unknown generator {name!r}; choose one of {', '.join(GENERATOR_NAMES)}")
    adapter = _resolve(found.generator)
    if found.factory is None:
        return adapter()
    loaded = load_model(name, options.checkpoint, options.device)
    return adapter(loaded.model, loaded.weights)
