"""SPT (Song et al., CVPR 2019, "Unsupervised Person Image Generation with Semantic Parsing
Transformation"): semantic maps first, then appearance; trains without paired images.

- Semantic maps of 10 labels, the paper's merged human-parsing labels. No human parser can be
  downloaded here, so they come from the fitted mesh's part map and the person mask
  (`semantic_map`): face = head part; upper clothes = torso and upper arms; pants = upper legs;
  left / right arm = lower arm and hand; left / right leg = lower leg and foot; hair = person
  pixels off the mesh near the head; loose clothes (the paper's skirt) = the other person pixels
  off the mesh; background.
- Pseudo target semantic maps, as the paper builds them: every body part of the source map
  moved by its own affine transform, fitted from that part's keypoints in the source to the
  target (`pseudo_semantic_map`).
- Semantic generator (U-Net): source map + both poses' heatmaps -> target map (per-pixel
  softmax), trained with cross-entropy against the pseudo map.
- Appearance generator: source image, source map and pose; target map and pose -> image.
  Trained without the target image: adversarial (a discriminator on (image, semantic map)),
  the semantic-aware style loss (per-label Gram matrices of the discriminator's features: the
  generated image in the target map's regions against the source in the source map's), and
  cycle consistency: the generated image taken back to the source pose and map must give the
  source again (L1 + SSIM + feature matching), with the paper's perceptual content loss on
  that cycle as LPIPS of the cycled image to the source (ImageNet AlexNet features by default,
  the paper's VGG with `lpips_net="vgg"`).

The paper trains the two generators apart, then end to end; here they train together from the
first step, the appearance generator reading the semantic generator's output detached.

Not personalizable (`mimic personalize --generator spt` is an OptionError). Personalization
fine-tunes on pseudo pairs whose source is the photo rendered onto a re-posed mesh and whose
target is the real photo, and it works by rebuilding that target. SPT never reads the target:
on such a pair its losses would only teach it to get back to the rendered pseudo-source
(cycle) with the discriminator's statistics (style), i.e. the rendering's artefacts, not the
person. A paired reconstruction term would make it a supervised method, not the unsupervised
baseline the comparison is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bodymesh.parts import PART_INDEX, PART_NAMES
from mimic.core.configs import config_with
from mimic.core.pairs import PairBatch
from mimic.networks.blocks import PatchDiscriminator, ResidualBlock, Upsample, conv_unit
from mimic.networks.losses import (
    PerceptualLoss, discriminator_loss, feature_matching_loss, generator_adversarial_loss, gram_matrix, ssim_loss, weighted_l1,
)
from mimic.networks.patn import downsampling_encoder
from mimic.networks.pg2 import UNet
from mimic.networks.pose_inputs import PoseTransferInputs
from mimic.networks.pose_maps import NUM_POSE_CHANNELS, OPENPOSE18_NAMES, openpose18, pose_heatmaps

__all__ = [
    "SEMANTIC_LABELS", "NUM_LABELS", "semantic_map", "fit_affine", "part_affines", "pseudo_semantic_map",
    "SPTConfig", "SPTViews", "AppearanceGenerator", "SPT", "create_spt",
]

SEMANTIC_LABELS: tuple[str, ...] = (
    "background", "face", "hair", "upper_clothes", "pants", "loose_clothes", "left_arm", "right_arm", "left_leg", "right_leg",
)
NUM_LABELS = len(SEMANTIC_LABELS)
_L = {name: i for i, name in enumerate(SEMANTIC_LABELS)}
_PART_LABEL = {
    "head": "face", "torso": "upper_clothes", "left_upper_arm": "upper_clothes", "right_upper_arm": "upper_clothes",
    "left_lower_arm": "left_arm", "left_hand": "left_arm", "right_lower_arm": "right_arm", "right_hand": "right_arm",
    "left_upper_leg": "pants", "right_upper_leg": "pants",
    "left_lower_leg": "left_leg", "left_foot": "left_leg", "right_lower_leg": "right_leg", "right_foot": "right_leg",
}
_LABEL_OF_PART = torch.tensor([_L[_PART_LABEL[name]] for name in PART_NAMES])

# The keypoints (OpenPose-18) that carry each body part: rigid parts fit an affine to several,
# limbs to the two ends of their bone (a hand rides on its forearm, a foot on its shin).
_OP = {name: i for i, name in enumerate(OPENPOSE18_NAMES)}
_RIGID = {
    "head": ("nose", "neck", "right_eye", "left_eye", "right_ear", "left_ear"),
    "torso": ("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip"),
}
_LIMB = {
    "left_upper_arm": ("left_shoulder", "left_elbow"), "right_upper_arm": ("right_shoulder", "right_elbow"),
    "left_lower_arm": ("left_elbow", "left_wrist"), "right_lower_arm": ("right_elbow", "right_wrist"),
    "left_hand": ("left_elbow", "left_wrist"), "right_hand": ("right_elbow", "right_wrist"),
    "left_upper_leg": ("left_hip", "left_knee"), "right_upper_leg": ("right_hip", "right_knee"),
    "left_lower_leg": ("left_knee", "left_ankle"), "right_lower_leg": ("right_knee", "right_ankle"),
    "left_foot": ("left_knee", "left_ankle"), "right_foot": ("right_knee", "right_ankle"),
}
# Back to front: where moved parts overlap, the later one is drawn.
_DRAW_ORDER = tuple(PART_INDEX[n] for n in (
    "torso", "left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg", "left_foot", "right_foot",
    "head", "left_upper_arm", "right_upper_arm", "left_lower_arm", "right_lower_arm", "left_hand", "right_hand",
))


def semantic_map(parts: torch.Tensor, mask: torch.Tensor, hair_margin: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 10-label semantic map of a person and the body part each of its pixels moves with.

    Args:
        parts: `(B, H, W)` int64 mesh part labels (`bodymesh.parts`), -1 off the body.
        mask: `(B, 1, H, W)` person mask in [0, 1] (>= 0.5 is the person).
        hair_margin: person pixels off the mesh within this many pixels of the head are hair.
    Returns:
        labels `(B, H, W)` int64 indices into SEMANTIC_LABELS, and segments `(B, H, W)` int64:
        the part each pixel moves with (hair with the head, loose clothes with the torso), -1
        on the background.
    """
    on_body = parts >= 0
    labels = torch.where(on_body, _LABEL_OF_PART.to(parts.device)[parts.clamp(min=0)], torch.zeros_like(parts))
    head = (parts == PART_INDEX["head"])[:, None].float()
    near_head = F.max_pool2d(head, 2 * hair_margin + 1, 1, hair_margin)[:, 0] > 0
    extra = (mask[:, 0] >= 0.5) & ~on_body
    labels = torch.where(extra & near_head, _L["hair"], torch.where(extra, _L["loose_clothes"], labels))
    segments = torch.where(extra, torch.where(near_head, PART_INDEX["head"], PART_INDEX["torso"]), parts)
    return labels, segments


