"""What the 2D baselines (PG2, PATN, SPT) share: their inputs, from a training pair or from the
pipeline's bundles, and the generator adapter that runs one of them in the pipeline.

A 2D baseline sees only images, person masks, part maps and keypoints, never the meshes' flow:
that is what makes the comparison with the Liquid Warping GAN meaningful. It runs on the square
canvas it was trained at (`config.size`); the adapter resizes the pipeline's crop to it and the
result back.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from mimic.errors import ModelFilesError, OptionError
from mimic.generators.base import SourceBundle, TargetBundle
from mimic.training.pairs import PairBatch

__all__ = ["PoseTransferInputs", "PoseTransferModel", "PoseTransferGenerator", "body_alpha", "resize_pairs", "load_pose_transfer"]


@dataclass
class PoseTransferInputs:
    """`B` source views and target poses on a `size` square canvas.

    source_image: `(B, 3, H, W)` in [-1, 1]. source_mask: `(B, 1, H, W)` in [0, 1].
    source_parts, target_parts: `(B, H, W)` int64 body-part labels, -1 off the body.
    source_keypoints, target_keypoints: `(B, K, 3)` project keypoints, pixels + confidence.
    """

    source_image: torch.Tensor
    source_mask: torch.Tensor
    source_parts: torch.Tensor
    source_keypoints: torch.Tensor
    target_parts: torch.Tensor
    target_keypoints: torch.Tensor

    @property
    def size(self) -> int:
        return self.source_image.shape[-1]

    @classmethod
    def from_pair(cls, batch: PairBatch, size: int) -> "PoseTransferInputs":
        """The inputs of a training pair; OptionError when its canvas is not the model's `size`."""
        if batch.size != size:
            raise OptionError(
                f"the model is configured for {size}-pixel canvases, the training pairs are {batch.size}: "
                f"train with --size {size} or pass --config size={batch.size}"
            )
        return cls(**{f.name: getattr(batch, f.name) for f in fields(cls)})

    @classmethod
    def from_bundles(cls, source: SourceBundle, target: TargetBundle, size: int) -> "PoseTransferInputs":
        """The first source and the target, resized from the pipeline's canvas to `size`."""
        scale = size / source.images.shape[-1]
        return cls(
            _resize(source.images[:1], size),
            _resize(source.masks[:1], size),
            _resize_labels(source.parts[:1], size),
            _scale_keypoints(source.keypoints[:1], scale),
            _resize_labels(target.parts, size),
            _scale_keypoints(target.keypoints, scale),
        )


class PoseTransferModel(Protocol):
    """A trained 2D baseline: its config has the canvas `size` it works at."""

    name: str
    config: Any

    def transfer(self, inputs: PoseTransferInputs) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`(B, 3, H, W)` in [-1, 1], the person in the target pose (with a background), and its
        person alpha `(B, 1, H, W)` in [0, 1], or None when the model predicts no person mask."""
        ...


def _resize(image: torch.Tensor, size: int) -> torch.Tensor:
    if image.shape[-1] == size:
        return image
    mode = "area" if size < image.shape[-1] else "bilinear"
    return F.interpolate(image, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))


def _resize_labels(labels: torch.Tensor, size: int) -> torch.Tensor:
    if labels.shape[-1] == size:
        return labels
    return F.interpolate(labels[:, None].float(), size=(size, size), mode="nearest")[:, 0].long()


def _scale_keypoints(keypoints: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.cat((keypoints[..., :2] * scale, keypoints[..., 2:]), -1)


def resize_pairs(batch: PairBatch, size: int) -> PairBatch:
    """The pairs on a `size` square canvas (a baseline's `config.size`): images, masks,
    correspondence maps, visibility and the flow grid resampled (area down, bilinear up; the
    grid's normalized coordinates stay valid), part labels by nearest pixel, keypoints scaled."""
    if batch.size == size:
        return batch
    images = {name: _resize(getattr(batch, name), size) for name in (
        "source_image", "source_mask", "source_correspondence", "target_image", "target_mask", "target_correspondence", "visibility", "background",
    )}
    scale = size / batch.size
    return PairBatch(
        **images,
        source_parts=_resize_labels(batch.source_parts, size),
        target_parts=_resize_labels(batch.target_parts, size),
        source_keypoints=_scale_keypoints(batch.source_keypoints, scale),
        target_keypoints=_scale_keypoints(batch.target_keypoints, scale),
        grid=_resize(batch.grid.permute(0, 3, 1, 2), size).permute(0, 2, 3, 1).contiguous(),
    )


def body_alpha(parts: torch.Tensor, grow: int) -> torch.Tensor:
    """The target's body coverage `parts (B, H, W) >= 0`, grown by `grow` pixels (hair and clothes
    reach past the naked body) with a one-pixel soft edge: `(B, 1, H, W)` in [0, 1]."""
    covered = (parts >= 0)[:, None].float()
    if grow > 0:
        covered = F.max_pool2d(covered, 2 * grow + 1, 1, grow)
    return F.avg_pool2d(covered, 3, 1, 1, count_include_pad=False)


class PoseTransferGenerator:
    """Runs a 2D baseline in the pipeline: the first source photo and the target's keypoints in,
    the generated person composited over `target.background` by the model's person alpha (SPT)
    or, for models without one (PG2, PATN), by the target mesh's body coverage grown by 1/32
    of the canvas."""

    def __init__(self, model: PoseTransferModel) -> None:
        self.model = model
        self.name = model.name

    def generate(self, source: SourceBundle, target: TargetBundle) -> torch.Tensor:
        """`(1, 3, H, W)` in [-1, 1]: the subject in the target's pose over `target.background`."""
        height = source.images.shape[-1]
        inputs = PoseTransferInputs.from_bundles(source, target, self.model.config.size)
        image, alpha = self.model.transfer(inputs)
        image = _resize(image, height)
        alpha = body_alpha(target.parts, max(1, height // 32)) if alpha is None else _resize(alpha, height)
        alpha = alpha.to(image.dtype)
        return (alpha * image + (1 - alpha) * target.background.to(image.dtype)).clamp(-1, 1)


def load_pose_transfer(name: str, folder: Path, device: torch.device | str = "cpu") -> PoseTransferGenerator:
    """The 2D baseline `name` from a `mimic train` checkpoint folder (or a training output folder:
    its newest checkpoint) or a personalized `.mimic` subject file, in inference mode on
    `device`. ModelFilesError when the folder is missing or holds another model."""
    from mimic.subject_file import SUBJECT_SUFFIX, load_subject
    from mimic.training.registry import from_checkpoint

    folder = Path(folder)
    if folder.suffix == SUBJECT_SUFFIX:
        return PoseTransferGenerator(load_subject(folder, name, device)[0])
    if not folder.exists():
        raise ModelFilesError(
            f"no weights for generator {name!r} at '{folder}': train them with "
            f"`mimic train --generator {name} --out DIR` and ship DIR's last checkpoint in mimic/weights/{name}/"
        )
    model = from_checkpoint(folder, device)
    if model.name != name:
        raise ModelFilesError(f"'{folder}' holds a {model.name!r} checkpoint, not {name!r}")
    for net in model.nets.values():
        net.eval().requires_grad_(False)
    return PoseTransferGenerator(model)
