"""Generators by name: what `mimic video --generator NAME` and `mimic eval --generator NAME` load.

Each entry imports its module only when asked for, so the CLI starts fast and a generator's
dependencies are needed only by who uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mimic.errors import OptionError

if TYPE_CHECKING:  # torch is imported by the generators themselves, not by the CLI's start
    import torch

    from mimic.generators.base import Generator


@dataclass
class GeneratorOptions:
    """How to load a generator.

    checkpoint: a `mimic train` checkpoint folder (or, for lwgan, pg2 and patn, a personalized `.mimic`
    subject file); None: the weights shipped with mimic (for generators with weights). device: where its tensors live.
    """

    checkpoint: Path | None = None
    device: "torch.device | str" = "cpu"


def _warp(options: GeneratorOptions) -> "Generator":
    from mimic.generators.warp_only import WarpOnlyGenerator

    return WarpOnlyGenerator()


WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


def _pose_transfer(name: str) -> Callable[[GeneratorOptions], "Generator"]:
    """The factory of a trained 2D baseline (PG2, PATN, SPT): the checkpoint of the options, or
    the weights shipped in mimic/weights/<name>/."""

    def load(options: GeneratorOptions) -> "Generator":
        from mimic.generators.pose_transfer import load_pose_transfer

        return load_pose_transfer(name, options.checkpoint or WEIGHTS_DIR / name, options.device)

    return load


def _lwgan(options: GeneratorOptions) -> "Generator":
    from mimic.generators.lwgan import LWGANGenerator, load_lwgan

    return LWGANGenerator(*load_lwgan(options.checkpoint or WEIGHTS_DIR / "lwgan", options.device))


_FACTORIES: dict[str, Callable[[GeneratorOptions], "Generator"]] = {
    "warp": _warp,
    "lwgan": _lwgan,
    "pg2": _pose_transfer("pg2"),
    "patn": _pose_transfer("patn"),
    "spt": _pose_transfer("spt"),
}

GENERATOR_NAMES: tuple[str, ...] = tuple(_FACTORIES)


def load_generator(name: str, options: GeneratorOptions | None = None) -> "Generator":
    """The generator called `name` (one of GENERATOR_NAMES); OptionError for an unknown name."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise OptionError(f"unknown generator {name!r}; choose one of {', '.join(GENERATOR_NAMES)}")
    return factory(options or GeneratorOptions())
