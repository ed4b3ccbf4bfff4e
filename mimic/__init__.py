"""mimic: human motion imitation with 3D body meshes (Liquid Warping GAN family).

The public Python API (see the README, "Python API"); names load on first use, so
`import mimic` stays quick:

- one-call helpers: `imitate_video`, `imitate_group`, `novel_views`, `swap`, `fit`, `text_to_pose`, and
  `make_imitator` (load a body model and a generator once for many runs);
- the pipeline: `Imitator` (`prepare(photos) -> Subject`, `imitate(subject, frames)`),
  `ImitatorConfig`, `Subject`, `ImitatedFrame`;
- generators by name: `GENERATOR_NAMES`, `load_generator`, `GeneratorOptions`;
- body models: `BODY_MODELS`, `load_body_model` (by name, in mimic's cache folder), `BodyModel` (the protocol);
- media: `read_image`, `write_image`, `VideoReader`, `VideoWriter`;
- errors: `MimicError` and its kinds (`NoPersonError`, `InputError`, `OptionError`,
  `OutputError`, `ModelFilesError`).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "imitate_video": "mimic.api",
    "imitate_group": "mimic.api",
    "novel_views": "mimic.api",
    "swap": "mimic.api",
    "fit": "mimic.api",
    "text_to_pose": "mimic.api",
    "make_imitator": "mimic.api",
    "Imitator": "mimic.pipeline.imitator",
    "ImitatorConfig": "mimic.pipeline.imitator",
    "Subject": "mimic.pipeline.imitator",
    "ImitatedFrame": "mimic.pipeline.imitator",
    "VideoSummary": "mimic.tasks.video",
    "PANELS": "mimic.tasks.video",
    "GENERATOR_NAMES": "mimic.registry",
    "GeneratorOptions": "mimic.registry",
    "load_generator": "mimic.registry",
    "BODY_MODELS": "bodymesh.registry",
    "load_body_model": "mimic.pipeline.body",
    "BodyModel": "bodymesh.body_model",
    "read_image": "mimic.media.images",
    "write_image": "mimic.media.images",
    "VideoReader": "mimic.media.video_read",
    "VideoWriter": "mimic.media.video_write",
    "MimicError": "mimic.errors",
    "NoPersonError": "mimic.errors",
    "InputError": "mimic.errors",
    "OptionError": "mimic.errors",
    "OutputError": "mimic.errors",
    "ModelFilesError": "mimic.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    """The public name `name`, imported from its module on first use."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'mimic' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
