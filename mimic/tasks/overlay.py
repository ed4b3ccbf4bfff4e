"""Drawing a fitted mesh and keypoints over the image it was fitted to, for people to look at."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from warping.correspondence import face_normals
from warping.raster import rasterize

MESH_COLOUR = np.array([150, 190, 240], dtype=np.float32)  # RGB, light blue
DETECTED_COLOUR = (40, 220, 40)
FITTED_COLOUR = (240, 40, 40)


def shade_mesh(verts: torch.Tensor, faces: torch.Tensor, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Headlight-shaded render of one mesh.

    Args:
        verts: `(V, 3)` image-space vertices (pixels, depth), see `bodymesh.camera`.
        faces: `(F, 3)` int64.
    Returns:
        `(H, W)` float32 brightness in [0, 1] and `(H, W)` bool coverage.
    """
    fragments = rasterize(verts[None], faces, height, width)
    normals = face_normals(verts[None], faces)[0]
    facing = normals[:, 2].abs() / normals.norm(dim=-1).clamp(min=1e-12)
    face_id = fragments.face_id[0]
    brightness = torch.where(face_id >= 0, 0.35 + 0.65 * facing[face_id.clamp(min=0)], 0.0)
    return brightness.cpu().numpy().astype(np.float32), (face_id >= 0).cpu().numpy()


def draw_fit(
    image: np.ndarray,
    verts: torch.Tensor,
    faces: torch.Tensor,
    detected: np.ndarray | None = None,
    fitted: np.ndarray | None = None,
    opacity: float = 0.7,
) -> np.ndarray:
    """The image with the shaded mesh blended over it and keypoints as dots.

    Args:
        image: `(H, W, 3)` uint8 RGB.
        verts: `(V, 3)` image-space vertices of the fitted mesh.
        faces: `(F, 3)` int64.
        detected: `(K, 3)` detected keypoints (pixels + confidence), drawn green; None: none.
        fitted: `(K, 2)` the fitted model's keypoints in pixels, drawn red; None: none.
        opacity: of the mesh, in [0, 1].
    Returns:
        `(H, W, 3)` uint8 RGB.
    """
    height, width = image.shape[:2]
    brightness, covered = shade_mesh(verts, faces, height, width)
    mesh = brightness[..., None] * MESH_COLOUR
    out = image.astype(np.float32)
    out[covered] = (1 - opacity) * out[covered] + opacity * mesh[covered]
    out = out.clip(0, 255).astype(np.uint8)
    radius = max(2, round(max(height, width) / 250))
    if detected is not None:
        for x, y, confidence in detected:
            if confidence >= 0.3:
                cv2.circle(out, (int(x), int(y)), radius + 1, DETECTED_COLOUR, -1, cv2.LINE_AA)
    if fitted is not None:
        for x, y in fitted:
            cv2.circle(out, (int(x), int(y)), radius, FITTED_COLOUR, -1, cv2.LINE_AA)
    return out
