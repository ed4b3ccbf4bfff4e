"""Training the attentional Liquid Warping GAN: the generator of `mimic.networks.lwgan`, a patch
discriminator conditioned on the target's correspondence map, an optional face-crop
discriminator, and the loss set.

Losses of the generator (weights in `LWGANTrainConfig`): L1 of the frame (body pixels count
`body_weight` times more), the perceptual loss of the frame (LPIPS: ImageNet AlexNet features
by default, the paper's VGG with `lpips_net="vgg"`; `mimic.networks.losses.PerceptualLoss`),
SSIM and the discriminators' feature matching, the adversarial term (LSGAN or hinge), the
attention-mask regulariser (where a source sees the pixel, or off the mesh where the background
is known, those pixels should be used), the source stream's reconstruction of its source, and
the background stream's reconstruction of the plate in the person's hole. Two optional terms
teach the mask where drawing pays instead of merely keeping it small: the mask's cross-entropy
against its oracle (open where the transfer stream's drawing is nearer the target than the
warp-only frame; `mimic.networks.losses.blend_oracle_loss`), and an L1 of the drawing itself on
the body, so that it keeps learning where the mask is shut.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bodymesh.keypoints import KEYPOINT_NAMES
from mimic.core.configs import config_with
from mimic.core.pairs import PairBatch
from mimic.networks.blocks import PatchDiscriminator
from mimic.networks.losses import (
    GAN_KINDS, PerceptualLoss, attention_mask_loss, blend_oracle_loss, discriminator_loss, feature_matching_loss, generator_adversarial_loss,
    ssim_loss, weighted_l1,
)
from mimic.networks.lwgan import LWGAN, LWGANConfig, LWGANOutput, body_mask

__all__ = ["LWGANTrainConfig", "LWGANTrainable", "create", "face_boxes", "crop_boxes", "source_views"]

_FACE_POINTS = tuple(KEYPOINT_NAMES.index(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))


@dataclass
class LWGANTrainConfig:
    """Everything that rebuilds and trains an LWGAN (saved with its checkpoints).

    generator: the network's configuration. disc_width / disc_layers: the patch
    discriminator's. face_size: side (pixels) of the face crops of the face discriminator; 0
    switches it off. gan: "lsgan" or "hinge". lr_g, lr_d, beta1, beta2: Adam's. lpips_net: the
    perceptual loss's trunk, "alex" or "vgg" (~20x the cost).
    The `w_*` are the loss weights (`w_lpips` 0: no perceptual loss; `w_blend` the mask's oracle
    cross-entropy, `w_drawn` the drawing's own L1 on the body, 0: off); with `w_adversarial` and
    `w_feature_matching` both 0 the discriminators are neither used nor trained (a
    reconstruction-only fine-tune). multi_source_every: a batch with extra sources
    (`PairBatch.sources` > 1) is used with all of them on every `multi_source_every`-th step
    (1: always), with its first source alone on the others, so that the attention learns to
    fuse views and the network still draws from one.
    """

    generator: LWGANConfig = field(default_factory=LWGANConfig)
    disc_width: int = 32
    disc_layers: int = 3
    face_size: int = 32
    gan: str = "lsgan"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    body_weight: float = 4.0
    w_l1: float = 10.0
    w_ssim: float = 2.0
    w_lpips: float = 2.0
    lpips_net: str = "alex"
    w_feature_matching: float = 2.0
    w_adversarial: float = 1.0
    w_mask: float = 0.5
    w_source: float = 5.0
    w_background: float = 5.0
    w_blend: float = 0.0
    w_drawn: float = 0.0
    multi_source_every: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.generator, dict):
            self.generator = LWGANConfig(**self.generator)
        if self.gan not in GAN_KINDS:
            raise ValueError(f"gan must be one of {', '.join(GAN_KINDS)}, got {self.gan!r}")
        if self.multi_source_every < 1:
            raise ValueError(f"multi_source_every must be >= 1, got {self.multi_source_every}")
        if self.face_size < 0 or self.face_size % 8:
            raise ValueError(f"face_size must be 0 or a positive multiple of 8, got {self.face_size}")

    @property
    def adversarial(self) -> bool:
        """Whether the discriminators take part."""
        return self.w_adversarial > 0 or self.w_feature_matching > 0

    def to_dict(self) -> dict:
        """Plain JSON-serialisable values (`from_dict` inverts it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "LWGANTrainConfig":
        """The configuration from `to_dict`'s values; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown LWGAN configuration keys: {', '.join(unknown)}")
        return cls(**values)


def face_boxes(keypoints: torch.Tensor, size: int, canvas: int) -> torch.Tensor:
    """`(B, 4)` square boxes `(x0, y0, x1, y1)` in pixels around the faces of `keypoints
    (B, K, 3)` (pixels + confidence; nose, eyes and ears), of side `size * canvas / 256`
    pixels at least, twice the face keypoints' spread otherwise; kept inside the canvas."""
    face = keypoints[:, _FACE_POINTS, :2]
    centre = face.mean(1)
    spread = (face.amax(1) - face.amin(1)).amax(1)
    side = torch.maximum(2.0 * spread, spread.new_tensor(size * canvas / 256.0)).clamp(max=canvas)
    low = (centre - side[:, None] / 2).clamp(min=0)
    low = torch.minimum(low, canvas - side[:, None])
    return torch.cat((low, low + side[:, None]), 1)


def crop_boxes(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear crops `(B, C, size, size)` of `images (B, C, H, W)` inside `boxes (B, 4)` pixels."""
    height, width = images.shape[-2:]
    t = torch.linspace(0.0, 1.0, size, device=images.device, dtype=images.dtype)
    t = (t * (size - 1) + 0.5) / size  # pixel centres of the crop
    x = boxes[:, 0:1] + (boxes[:, 2:3] - boxes[:, 0:1]) * t  # (B, size)
    y = boxes[:, 1:2] + (boxes[:, 3:4] - boxes[:, 1:2]) * t
    grid = torch.stack(torch.broadcast_tensors(x[:, None, :] * 2 / width - 1, y[:, :, None] * 2 / height - 1), -1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def source_views(batch: PairBatch) -> dict[str, torch.Tensor]:
    """Every source of `batch`'s `B` targets as the LWGAN takes them, `S = batch.sources`:
    "image" `(B * S, 3, H, W)`, "mask" `(B * S, 1, H, W)`, "correspondence" `(B * S, 4, H, W)`
    (the sources of one target consecutive, the first source first), "grid" `(B, S, H, W, 2)`,
    "visibility" `(B, S, 1, H, W)`."""
    views = {}
    for name, (first, extra) in _SOURCE_FIELDS.items():
        value = getattr(batch, first)[:, None]
        if batch.sources > 1:
            value = torch.cat((value, getattr(batch, extra)), 1)
        views[name] = value if name in ("grid", "visibility") else value.flatten(0, 1)
    return views


_SOURCE_FIELDS = {  # source_views' name: the PairBatch fields of the first and of the extra sources
    "image": ("source_image", "extra_source_image"), "mask": ("source_mask", "extra_source_mask"),
    "correspondence": ("source_correspondence", "extra_source_correspondence"), "grid": ("grid", "extra_grid"),
    "visibility": ("visibility", "extra_visibility"),
}


class LWGANTrainable:
    """The LWGAN as `mimic train` trains it (`mimic.core.trainable.Trainable`).

    Args:
        config: what to build and how to train it.
        device: where the networks live.
        cache_dir: where the perceptual loss's LPIPS weights are kept (None: mimic's default).
    """

    name = "lwgan"

    def __init__(self, config: LWGANTrainConfig | None = None, device: torch.device | str = "cpu", cache_dir: Path | None = None) -> None:
        self.config = config = config or LWGANTrainConfig()
        self.device = torch.device(device)
        self._perceptual = PerceptualLoss(config.lpips_net, cache_dir)
        self.nets: dict[str, nn.Module] = {"generator": LWGAN(config.generator).to(self.device)}
        if config.adversarial:
            self.nets["discriminator"] = PatchDiscriminator(7, config.disc_width, config.disc_layers).to(self.device)
            if config.face_size:
                self.nets["face_discriminator"] = PatchDiscriminator(3, config.disc_width, 2).to(self.device)
        betas = (config.beta1, config.beta2)
        self._optimizers = {"generator": torch.optim.Adam(self.nets["generator"].parameters(), config.lr_g, betas)}
        if config.adversarial:
            params = [p for name, net in self.nets.items() if name != "generator" for p in net.parameters()]
            self._optimizers["discriminator"] = torch.optim.Adam(params, config.lr_d, betas)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam for the generator and one for the discriminators (when adversarial)."""
        return self._optimizers

    def run_generator(self, batch: PairBatch) -> tuple[LWGANOutput, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The three streams on `batch` (every source of each target, `PairBatch.sources`): the
        transfer stream's output, the sources' reconstructions `(B * S, 3, H, W)`, the background
        stream's output and the hole it filled `(B, 1, H, W)` (the target person and its mesh)."""
        body = body_mask(batch.target_correspondence[:, 3:], self.config.generator.body_dilation)
        hole = torch.maximum(body, (batch.target_mask >= 0.5).to(body.dtype))
        views = source_views(batch)
        person = views["correspondence"][:, 3:] * (views["mask"] >= 0.5).to(body.dtype)
        output, reconstruction, background = self.nets["generator"](
            views["image"], person, views["correspondence"], views["grid"],
            views["visibility"], batch.target_correspondence, batch.background, hole, batch.fill,
        )
        return output, reconstruction, background, hole

    def _discriminate(self, image: torch.Tensor, batch: PairBatch, boxes: torch.Tensor | None) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        results = [self.nets["discriminator"](torch.cat((image, batch.target_correspondence), 1))]
        if boxes is not None:
            results.append(self.nets["face_discriminator"](crop_boxes(image, boxes, self.config.face_size)))
        return results

    def _face_boxes(self, batch: PairBatch) -> torch.Tensor | None:
        if "face_discriminator" not in self.nets:
            return None
        return face_boxes(batch.target_keypoints, self.config.face_size, batch.size)

    def train_step(self, batch: PairBatch, step: int) -> dict[str, float]:
        """One Adam step of the discriminators (when adversarial), then of the generator."""
        c = self.config
        if batch.sources > 1 and step % c.multi_source_every:
            batch = batch.first_source()
        output, reconstruction, background, hole = self.run_generator(batch)
        target = batch.target_image
        logs: dict[str, float] = {}
        boxes = self._face_boxes(batch)
        real = []
        if c.adversarial:
            optimizer = self._optimizers["discriminator"]
            optimizer.zero_grad(set_to_none=True)
            real = self._discriminate(target, batch, boxes)
            fake = self._discriminate(output.image.detach(), batch, boxes)
            d_loss = sum(discriminator_loss(r[0], f[0], c.gan) for r, f in zip(real, fake))
            d_loss.backward()
            optimizer.step()
            logs["d"] = float(d_loss.detach())

        weight = 1.0 + c.body_weight * output.body
        sources = source_views(batch)
        terms = {
            "l1": weighted_l1(output.image, target, weight),
            "ssim": ssim_loss(output.image, target),
            "mask": attention_mask_loss(output.mask * output.known),
            "source": weighted_l1(reconstruction, sources["image"], 1.0 + c.body_weight * sources["mask"]),
            "background": weighted_l1(background, batch.background, hole),
        }
        if c.w_lpips > 0:
            terms["lpips"] = self._perceptual(output.image, target)
        if c.w_blend > 0:
            terms["blend"] = blend_oracle_loss(output.mask, output.generated, output.warped, target, output.body)
        if c.w_drawn > 0:
            terms["drawn"] = weighted_l1(output.generated, target, output.body)
        if c.adversarial:
            # The real features of the discriminator step (before its update) are the targets.
            fake = self._discriminate(output.image, batch, boxes)
            terms["adversarial"] = sum(generator_adversarial_loss(f[0], c.gan) for f in fake)
            terms["feature_matching"] = sum(feature_matching_loss(r[1], f[1]) for r, f in zip(real, fake))
        weights = {"l1": c.w_l1, "ssim": c.w_ssim, "lpips": c.w_lpips, "mask": c.w_mask, "source": c.w_source, "background": c.w_background,
                   "adversarial": c.w_adversarial, "feature_matching": c.w_feature_matching, "blend": c.w_blend, "drawn": c.w_drawn}
        g_loss = sum(weights[name] * value for name, value in terms.items())
        optimizer = self._optimizers["generator"]
        optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        optimizer.step()
        logs["g"] = float(g_loss.detach())
        logs.update({name: float(value.detach()) for name, value in terms.items()})
        return logs

    @torch.no_grad()
    def samples(self, batch: PairBatch) -> torch.Tensor:
        """The trainer's sample grid: per pair (at most 4), one `(3, H, 6 W)` strip in [-1, 1]
        of the source, the warped source, the generated image (before blending), the mask
        (grey), the output and the target."""
        batch = batch[: min(len(batch), 4)]
        output = self.run_generator(batch)[0]
        strip = (batch.source_image, output.warped, output.generated, output.mask.expand(-1, 3, -1, -1) * 2 - 1, output.image, batch.target_image)
        return torch.cat(strip, dim=-1)


def create(overrides: dict | None = None, device: torch.device | str = "cpu", cache_dir: Path | None = None) -> LWGANTrainable:
    """The training registry's factory: an LWGANTrainable with the default configuration updated
    by `overrides` (its fields; `generator` a dict of `LWGANConfig` fields, or dotted keys
    `generator.width=24` for one of them)."""
    overrides = dict(overrides or {})
    nested = {k.partition(".")[2]: overrides.pop(k) for k in list(overrides) if k.startswith("generator.")}
    config = config_with(LWGANTrainConfig(), overrides)
    if nested:
        config = replace(config, generator=config_with(config.generator, nested))
    return LWGANTrainable(config, device, cache_dir)
