"""The 2D pose input of the 2D baselines (PG2, PATN, SPT): OpenPose-18 keypoints, their Gaussian
heatmaps, and PG2's pose mask.

The 2D baselines were published on OpenPose-18 keypoints (COCO-17 without the feet, plus a neck),
one heatmap channel each; the project's 23 keypoints (`bodymesh.keypoints`) are mapped to that
order, the neck at the shoulders' midpoint. Keypoints are pixels `(u, v)` + confidence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bodymesh.heatmaps import keypoints_to_heatmaps
from bodymesh.keypoints import KEYPOINT_INDEX
from warping.checks import check_shape

__all__ = ["OPENPOSE18_NAMES", "NUM_POSE_CHANNELS", "PG2_LIMBS", "openpose18", "pose_heatmaps", "pose_mask"]

OPENPOSE18_NAMES: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)
NUM_POSE_CHANNELS = len(OPENPOSE18_NAMES)
_NECK = OPENPOSE18_NAMES.index("neck")
_FROM_PROJECT = [KEYPOINT_INDEX[name] if name != "neck" else -1 for name in OPENPOSE18_NAMES]
_SHOULDERS = (KEYPOINT_INDEX["left_shoulder"], KEYPOINT_INDEX["right_shoulder"])

# The limbs PG2 draws for its pose mask (its code's limb list, in OpenPose-18 indices): the
# skeleton, neck to hips, the torso's sides and hip to hip, the head's edges.
PG2_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (1, 16), (1, 17), (8, 11), (11, 5), (8, 2), (16, 17),
)
# The torso quadrilateral (shoulders and hips), filled so the mask has no hole in its middle.
_TORSO = (2, 5, 11, 8)


def openpose18(keypoints: torch.Tensor) -> torch.Tensor:
    """`(B, 23, 3)` project keypoints -> `(B, 18, 3)` in OpenPose-18 order; the neck is the
    shoulders' midpoint, with the lower of their confidences."""
    check_shape(keypoints, "B K 3", "keypoints", sizes={"K": len(KEYPOINT_INDEX)})
    mapped = keypoints[:, [max(i, 0) for i in _FROM_PROJECT]].clone()
    left, right = keypoints[:, _SHOULDERS[0]], keypoints[:, _SHOULDERS[1]]
    mapped[:, _NECK, :2] = (left[:, :2] + right[:, :2]) / 2
    mapped[:, _NECK, 2] = torch.minimum(left[:, 2], right[:, 2])
    return mapped


def pose_heatmaps(keypoints: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """`(B, 23, 3)` project keypoints (pixels of a `size` square) -> `(B, 18, size, size)` Gaussian
    heatmaps in [0, 1] in OpenPose-18 order (zero channels for keypoints of confidence < 0.1)."""
    return keypoints_to_heatmaps(openpose18(keypoints), size, size, sigma)


def _segment_distance(points: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance from pixel centres `points (H, W, 2)` to segments `a, b (B, L, 2)`: `(B, L, H, W)`."""
    ab = (b - a)[..., None, None, :]
    ap = points - a[..., None, None, :]
    t = ((ap * ab).sum(-1) / (ab * ab).sum(-1).clamp(min=1e-8)).clamp(0, 1)
    return (ap - t[..., None] * ab).norm(dim=-1)


def _inside_triangles(points: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """Whether pixel centres `points (H, W, 2)` lie in triangles `corners (B, T, 3, 2)`: `(B, T, H, W)`."""

    def cross(o: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        d = e - o
        rel = points - o[..., None, None, :]
        return d[..., None, None, 0] * rel[..., 1] - d[..., None, None, 1] * rel[..., 0]

    c0 = cross(corners[..., 0, :], corners[..., 1, :])
    c1 = cross(corners[..., 1, :], corners[..., 2, :])
    c2 = cross(corners[..., 2, :], corners[..., 0, :])
    return ((c0 >= 0) & (c1 >= 0) & (c2 >= 0)) | ((c0 <= 0) & (c1 <= 0) & (c2 <= 0))


def pose_mask(
    keypoints: torch.Tensor, size: int, radius: float = 4.0, dilate: int = 15, erode: int = 5, min_confidence: float = 0.1
) -> torch.Tensor:
    """PG2's pose mask: the limbs drawn between keypoints, then a morphological dilation and an
    erosion (square kernels), so it covers the body roughly; PG2's L1 is weighted by `1 + mask`.

    Args:
        keypoints: `(B, 23, 3)` project keypoints, pixels of a `size` square.
        size: side of the mask, pixels.
        radius: half-width of a drawn limb, pixels.
        dilate, erode: sides of the square kernels, pixels (odd; 1 skips the step).
        min_confidence: limbs with an end below it are not drawn.
    Returns:
        `(B, 1, size, size)` in {0, 1}, on the keypoints' device and dtype.
    """
    if dilate % 2 == 0 or erode % 2 == 0 or dilate < 1 or erode < 1:
        raise ValueError(f"dilate and erode must be odd and >= 1, got {dilate} and {erode}")
    points18 = openpose18(keypoints)
    xy, confident = points18[..., :2], points18[..., 2] >= min_confidence
    centres = torch.arange(size, dtype=keypoints.dtype, device=keypoints.device) + 0.5
    grid = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), -1)  # (H, W, 2) as (u, v)
    first, second = (list(ends) for ends in zip(*PG2_LIMBS))
    near = _segment_distance(grid, xy[:, first], xy[:, second]) <= radius
    drawn = (near & (confident[:, first] & confident[:, second])[..., None, None]).any(1)
    corners = xy[:, list(_TORSO)]
    triangles = torch.stack((corners[:, [0, 1, 2]], corners[:, [0, 2, 3]]), 1)  # (B, 2, 3, 2)
    torso = _inside_triangles(grid, triangles).any(1) & confident[:, list(_TORSO)].all(1)[:, None, None]
    mask = (drawn | torso)[:, None].to(keypoints.dtype)
    mask = F.max_pool2d(mask, dilate, 1, dilate // 2)
    return -F.max_pool2d(-mask, erode, 1, erode // 2)
