"""The `.mimic` subject file: a generator personalized to one person (`mimic.tasks.personalize`).

A safetensors file of the networks that draw (keys `"<net>.<param>"`, as in a `mimic train`
checkpoint) whose JSON header holds: format, generator (its registry name), config (the
model's whole config: `mimic.registry.create(generator, config)` rebuilds it), base (hash of
the base weights it was fine-tuned from), key (the personalization's cache key) and info (what
it took). `mimic.registry.load_model` loads one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from mimic.core.trainable import Trainable
from mimic.errors import ModelFilesError
from mimic.media.tensor_file import read_tensors, write_tensors

__all__ = ["FORMAT", "SUBJECT_SUFFIX", "SubjectFile", "weights_hash", "save_subject", "read_subject", "check_generator"]

FORMAT = "mimic-subject/1"
SUBJECT_SUFFIX = ".mimic"


@dataclass
class SubjectFile:
    """A subject file's contents: the header's fields and `weights` `{net: state dict}` (CPU)."""

    generator: str
    config: dict
    weights: dict[str, dict[str, torch.Tensor]]
    base: str
    key: str
    info: dict


def weights_hash(weights: dict[str, dict[str, torch.Tensor]]) -> str:
    """16 hex digits naming `{net: state dict}` by content (names, dtypes, shapes and values)."""
    digest = hashlib.sha256()
    for net in sorted(weights):
        for name in sorted(weights[net]):
            tensor = weights[net][name].detach().cpu().contiguous()
            digest.update(f"{net}.{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16]


def save_subject(path: Path, model: Trainable, nets: Sequence[str], base: str, key: str, info: dict) -> None:
    """Writes `model`'s networks `nets` as a subject file, atomically (a temporary file renamed
    into place); `base`, `key` and `info` (JSON values) go to the header. OutputError if it cannot."""
    metadata = {
        "format": FORMAT,
        "generator": model.name,
        "config": json.dumps(asdict(model.config)),
        "base": base,
        "key": key,
        "info": json.dumps(info),
    }
    write_tensors(path, {f"{net}.{name}": tensor for net in nets for name, tensor in model.nets[net].state_dict().items()}, metadata)


def read_subject(path: Path) -> SubjectFile:
    """The contents of a subject file; ModelFilesError when it is missing or not one."""
    from safetensors import SafetensorError

    path = Path(path)
    if not path.is_file():
        raise ModelFilesError(f"no subject file at '{path}'; make one with `mimic personalize --out {path.name}`")
    try:
        metadata, flat = read_tensors(path)
        if metadata.get("format") != FORMAT:
            raise ValueError(f"format {metadata.get('format')!r}, not {FORMAT!r}")
        config, info = json.loads(metadata["config"]), json.loads(metadata.get("info", "{}"))
        generator, base, key = metadata["generator"], metadata.get("base", ""), metadata.get("key", "")
    except (OSError, SafetensorError, KeyError, ValueError) as error:
        raise ModelFilesError(f"'{path}' is not a mimic subject file: {str(error).splitlines()[0]}; make it again with `mimic personalize`") from None
    weights: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in flat.items():
        net, _, param = name.partition(".")
        weights.setdefault(net, {})[param] = tensor
    return SubjectFile(generator, config, weights, base, key, info)


def check_generator(path: Path, found: str, wanted: str) -> None:
    """ModelFilesError when the subject file at `path`, of generator `found`, is used as `wanted`."""
    if found != wanted:
        raise ModelFilesError(f"'{path}' is a personalized {found!r}, not {wanted!r}: use it with --generator {found}, or personalize {wanted}")
