"""The attentional Liquid Warping GAN as a pipeline generator.

The subject's sources go through the source identity stream once and their features are kept
(and the source background through the background stream once); each frame then costs only
the transfer stream. Weights: the base model shipped in `mimic/weights/lwgan/`, a `mimic
train` checkpoint folder, or a personalized subject file (`.mimic`, see `mimic.personalize`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from mimic.errors import ModelFilesError
from mimic.generators.base import SourceBundle, TargetBundle
from mimic.models.lwgan import LWGAN, LWGANConfig, SourceFeatures, body_mask
from mimic.subject_file import SUBJECT_SUFFIX, check_generator, read_tensors

__all__ = ["LWGANGenerator", "load_lwgan", "DEFAULT_WEIGHTS"]

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "lwgan"
_PREFIX = "generator."


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _generator_config(values: dict) -> LWGANConfig:
    """The network's configuration from a checkpoint's config.json: the training configuration
    (`LWGANTrainConfig.to_dict()`, possibly under "config") or the network's own."""
    values = values.get("config", values)
    values = values.get("generator", values)
    return LWGANConfig(**values)


def load_lwgan(path: Path | None = None, device: torch.device | str = "cpu") -> tuple[LWGAN, str]:
    """The network (in eval mode, on `device`) and a hash naming its weights.

    Args:
        path: a checkpoint folder (config.json + weights.safetensors, the shipped weights'
            layout and `mimic train`'s), a personalized `.mimic` subject file, or None for
            the shipped base model.
    Raises:
        ModelFilesError: the files are missing or do not hold an LWGAN.
    """
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if path.suffix == SUBJECT_SUFFIX:
        weights, config_text = path, None
    else:
        weights, config_file = path / "weights.safetensors", path / "config.json"
        if not config_file.is_file():
            raise ModelFilesError(f"no LWGAN weights at '{path}' (config.json missing); train them with `mimic train --generator lwgan`")
        config_text = config_file.read_text()
    if not weights.is_file():
        raise ModelFilesError(f"no LWGAN weights at '{weights}'; train them with `mimic train --generator lwgan`")
    try:
        metadata, state = read_tensors(weights)
        if config_text is None:  # a subject file
            check_generator(path, metadata.get("generator", "lwgan"), "lwgan")
            config_text = metadata["config"]
        if any(k.startswith(_PREFIX) for k in state):  # a training checkpoint or subject file: keep the generator
            state = {k[len(_PREFIX) :]: v for k, v in state.items() if k.startswith(_PREFIX)}
        model = LWGAN(_generator_config(json.loads(config_text)))
        model.load_state_dict(state)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, json.JSONDecodeError) as error:
        raise ModelFilesError(f"'{path}' does not hold LWGAN weights mimic can use: {str(error).splitlines()[0]}") from None
    return model.to(device).eval(), metadata.get("base", _file_hash(weights))


class LWGANGenerator:
    """Synthesizes frames with an `LWGAN`.

    Args:
        model: the network (its device is where inputs go).
        weights: the hash naming its weights (personalization caches key on it).
        inpaint_background: run the background stream on the source background (where the
            source person was). False (default) keeps the pipeline's plate (OpenCV's
            inpainting): the shipped base model's background stream, trained briefly on a CPU,
            scored below it on both shared videos (`mimic eval`, SSIM and mask-SSIM).
    """

    name = "lwgan"

    def __init__(self, model: LWGAN, weights: str = "", inpaint_background: bool = False) -> None:
        self.model = model.eval()
        self.weights = weights
        self.inpaint_background = inpaint_background
        self._source: SourceBundle | None = None
        self._features: SourceFeatures | None = None
        self._background: torch.Tensor | None = None

    def _prepare(self, source: SourceBundle) -> None:
        """Encodes the sources and fills the source background, once per SourceBundle."""
        if source is self._source:
            return
        device = next(self.model.parameters()).device
        person = (source.fragments.face_id >= 0)[:, None].to(source.images.dtype) * (source.masks >= 0.5).to(source.images.dtype)
        features, _ = self.model.encode_sources(source.images.to(device), source.correspondence.to(device), person.to(device))
        background = source.background.to(device)
        if self.inpaint_background:
            hole = torch.maximum(body_mask(person[:1].to(device), self.model.config.body_dilation), person[:1].to(device))
            background = self.model.background(background, hole)
        self._source, self._features, self._background = source, features, background

    def generate(self, source: SourceBundle, target: TargetBundle) -> torch.Tensor:
        """`(1, 3, H, W)` in [-1, 1]: the subject in the target's pose over `target.background`
        (the background stream's output where that is the source background)."""
        count, _, height, width = source.images.shape
        if target.grids.shape != (count, height, width, 2):
            raise ValueError(f"target.grids must be ({count}, {height}, {width}, 2) for {count} sources, got {tuple(target.grids.shape)}")
        if target.weights.shape != (count, height, width):
            raise ValueError(f"target.weights must be ({count}, {height}, {width}), got {tuple(target.weights.shape)}")
        if target.correspondence.shape != (1, 4, height, width):
            raise ValueError(f"target.correspondence must be (1, 4, {height}, {width}), got {tuple(target.correspondence.shape)}")
        with torch.no_grad():
            self._prepare(source)
            device = self._background.device
            background = self._background if target.background is source.background else target.background.to(device)
            output = self.model.transfer(
                self._features, source.images.to(device), target.grids[None].to(device), target.weights[None, :, None].to(device),
                target.correspondence.to(device), background,
            )
        return output.image.clamp(-1.0, 1.0).to(source.images.device)
