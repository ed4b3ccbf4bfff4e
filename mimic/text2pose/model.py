"""Text to pose: the conditional Wasserstein GAN with Lipschitz penalty of Zhang, Briq, Tanke and
Gall, "Adversarial Synthesis of Human Pose from Text" (GCPR 2020).

The generator maps a sentence embedding (compressed by a linear layer to 128) and noise to one
64 x 64 heatmap per keypoint; the discriminator scores heatmaps with the compressed sentence
embedding replicated over its last 4 x 4 feature map. Discriminator loss (per sample)
`D(fake, t) + a * D(real, wrong t) - (1 + a) * D(real, t) + lambda * max(0, |grad| - 1)^2`, the
gradient taken at random interpolates of real and generated heatmaps with respect to the
heatmaps and the text; generator loss `-D(G(z, t), t) - D(G(z', t_i), t_i)` with `t_i` an
interpolation of two sentences, plus (on request, `reconstruction_weight`) the distance from
`G(z, t)` to the captioned pose. `pretrain_steps` first train unconditionally (the text input
held at the mean sentence, no mismatching or interpolated text), then the same networks go on
conditioned. Sentences are standardised by the training sentences' statistics before the
compression (`TextStandardiser`), and the penalty measures the text gradient in those units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bodymesh.heatmaps import heatmaps_to_keypoints, keypoints_to_heatmaps
from bodymesh.keypoints import NUM_KEYPOINTS
from mimic.core.configs import config_with
from mimic.core.trainable import unwrap
from mimic.text2pose.data import FRAME, SIGMA, PoseTextBatch
from mimic.text2pose.fact_loss import fact_loss
from mimic.text2pose.text_encoder import EMBEDDING_SIZE

CONFIDENCE_THRESHOLD = 0.2  # a generated heatmap peak below it: the keypoint is absent (paper)
SHARPNESS = 4.0  # initial sharpness of the softargmax head (multiplies standardised maps)
OUTPUTS = ("softargmax", "tanh", "linear")  # the generator's heads (Text2PoseConfig.output)
CRITIC_TEXTS = ("concat", "projection")  # how the critic takes the text (Text2PoseConfig.critic_text)


@dataclass
class WGANTextConfig:
    """What the conditional WGAN-LP training of text to pose reads (`Text2Pose.train_step`), for
    the heatmap model and its regression baseline alike.

    keypoints, text_size: the pose's keypoints and the sentence embedding's size.
    text_compressed: the compressed sentence (the paper: 128). noise_size: of the noise input.
    penalty_weight: lambda of the Lipschitz penalty (150 in the paper's WGAN-LP).
    mismatch_weight: alpha of the mismatching-text term. interpolation: beta, the weight of the
    first sentence in the interpolated text. critic_steps: discriminator steps per generator
    step. pretrain_steps: unconditional steps first. lr, betas: of both Adam optimizers (the
    paper: 4e-4, (0, 0.9)). reconstruction_weight: of the generator's distance to the captioned
    pose (`Text2Pose.pose_distance`, conditional steps only; 0: the paper's pure WGAN-LP): the
    adversarial term alone left facts stated in a few percent of the captions unlearnt.
    fact_weight: of the generator's distance from the facts its caption states
    (`fact_loss.fact_loss`, body units, conditional steps only; 0: none).
    """

    keypoints: int = NUM_KEYPOINTS
    text_size: int = EMBEDDING_SIZE
    text_compressed: int = 128
    noise_size: int = 128
    penalty_weight: float = 150.0
    mismatch_weight: float = 1.0
    interpolation: float = 0.5
    critic_steps: int = 5
    pretrain_steps: int = 0
    lr: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.9)
    reconstruction_weight: float = 0.0
    fact_weight: float = 0.0


@dataclass
class Text2PoseConfig(WGANTextConfig):
    """Everything that rebuilds the heatmap networks and their training (`WGANTextConfig`).

    generator_channels: of the transposed convolutions at 4, 8, 16 and 32 pixels (the paper:
    256, 128, 64, 32). discriminator_channels: of the stride-2 convolutions at 32, 16, 8 and 4
    pixels (the paper: 32, 64, 128, 256). output: the generator's head: "softargmax" (each
    keypoint's map is a spatial softmax whose expected position gets a Gaussian of the training
    heatmaps' sigma drawn: every output is a well-formed single-peak heatmap, so the generator
    cannot collapse onto the frame's edge or the background, and short CPU runs learn poses),
    "tanh" (the paper's free-form maps) or "linear" (the same without the tanh; heatmaps are
    clamped to [-1, 1] when read). critic_text: how the critic meets the
    text: "concat" (the paper: replicated over the last 4 x 4 features, a 1 x 1 convolution) or
    "projection" (the default: that, plus the pooled features' inner product with a map of the
    text, as in Miyato and Koyama's projection discriminator). critic_keypoints: width of the
    critic's keypoint branch (`KeypointCritic`; 0: none, the paper's critic). The defaults of
    both are what learnt to follow the text on a CPU (README, "Text to pose"). spread_weight: of
    the generator's penalty on the head's mean spread (pixels squared; `SoftArgmaxHeatmaps`).
    """

    generator_channels: tuple[int, ...] = (256, 128, 64, 32)
    discriminator_channels: tuple[int, ...] = (32, 64, 128, 256)
    output: str = "softargmax"
    critic_text: str = "projection"
    critic_keypoints: int = 256
    spread_weight: float = 0.0

    def __post_init__(self) -> None:
        if len(self.generator_channels) != 4 or len(self.discriminator_channels) != 4:
            raise ValueError("generator_channels and discriminator_channels need 4 entries each (4 -> 64 pixels)")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {self.output!r}")
        if self.critic_text not in CRITIC_TEXTS:
            raise ValueError(f"critic_text must be one of {', '.join(CRITIC_TEXTS)}, got {self.critic_text!r}")
        if self.critic_keypoints < 0:
            raise ValueError(f"critic_keypoints must be >= 0, got {self.critic_keypoints}")
        if self.spread_weight < 0 or (self.spread_weight > 0 and self.output != "softargmax"):
            raise ValueError(f"spread_weight must be >= 0, and 0 unless output is softargmax, got {self.spread_weight}")


class TextStandardiser(nn.Module):
    """Sentence embeddings `(B, D)` -> `(B, D)` standardised per dimension by running estimates
    of the training sentences' mean and standard deviation (buffers, saved with the weights).
    `forward` is a pure function of the buffers; `observe` updates them from a batch of
    training sentences (the model calls it every step, also while pre-training without text).

    Why: all-MiniLM embeddings are unit vectors whose shared direction is about 0.7 of their
    length, and a dimension varies by about 0.035 between captions of poses. Unstandardised,
    what tells one caption from another is an offset some 30 times fainter than the unit
    noise beside it, and the Lipschitz penalty (which also bounds the critic's gradient in
    the text) holds the critic's response to it to the same scale.
    """

    def __init__(self, size: int, momentum: float = 0.01) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("scale", torch.ones(size))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def observe(self, text: torch.Tensor) -> None:
        """Updates the estimates with sentences `(B, D)`: a running average over the first
        1 / momentum batches, an exponential one after."""
        weight = max(self.momentum, 1.0 / (int(self.seen) + 1))
        batch = text.detach().to(self.mean.dtype)
        self.mean.lerp_(batch.mean(0), weight)
        spread = batch.var(0, unbiased=False) + (batch.mean(0) - self.mean).pow(2)
        self.scale.copy_(self.scale.pow(2).lerp(spread, weight).clamp(min=1e-10).sqrt())
        self.seen += 1

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return (text - self.mean) / self.scale


class TextCompressor(nn.Module):
    """`(B, text_size)` sentence embedding -> `(B, text_compressed)`: standardised
    (`TextStandardiser`), then linear + leaky ReLU (the paper's compression)."""

    def __init__(self, config: WGANTextConfig) -> None:
        super().__init__()
        self.standardise = TextStandardiser(config.text_size)
        self.project = nn.Sequential(nn.Linear(config.text_size, config.text_compressed), nn.LeakyReLU(0.2))

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.project(self.standardise(text))


class SoftArgmaxHeatmaps(nn.Module):
    """Per-keypoint maps `(B, K, H, W)` (logits) -> `(B, K, H, W)` heatmaps in [-1, 1]: a
    Gaussian of `sigma` pixels (peak 1, background -1, like the training heatmaps) drawn at the
    expected position under a spatial softmax of each map, standardised (zero mean, unit
    deviation: the position does not depend on the maps' scale, which small initial weights and
    Adam's small steps would take long to grow) and multiplied by a learned sharpness.
    Differentiable in the maps through the positions. Each call keeps `spread`, the softmax's
    variance about its expected position (`(B, K)` pixels squared, with gradients): a broad
    softmax puts a keypoint at the average of several places (hands drawn between the hips
    and the chest instead of at either), which `Text2PoseConfig.spread_weight` penalises (as
    DSNT's variance regularisation does)."""

    def __init__(self, sigma: float = SIGMA, sharpness: float = SHARPNESS) -> None:
        super().__init__()
        self.sigma = sigma
        self.spread: torch.Tensor | None = None  # (B, K) of the last call, pixels squared
        self.log_sharpness = nn.Parameter(torch.tensor(float(sharpness)).log())

    def positions(self, maps: torch.Tensor) -> torch.Tensor:
        """`(B, K, 2)` the soft-argmax `(u, v)` of each map, pixels (centres at integer + 0.5)."""
        batch, count, height, width = maps.shape
        flat = maps.flatten(2)
        flat = torch.nn.functional.layer_norm(flat, flat.shape[-1:], eps=1e-12)  # standardised (fast on CPU)
        weights = torch.softmax(flat * self.log_sharpness.exp(), -1).view(batch, count, height, width)
        xs = torch.arange(width, dtype=maps.dtype, device=maps.device) + 0.5
        ys = torch.arange(height, dtype=maps.dtype, device=maps.device) + 0.5
        column, row = weights.sum(2), weights.sum(3)  # (B, K, W), (B, K, H) marginals
        mean_x, mean_y = (column * xs).sum(-1), (row * ys).sum(-1)
        self.spread = (column * (xs - mean_x[..., None]) ** 2).sum(-1) + (row * (ys - mean_y[..., None]) ** 2).sum(-1)
        return torch.stack((mean_x, mean_y), -1)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        points = self.positions(maps)
        keypoints = torch.cat((points, torch.ones_like(points[..., :1])), -1)
        return keypoints_to_heatmaps(keypoints, maps.shape[-2], maps.shape[-1], self.sigma) * 2 - 1


class PoseGenerator(nn.Module):
    """Noise `(B, noise_size)` and text `(B, text_size)` -> heatmaps `(B, K, 64, 64)`, in
    [-1, 1] with the softargmax and tanh heads (about that range with the linear one)."""

    def __init__(self, config: Text2PoseConfig) -> None:
        super().__init__()
        self.compress = TextCompressor(config)
        channels = config.generator_channels
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.noise_size + config.text_compressed, channels[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(True),
        ]
        for before, after in zip(channels[:-1], channels[1:]):
            layers += [nn.ConvTranspose2d(before, after, 4, 2, 1, bias=False), nn.BatchNorm2d(after), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(channels[-1], config.keypoints, 4, 2, 1, bias=False)]
        if config.output == "tanh":
            layers.append(nn.Tanh())
        elif config.output == "softargmax":
            layers.append(SoftArgmaxHeatmaps())
        self.main = nn.Sequential(*layers)
        _initialise(self)

    def forward(self, noise: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        code = torch.cat((noise, self.compress(text)), 1)
        return self.main(code[..., None, None])


class PoseDiscriminator(nn.Module):
    """Heatmaps `(B, K, 64, 64)` and text `(B, text_size)` -> `(B,)` raw critic scores."""

    def __init__(self, config: Text2PoseConfig) -> None:
        super().__init__()
        self.compress = TextCompressor(config)
        channels = (config.keypoints, *config.discriminator_channels)
        layers: list[nn.Module] = []
        for before, after in zip(channels[:-1], channels[1:]):
            layers += [nn.Conv2d(before, after, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        self.main = nn.Sequential(*layers)
        last = channels[-1]
        self.joint = nn.Sequential(nn.Conv2d(last + config.text_compressed, last, 1, bias=False), nn.LeakyReLU(0.2, True))
        self.score = nn.Conv2d(last, 1, 4, 1, 0, bias=False)
        self.embed = nn.Linear(config.text_compressed, last, bias=False) if config.critic_text == "projection" else None
        _initialise(self)
        width = config.critic_keypoints
        self.keypoints = KeypointCritic(config.keypoints, width, config.text_compressed) if width > 0 else None

    def forward(self, heatmaps: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        features = self.main(heatmaps)  # (B, C, 4, 4)
        code = self.compress(text)
        words = code[..., None, None].expand(-1, -1, *features.shape[-2:])
        score = self.score(self.joint(torch.cat((features, words), 1))).flatten()
        if self.embed is not None:
            score = score + (self.embed(code) * features.sum((2, 3))).sum(1)
        if self.keypoints is not None:
            score = score + self.keypoints(heatmaps, code)
        return score


class KeypointCritic(nn.Module):
    """The critic's keypoint branch: heatmaps `(B, K, H, W)` in [-1, 1] and the compressed text
    `(B, T)` -> `(B,)` scores from where the heatmaps put each keypoint.

    Each heatmap's mass `(h + 1) / 2` gives the keypoint's mean position and its total (how
    present it is; both differentiable in the heatmaps), an MLP turns the `K * 3` numbers into
    pose features, and the score is a linear read-out of them plus their projection onto the
    text (Miyato and Koyama's projection discriminator). Why: facts of a caption are relations
    between joints ("the left hand above the head"), which the convolutions must otherwise
    learn to read from channels 60 pixels apart, at a pace a CPU run never reaches.
    """

    def __init__(self, keypoints: int, width: int, text: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(3 * keypoints, width), nn.LeakyReLU(0.2, True), nn.Linear(width, width), nn.LeakyReLU(0.2, True)
        )
        self.read = nn.Linear(width, 1)
        self.embed = nn.Linear(text, width, bias=False)

    @staticmethod
    def read_keypoints(heatmaps: torch.Tensor) -> torch.Tensor:
        """`(B, K, 3)`: each heatmap's mean position `(u, v)` in [-1, 1] (the frame's edges) and
        its presence (mass over a training Gaussian's: about 1 for a keypoint, 0 for none)."""
        height, width = heatmaps.shape[-2:]
        mass = ((heatmaps + 1) / 2).clamp(min=0)
        total = mass.sum((2, 3))  # (B, K)
        xs = (torch.arange(width, dtype=heatmaps.dtype, device=heatmaps.device) + 0.5) / width * 2 - 1
        ys = (torch.arange(height, dtype=heatmaps.dtype, device=heatmaps.device) + 0.5) / height * 2 - 1
        share = total.clamp(min=1e-6)
        u = (mass.sum(2) * xs).sum(-1) / share
        v = (mass.sum(3) * ys).sum(-1) / share
        return torch.stack((u, v, total / (2 * math.pi * SIGMA**2)), -1)

    def forward(self, heatmaps: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        features = self.mlp(self.read_keypoints(heatmaps).flatten(1))
        return self.read(features)[:, 0] + (self.embed(code) * features).sum(1)


def _initialise(net: nn.Module) -> None:
    """DCGAN initialisation: convolutions N(0, 0.02), batch norms N(1, 0.02)."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)


def lipschitz_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    text: torch.Tensor,
    mix: torch.Tensor | None = None,
    text_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """The Lipschitz penalty of WGAN-LP (Petzka et al. 2018), `(B,)`: `max(0, |g| - 1)^2` with
    `g` the gradient of `critic(x, text)` at `x = mix * real + (1 - mix) * fake` with respect to
    `x` and `text` together (as in text to pose). Differentiable (for the critic's update).

    Args:
        critic: `(x, text) -> (B,)` scores.
        real, fake: `(B, ...)` inputs; `fake` is treated as a constant.
        text: `(B, T)` the condition.
        mix: `(B,)` interpolation weights in [0, 1]; None: uniform at random.
        text_scale: `(T,)` the text's unit per dimension (the critic's `TextStandardiser`
            scale): the text gradient is measured per unit of it, i.e. with respect to the
            standardised text the critic works on. None: the raw text.
    """
    batch = real.shape[0]
    if mix is None:
        mix = torch.rand(batch, device=real.device, dtype=real.dtype)
    shape = (batch,) + (1,) * (real.dim() - 1)
    between = (mix.view(shape) * real + (1 - mix.view(shape)) * fake.detach()).requires_grad_(True)
    text = text.detach().requires_grad_(True)
    scores = critic(between, text)
    grad_x, grad_t = torch.autograd.grad(scores.sum(), (between, text), create_graph=True)
    if text_scale is not None:
        grad_t = grad_t * text_scale
    norm = (grad_x.flatten(1).pow(2).sum(1) + grad_t.flatten(1).pow(2).sum(1)).sqrt()
    return torch.relu(norm - 1).pow(2)


class Text2Pose:
    """The trainable text-to-pose model (`mimic train --generator text2pose`): networks
    "generator" and "discriminator", Adam (beta1 0, beta2 0.9) for each, `train_step` on a
    `PoseTextBatch`."""

    name = "text2pose"

    def __init__(self, config: WGANTextConfig | None = None, device: torch.device | str = "cpu") -> None:
        self.config = config or Text2PoseConfig()
        self.device = torch.device(device)
        self.nets: dict[str, nn.Module] = {name: net.to(self.device) for name, net in self._networks().items()}
        self._optimizers = {
            name: torch.optim.Adam(net.parameters(), lr=self.config.lr, betas=tuple(self.config.betas))
            for name, net in self.nets.items()
        }

    def _networks(self) -> dict[str, nn.Module]:
        """The "generator" and the "discriminator" (the critic) of this model's config."""
        return {"generator": PoseGenerator(self.config), "discriminator": PoseDiscriminator(self.config)}

    def _real(self, batch: PoseTextBatch) -> torch.Tensor:
        """The real poses of `batch` as the critic sees them: `(B, K, 64, 64)` heatmaps."""
        return batch.heatmaps

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def noise(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`(batch, noise_size)` standard normal noise on the model's device."""
        return torch.randn(batch, self.config.noise_size, generator=generator).to(self.device)

    def train_step(self, batch: PoseTextBatch, step: int) -> dict[str, float]:
        """One critic step; every `critic_steps`-th step also a generator step. Returns the
        critic's loss, its Wasserstein estimate, penalty and (when taken) the generator's loss."""
        config = self.config
        generator, critic = self.nets["generator"], self.nets["discriminator"]
        conditional = step >= config.pretrain_steps
        real = self._real(batch)
        standardisers = [unwrap(net).compress.standardise for net in (generator, critic)]
        for standardiser in standardisers:
            standardiser.observe(batch.text)
        # without text: the mean sentence, which standardises to zero
        text = batch.text if conditional else standardisers[0].mean.expand_as(batch.text)
        count = real.shape[0]

        self._optimizers["discriminator"].zero_grad(set_to_none=True)
        with torch.no_grad():
            fake = generator(self.noise(count), text)
        score_right, score_fake = critic(real, text), critic(fake, text)
        loss = score_fake - score_right
        if conditional:
            loss = score_fake + config.mismatch_weight * critic(real, batch.wrong_text) - (1 + config.mismatch_weight) * score_right
        penalty = lipschitz_penalty(critic, real, fake, text, text_scale=standardisers[1].scale)
        loss_d = (loss + config.penalty_weight * penalty).mean()
        loss_d.backward()
        self._optimizers["discriminator"].step()
        losses = {
            "d": float(loss_d.detach()),
            "wasserstein": float((score_right - score_fake).mean().detach()),
            "penalty": float(penalty.mean().detach()),
            "conditional": float(conditional),
        }

        if (step + 1) % config.critic_steps == 0:
            self._optimizers["generator"].zero_grad(set_to_none=True)
            for parameter in critic.parameters():
                parameter.requires_grad_(False)
            generated = generator(self.noise(count), text)
            loss_g = -critic(generated, text)
            spread = self._spread_penalty(generator)
            if conditional and config.reconstruction_weight > 0:
                reconstruction = self.pose_distance(generated, real)
                loss_g = loss_g + config.reconstruction_weight * reconstruction
                losses["reconstruction"] = float(reconstruction.mean().detach())
            if conditional and config.fact_weight > 0:
                if batch.facts is None:
                    raise ValueError("fact_weight needs batches that carry their captions' facts")
                facts = fact_loss(self.points(generated), batch.facts)
                loss_g = loss_g + config.fact_weight * facts
                losses["facts"] = float(facts.mean().detach())
            if conditional:
                mixed = config.interpolation * batch.text + (1 - config.interpolation) * batch.other_text
                loss_g = loss_g - critic(generator(self.noise(count), mixed), mixed)
            loss_g = loss_g.mean() + spread
            loss_g.backward()
            for parameter in critic.parameters():
                parameter.requires_grad_(True)
            self._optimizers["generator"].step()
            losses["g"] = float(loss_g.detach())
        return losses

    def pose_distance(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """`(B,)` mean L1 distance between the keypoints of generated and real poses, as the
        critic sees them (`_real`), in frame units ([-1, 1] across), over the keypoints the
        real pose has. Heatmaps are read at their mass's mean (`KeypointCritic.read_keypoints`,
        differentiable)."""
        fake_points, real_points = KeypointCritic.read_keypoints(fake), KeypointCritic.read_keypoints(real)
        present = (real_points[..., 2] > 0.5).to(fake.dtype)
        error = (fake_points[..., :2] - real_points[..., :2]).abs().sum(-1)
        return (error * present).sum(1) / present.sum(1).clamp(min=1)

    def points(self, output: torch.Tensor) -> torch.Tensor:
        """`(B, K, 2)` the keypoint positions of generator outputs (heatmaps read at their mass's
        mean, `KeypointCritic.read_keypoints`; differentiable), in [-1, 1] across the frame."""
        return KeypointCritic.read_keypoints(output)[..., :2]

    def _spread_penalty(self, generator: nn.Module) -> torch.Tensor | float:
        """The spread penalty of the generator's last forward (`Text2PoseConfig.spread_weight`
        times the softargmax head's mean spread), 0 without one (the regression baseline)."""
        weight = getattr(self.config, "spread_weight", 0.0)
        return weight * unwrap(generator).main[-1].spread.mean() if weight > 0 else 0.0

    @torch.no_grad()
    def generate(self, text: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's output (in eval mode) for sentence embeddings `(B, text_size)` and
        `noise (B, noise_size)` (drawn when None)."""
        generator = self.nets["generator"]
        was_training = generator.training
        generator.eval()
        out = generator(self.noise(text.shape[0]) if noise is None else noise, text.to(self.device))
        generator.train(was_training)
        return out

    def heatmaps(self, text: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """`(B, K, 64, 64)` heatmaps in [0, 1] for sentence embeddings `(B, text_size)`."""
        return ((self.generate(text, noise) + 1) / 2).clamp(0, 1)

    def keypoints(self, text: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """`(B, K, 3)` generated keypoints in the 64 x 64 frame (pixels) + confidence (the
        heatmap peak, 0 below CONFIDENCE_THRESHOLD)."""
        return heatmaps_to_keypoints(self.heatmaps(text, noise), CONFIDENCE_THRESHOLD)

    def samples(self, batch: PoseTextBatch) -> torch.Tensor:
        """`(2N, 3, 128, 128)` in [-1, 1] for the trainer's sample grids: the first 4 real poses
        of `batch`, then poses generated for their texts (stick figures)."""
        from mimic.text2pose.drawing import skeleton_image

        shown = min(4, len(batch))
        real = heatmaps_to_keypoints((batch.heatmaps[:shown] + 1) / 2, CONFIDENCE_THRESHOLD)
        fake = self.keypoints(batch.text[:shown])
        images = [skeleton_image(k.cpu().numpy(), 128, FRAME) for k in torch.cat((real, fake))]
        return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def create_text2pose(overrides: dict | None = None, device: torch.device | str = "cpu", cache_dir: Path | None = None) -> Text2Pose:
    """The model with the default config updated by `overrides` (the registry's factory; it
    needs no one-time build, so `cache_dir` is unused)."""
    return Text2Pose(config_with(Text2PoseConfig(), overrides), device)
