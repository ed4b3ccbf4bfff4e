"""The weak-perspective camera `(s, tx, ty)` in pixels.

A model-frame point `(X, Y, Z)` (metres, y up, z towards the camera) lands on pixel
`u = s * X + tx`, `v = -s * Y + ty` (x right, y down, origin at the image's top-left corner).
Image space adds a depth `d = -s * Z` in the same pixel units, growing away from the camera, so
the map model frame -> image space is a rotation times a scale (triangle winding is kept) and
the nearest surface is the one of smallest depth. `s` is pixels per metre.
"""

from __future__ import annotations

import torch


def to_image_space(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Model-frame points to image space.

    Args:
        points: `(B, N, 3)` metres, model frame.
        cam: `(B, 3)` weak-perspective camera `(s, tx, ty)`: pixels per metre, pixels, pixels.
    Returns:
        `(B, N, 3)`: pixel column `u`, pixel row `v`, depth `d` (pixels, larger = farther).
    """
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(f"points must be (B, N, 3), got {tuple(points.shape)}")
    if cam.dim() != 2 or cam.shape[-1] != 3:
        raise ValueError(f"cam must be (B, 3), got {tuple(cam.shape)}")
    s, tx, ty = cam[:, 0:1], cam[:, 1:2], cam[:, 2:3]
    u = s * points[..., 0] + tx
    v = -s * points[..., 1] + ty
    d = -s * points[..., 2]
    return torch.stack((u, v, d), dim=-1)


def project(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Model-frame points to pixels: `(B, N, 3)` metres, `(B, 3)` camera -> `(B, N, 2)` pixels."""
    return to_image_space(points, cam)[..., :2]


def camera_from_torso(
    keypoints_2d: torch.Tensor, keypoints_3d: torch.Tensor, torso: tuple[int, ...]
) -> torch.Tensor:
    """Initial camera aligning the model's torso with the detected one.

    Scale from the ratio of the torso's spread (RMS distance of its keypoints to their mean)
    in the image and in the model (x, y only); translation from the torso centres.

    Args:
        keypoints_2d: `(B, K, 3)` detected pixels + confidence.
        keypoints_3d: `(B, K, 3)` model keypoints, metres, model frame.
        torso: indices of the torso keypoints (shoulders and hips).
    Returns:
        `(B, 3)` camera `(s, tx, ty)`.
    """
    idx = list(torso)
    image = keypoints_2d[:, idx, :2]
    weight = keypoints_2d[:, idx, 2:3].clamp(min=1e-3)
    model = keypoints_3d[:, idx, :2] * keypoints_3d.new_tensor([1.0, -1.0])
    image_centre = (image * weight).sum(1) / weight.sum(1)
    model_centre = (model * weight).sum(1) / weight.sum(1)
    image_spread = (((image - image_centre[:, None]) ** 2).sum(-1) * weight[..., 0]).sum(1)
    model_spread = (((model - model_centre[:, None]) ** 2).sum(-1) * weight[..., 0]).sum(1)
    s = (image_spread / model_spread.clamp(min=1e-8)).sqrt()
    t = image_centre - s[:, None] * model_centre
    return torch.cat((s[:, None], t), dim=1)


def mesh_to_image(vertices: torch.Tensor, keypoints: torch.Tensor, cam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A posed body seen by cameras `cam (B, 3)`: model-frame `vertices (B, V, 3)` and
    `keypoints (B, K, 3)` (metres) -> image-space vertices `(B, V, 3)` and keypoints `(B, K, 3)`
    as pixels + confidence 1."""
    pixels = project(keypoints, cam)
    return to_image_space(vertices, cam), torch.cat((pixels, torch.ones_like(pixels[..., :1])), -1)