def fit_affine(source: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted least-squares affine transforms taking `source (B, N, 2)` points to `target
    (B, N, 2)` (pixels), with per-point `weight (B, N)` >= 0.

    Returns:
        `(B, 2, 3)` matrices `[M | t]` (`target ~ M @ source + t`) and `(B,)` bool: whether the
        fit is determined (at least 3 weighted points, not collinear, an invertible `M`).
    """
    root = weight.double()[..., None].sqrt()
    x = torch.cat((source.double(), torch.ones_like(root)), -1) * root  # (B, N, 3), in float64: normals square pixels
    y = target.double() * root
    normal = x.transpose(1, 2) @ x  # (B, 3, 3)
    scale = normal.diagonal(dim1=1, dim2=2).amax(-1).clamp(min=1e-12)
    conditioned = torch.linalg.det(normal) / scale**3 > 1e-9
    eye = torch.eye(3, dtype=normal.dtype, device=normal.device)
    normal = torch.where(conditioned[:, None, None], normal, eye)  # undetermined fits are flagged, not solved
    affine = torch.linalg.solve(normal, x.transpose(1, 2) @ y).transpose(1, 2)  # (B, 2, 3)
    invertible = torch.linalg.det(affine[:, :, :2]).abs() > 1e-3
    valid = ((weight > 0).sum(-1) >= 3) & conditioned & invertible
    return affine.to(source.dtype), valid


def _limb_points(points: torch.Tensor, first: int, second: int, width: torch.Tensor) -> torch.Tensor:
    """The two ends of a bone and the same moved `width (B,)` pixels across it: `(B, 4, 2)`."""
    a, b = points[:, first], points[:, second]
    along = b - a
    across = torch.stack((-along[:, 1], along[:, 0]), -1) / along.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    offset = across * width[:, None]
    return torch.stack((a, b, a + offset, b + offset), 1)


def _limb_width(points: torch.Tensor, size: int) -> torch.Tensor:
    """A limb's half-width, pixels: 15% of the torso (neck to mid-hip), or 4% of the canvas."""
    hips = (points[:, _OP["left_hip"], :2] + points[:, _OP["right_hip"], :2]) / 2
    length = (points[:, _OP["neck"], :2] - hips).norm(dim=-1)
    known = (points[:, [_OP["neck"], _OP["left_hip"], _OP["right_hip"]], 2] >= 0.1).all(-1) & (length > 1)
    return torch.where(known, 0.15 * length, torch.full_like(length, 0.04 * size))


def part_affines(source_keypoints: torch.Tensor, target_keypoints: torch.Tensor, size: int) -> torch.Tensor:
    """One affine per body part, from its keypoints in the source to the target.

    Args:
        source_keypoints, target_keypoints: `(B, 23, 3)` project keypoints, pixels + confidence.
        size: the canvas side, pixels (limb widths when the torso is not seen).
    Returns:
        `(B, 14, 2, 3)` source-to-target pixel transforms in PART_NAMES order. A part whose
        keypoints do not determine one takes the torso's; identity when that fails too.
    """
    src, dst = openpose18(source_keypoints), openpose18(target_keypoints)
    src_width, dst_width = _limb_width(src, size), _limb_width(dst, size)
    affines, valid = [], []
    for name in PART_NAMES:
        if name in _RIGID:
            index = [_OP[n] for n in _RIGID[name]]
            a, b = src[:, index, :2], dst[:, index, :2]
            weight = ((src[:, index, 2] >= 0.1) & (dst[:, index, 2] >= 0.1)).to(src.dtype)
        else:
            first, second = (_OP[n] for n in _LIMB[name])
            a, b = _limb_points(src[..., :2], first, second, src_width), _limb_points(dst[..., :2], first, second, dst_width)
            seen = (src[:, [first, second], 2] >= 0.1).all(-1) & (dst[:, [first, second], 2] >= 0.1).all(-1)
            weight = seen.to(src.dtype)[:, None].expand(-1, 4)
        affine, ok = fit_affine(a, b, weight)
        affines.append(affine)
        valid.append(ok)
    affines_t, valid_t = torch.stack(affines, 1), torch.stack(valid, 1)  # (B, P, 2, 3), (B, P)
    identity = torch.eye(2, 3, dtype=src.dtype, device=src.device).expand_as(affines_t[:, 0])
    torso = PART_INDEX["torso"]
    fallback = torch.where(valid_t[:, torso, None, None], affines_t[:, torso], identity)
    return torch.where(valid_t[..., None, None], affines_t, fallback[:, None])


def pseudo_semantic_map(labels: torch.Tensor, segments: torch.Tensor, affines: torch.Tensor) -> torch.Tensor:
    """The source semantic map with each body part moved by its affine: the pseudo target map.

    Args:
        labels, segments: `(B, H, W)` from `semantic_map`.
        affines: `(B, 14, 2, 3)` source-to-target pixel transforms (`part_affines`).
    Returns:
        `(B, H, W)` int64 labels: each target pixel takes the label found at its preimage under
        its part's transform (nearest pixel), parts drawn back to front (arms over the torso),
        background where no part lands.
    """
    batch, height, width = labels.shape
    parts = affines.shape[1]
    dtype = affines.dtype
    matrix, shift = affines[..., :2], affines[..., 2:]
    inverse = torch.linalg.inv(matrix)
    inverse = torch.cat((inverse, -inverse @ shift), -1)  # target -> source, (B, P, 2, 3)
    ys = torch.arange(height, dtype=dtype, device=labels.device) + 0.5
    xs = torch.arange(width, dtype=dtype, device=labels.device) + 0.5
    pixels = torch.stack((*torch.meshgrid(xs, ys, indexing="xy"), torch.ones(height, width, dtype=dtype, device=labels.device)), -1)
    found = torch.einsum("bpij,hwj->bphwi", inverse, pixels)  # source pixel of every target pixel
    grid = found / found.new_tensor([width, height]) * 2 - 1
    codes = torch.stack([torch.where(segments == p, labels + 1, torch.zeros_like(labels)) for p in range(parts)], 1)
    moved = F.grid_sample(codes.reshape(batch * parts, 1, height, width).to(dtype), grid.reshape(batch * parts, height, width, 2),
                          mode="nearest", padding_mode="zeros", align_corners=False)
    moved = moved.reshape(batch, parts, height, width).round().long()
    result = torch.zeros_like(labels)
    for p in _DRAW_ORDER:
        result = torch.where(moved[:, p] > 0, moved[:, p] - 1, result)
    return result


@dataclass
class SPTConfig:
    """Everything that rebuilds SPT.

    size: side of the square canvas it works at, pixels. width: channels of the first layer of
    each network. levels: stride-2 levels of the semantic U-Net. blocks: residual blocks of the
    appearance generator. sigma: heatmap standard deviation, hair_margin: hair's reach around
    the head, both pixels at 256 (scaled with `size`). semantic_weight, style_weight,
    cycle_weight: weights of cross-entropy, semantic-aware style and cycle losses against the
    adversarial one. lpips_weight: of the perceptual content loss (LPIPS of the cycled image to
    the source, `mimic.networks.losses.PerceptualLoss`; 0: none) with the `lpips_net` trunk
    ("alex" or "vgg"). lr, beta1: Adam's.
    """

    size: int = 128
    width: int = 32
    levels: int = 4
    blocks: int = 4
    sigma: float = 6.0
    hair_margin: int = 16
    semantic_weight: float = 1.0
    style_weight: float = 50.0
    cycle_weight: float = 10.0
    lpips_weight: float = 2.0
    lpips_net: str = "alex"
    lr: float = 2e-4
    beta1: float = 0.5

    def __post_init__(self) -> None:
        if self.size % 2**max(self.levels, 2):
            raise ValueError(f"size {self.size} must be divisible by {2**max(self.levels, 2)}")


class AppearanceGenerator(nn.Module):
    """`forward(image, source_map, source_pose, target_map, target_pose)` -> `(B, 3, H, W)` in
    [-1, 1]: images `(B, 3, H, W)`, maps `(B, 10, H, W)` (one-hot or softmax), poses `(B, 18, H, W)`."""

    def __init__(self, width: int, blocks: int) -> None:
        super().__init__()
        code = 4 * width
        self.source_encoder = downsampling_encoder(3 + NUM_LABELS + NUM_POSE_CHANNELS, width)
        self.target_encoder = downsampling_encoder(NUM_LABELS + NUM_POSE_CHANNELS, width)
        self.fuse = conv_unit(2 * code, code)
        self.blocks = nn.Sequential(*(ResidualBlock(code) for _ in range(blocks)))
        self.decoder = nn.Sequential(Upsample(code, 2 * width), Upsample(2 * width, width), nn.Conv2d(width, 3, 7, 1, 3), nn.Tanh())

    def forward(
        self, image: torch.Tensor, source_map: torch.Tensor, source_pose: torch.Tensor, target_map: torch.Tensor, target_pose: torch.Tensor
    ) -> torch.Tensor:
        source = self.source_encoder(torch.cat((image, source_map, source_pose), 1))
        target = self.target_encoder(torch.cat((target_map, target_pose), 1))
        return self.decoder(self.blocks(self.fuse(torch.cat((source, target), 1))))


@dataclass
class SPTViews:
    """One batch seen by SPT: the source's one-hot map, both heatmaps, the pseudo target map."""

    source_map: torch.Tensor
    source_labels: torch.Tensor
    source_heat: torch.Tensor
    target_heat: torch.Tensor
    pseudo_labels: torch.Tensor


class SPT:
    """SPT as a Trainable (`mimic train --generator spt`) and a `PoseTransferModel`.

    nets: "semantic" (source map + poses -> target map logits), "appearance", "d" (image | map
    -> patch scores). cache_dir: where the perceptual loss's LPIPS weights are kept (None:
    mimic's default).
    """

    name = "spt"

    def __init__(self, config: SPTConfig, device: torch.device | str = "cpu", cache_dir: Path | None = None) -> None:
        self.config = config
        c = config
        self._perceptual = PerceptualLoss(c.lpips_net, cache_dir)
        self.nets: dict[str, nn.Module] = {
            "semantic": UNet(NUM_LABELS + 2 * NUM_POSE_CHANNELS, NUM_LABELS, c.width, c.levels),
            "appearance": AppearanceGenerator(c.width, c.blocks),
            "d": PatchDiscriminator(3 + NUM_LABELS, 2 * c.width),
        }
        for net in self.nets.values():
            net.to(device)
        generators = [*self.nets["semantic"].parameters(), *self.nets["appearance"].parameters()]
        self._optimizers = {
            "g": torch.optim.Adam(generators, c.lr, betas=(c.beta1, 0.999)),
            "d": torch.optim.Adam(self.nets["d"].parameters(), c.lr, betas=(c.beta1, 0.999)),
        }

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def _scaled(self, pixels: float) -> float:
        return pixels * self.config.size / 256

    def views(self, inputs: PoseTransferInputs) -> SPTViews:
        """The semantic maps and heatmaps of `inputs` (the pseudo target map included)."""
        size = inputs.size
        labels, segments = semantic_map(inputs.source_parts, inputs.source_mask, max(1, round(self._scaled(self.config.hair_margin))))
        pseudo = pseudo_semantic_map(labels, segments, part_affines(inputs.source_keypoints, inputs.target_keypoints, size))
        sigma = self._scaled(self.config.sigma)
        one_hot = F.one_hot(labels, NUM_LABELS).permute(0, 3, 1, 2).to(inputs.source_image.dtype)
        return SPTViews(
            one_hot, labels, pose_heatmaps(inputs.source_keypoints, size, sigma), pose_heatmaps(inputs.target_keypoints, size, sigma), pseudo
        )

    def target_map(self, views: SPTViews) -> torch.Tensor:
        """The semantic generator's logits `(B, 10, H, W)` of the target map."""
        return self.nets["semantic"](torch.cat((views.source_map, views.source_heat, views.target_heat), 1))

    def cycle(self, image: torch.Tensor, views: SPTViews, target_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The cycle path: the source `image` taken to the target pose and map, then that result
        taken back to the source's: `(generated target, reconstructed source)`, `(B, 3, H, W)` each."""
        appearance = self.nets["appearance"]
        forward = appearance(image, views.source_map, views.source_heat, target_map, views.target_heat)
        back = appearance(forward, target_map, views.target_heat, views.source_map, views.source_heat)
        return forward, back

    def transfer(self, inputs: PoseTransferInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """The generated image `(B, 3, H, W)` in [-1, 1] and its person alpha: 1 minus the target
        map's background probability."""
        views = self.views(inputs)
        target_map = self.target_map(views).softmax(1)
        image = self.nets["appearance"](inputs.source_image, views.source_map, views.source_heat, target_map, views.target_heat)
        return image, 1 - target_map[:, :1]

    def style_loss(self, fake_features: list[torch.Tensor], real_features: list[torch.Tensor], fake_map: torch.Tensor, real_map: torch.Tensor) -> torch.Tensor:
        """Semantic-aware style loss: for each person label and discriminator layer, the L1
        distance between the Gram matrix of the generated image's features over the label's
        target region and that of the source's features over its source region; labels absent
        from either map do not count."""
        total, count = fake_features[0].new_zeros(()), fake_features[0].new_zeros(())
        for fake, real in zip(fake_features[:2], real_features[:2]):
            side = fake.shape[-2:]
            fake_regions = F.interpolate(fake_map, size=side, mode="area")
            real_regions = F.interpolate(real_map, size=side, mode="area")
            for label in range(1, NUM_LABELS):
                weight_fake, weight_real = fake_regions[:, label : label + 1], real_regions[:, label : label + 1]
                present = ((weight_fake.flatten(1).sum(1) >= 1) & (weight_real.flatten(1).sum(1) >= 1)).to(fake.dtype)
                distance = (gram_matrix(fake, weight_fake) - gram_matrix(real, weight_real)).abs().mean((1, 2))
                total = total + (distance * present).sum()
                count = count + present.sum()
        return total / count.clamp(min=1)

    def train_step(self, batch: PairBatch, step: int) -> dict[str, float]:
        """One step of both generators (cross-entropy to the pseudo map; adversarial, style and
        cycle losses, LPIPS of the cycle) and one of the discriminator. Never reads the target
        image."""
        inputs = PoseTransferInputs.from_pair(batch, self.config.size)
        views = self.views(inputs)
        source, d = inputs.source_image, self.nets["d"]
        logits = self.target_map(views)
        semantic = F.cross_entropy(logits, views.pseudo_labels)
        target_map = logits.softmax(1).detach()
        fake, back = self.cycle(source, views, target_map)
        d.requires_grad_(False)
        score, fake_features = d(torch.cat((fake, target_map), 1))
        back_features = d(torch.cat((back, views.source_map), 1))[1]
        with torch.no_grad():
            real_features = d(torch.cat((source, views.source_map), 1))[1]
        adversarial = generator_adversarial_loss(score)
        style = self.style_loss(fake_features, real_features, target_map, views.source_map)
        cycle = weighted_l1(back, source) + ssim_loss(back, source) + feature_matching_loss(real_features, back_features)
        c = self.config
        loss = c.semantic_weight * semantic + adversarial + c.style_weight * style + c.cycle_weight * cycle
        logs = {}
        if c.lpips_weight > 0:
            lpips = self._perceptual(back, source)
            loss = loss + c.lpips_weight * lpips
            logs["lpips"] = float(lpips.detach())
        self._optimizers["g"].zero_grad(set_to_none=True)
        loss.backward()
        self._optimizers["g"].step()
        d.requires_grad_(True)
        loss_d = discriminator_loss(d(torch.cat((source, views.source_map), 1))[0], d(torch.cat((fake.detach(), target_map), 1))[0])
        self._optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self._optimizers["d"].step()
        logs.update({"semantic_ce": float(semantic.detach()), "g_adv": float(adversarial.detach()), "style": float(style.detach()), "cycle": float(cycle.detach()), "d": float(loss_d.detach())})
        return logs

    def samples(self, batch: PairBatch) -> torch.Tensor:
        """`(4B, 3, H, W)`: per pair, source, target, generated target and cycled source."""
        with torch.no_grad():
            views = self.views(PoseTransferInputs.from_pair(batch, self.config.size))
            fake, back = self.cycle(batch.source_image, views, self.target_map(views).softmax(1))
        return torch.stack((batch.source_image, batch.target_image, fake, back), 1).flatten(0, 1)


def create_spt(overrides: dict | None = None, device: torch.device | str = "cpu", cache_dir: Path | None = None) -> SPT:
    """SPT with its default config updated by `overrides` (config fields by name)."""
    return SPT(config_with(SPTConfig(), overrides), device, cache_dir)
