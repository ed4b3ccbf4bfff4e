"""The attentional Liquid Warping GAN as a pipeline generator.

The subject's sources go through the source identity stream once and their features are kept
(and the source background through the background stream once); each frame then costs only
the transfer stream. Its weights are loaded by `mimic.registry.load_generator("lwgan", ...)`.
"""

from __future__ import annotations

import torch

from mimic.core.bundles import SourceBundle, TargetBundle, check_bundles
from mimic.core.trainable import Trainable
from mimic.networks.lwgan import LWGAN, SourceFeatures, body_mask
from warping.texture import sample_texture

__all__ = ["LWGANGenerator"]


class LWGANGenerator:
    """Synthesizes frames with an `LWGAN`.

    Args:
        model: the network (its device is where inputs go).
        weights: the hash naming its weights (`mimic.registry.LoadedModel.weights`).
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

    @classmethod
    def of(cls, model: Trainable, weights: str = "") -> "LWGANGenerator":
        """The generator of a loaded LWGAN trainable (`mimic.networks.lwgan_training`): its
        `"generator"` network, in eval mode."""
        return cls(model.nets["generator"], weights)

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
        (the background stream's output where that is the source background), refining the
        warp-only frame of the same sources and texture."""
        check_bundles(source, target)
        with torch.no_grad():
            self._prepare(source)
            device = self._background.device
            background = self._background if target.background is source.background else target.background.to(device)
            covered = (target.fragments.face_id >= 0)[:, None].to(source.images.dtype)
            fill = sample_texture(source.texture, target.uv) * covered
            output = self.model.transfer(
                self._features, source.images.to(device), target.grids[None].to(device), target.weights[None, :, None].to(device),
                target.correspondence.to(device), background, fill.to(device),
            )
        return output.image.clamp(-1.0, 1.0).to(source.images.device)
