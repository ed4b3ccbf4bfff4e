"""Images between numpy and torch, and resizing the pipeline's canvas.

Images in tensors are `(B, 3, H, W)` float in [-1, 1], RGB; as arrays `(H, W, 3)` uint8 RGB.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["to_tensor", "to_image", "resize_image", "resize_labels", "scale_keypoints"]


def to_tensor(image: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """`(H, W, 3)` uint8 RGB -> `(1, 3, H, W)` float in [-1, 1] on `device`."""
    return torch.from_numpy(image).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """`(1, 3, H, W)` in [-1, 1] -> `(H, W, 3)` uint8 RGB."""
    return ((tensor[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().byte().cpu().numpy()


def resize_image(image: torch.Tensor, size: int) -> torch.Tensor:
    """`(B, C, H, W)` resampled to `(B, C, size, size)`: area down, bilinear up (unchanged at `size`)."""
    if image.shape[-1] == size:
        return image
    mode = "area" if size < image.shape[-1] else "bilinear"
    return F.interpolate(image, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))


def resize_labels(labels: torch.Tensor, size: int) -> torch.Tensor:
    """`(B, H, W)` int64 labels resampled to `(B, size, size)` by nearest pixel."""
    if labels.shape[-1] == size:
        return labels
    return F.interpolate(labels[:, None].float(), size=(size, size), mode="nearest")[:, 0].long()


def scale_keypoints(keypoints: torch.Tensor, scale: float) -> torch.Tensor:
    """`(..., K, 3)` pixels + confidence with the pixels multiplied by `scale`."""
    return torch.cat((keypoints[..., :2] * scale, keypoints[..., 2:]), -1)
