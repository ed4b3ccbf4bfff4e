"""The silhouette term of the fitters: how far projected mesh vertices fall outside the person mask.

A body fitted to keypoints alone can sit beside its person (a bent-over torso, an arm in a fast
swing, limbs off by their width); the mask says where the person is. The term is the squared
distance to the mask of the projected vertices that fall outside it (zero inside), read from a
distance transform of the mask: vertices outside are pulled in, and a naked body may stay
inside a clothed person's mask.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def outside_distance(mask: np.ndarray, height: float, device: torch.device | str) -> torch.Tensor:
    """`(1, 1, H, W)` float32 distance from each pixel of `mask (H, W)` (person probability in
    [0, 1]) to the mask (0 inside), in units of `height` pixels (the person's height)."""
    outside = (mask <= 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5) / max(height, 1.0)
    return torch.from_numpy(distance).to(device=device, dtype=torch.float32)[None, None]


def distance_at(pixels: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
    """`(B, N)` the distance map `(1, 1, H, W)` (`outside_distance`) read bilinearly at
    `pixels (B, N, 2)` (pixel centres at integer + 0.5; beyond the image: its border)."""
    height, width = distance.shape[-2:]
    grid = torch.stack((2 * pixels[..., 0] / width - 1, 2 * pixels[..., 1] / height - 1), dim=-1)
    sampled = F.grid_sample(distance.expand(pixels.shape[0], -1, -1, -1), grid[:, None], mode="bilinear", padding_mode="border", align_corners=False)
    return sampled[:, 0, 0]


def silhouette_loss(pixels: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
    """`(B,)` mean squared distance to the person mask of projected vertices `pixels (B, N, 2)`
    (zero for those inside), from the distance map `(1, 1, H, W)` of `outside_distance`."""
    return (distance_at(pixels, distance) ** 2).mean(-1)
