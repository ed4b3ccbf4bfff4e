"""Standard exports of fitted bodies (`mimic fit --glb / --obj`): an animated, skinned glTF and
per-frame Wavefront OBJ meshes, both in the model frame (metres, y up, pelvis at the origin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bodymesh.body_model import BodyModel
from bodymesh.detect import Detection
from bodymesh.fit import BodyFit
from mimic.media.gltf import gltf_bytes
from mimic.media.images import encode_image

__all__ = ["EXPORT_TEXTURE_SIZE", "fit_glb", "subject_texture", "obj_text", "write_meshes"]

EXPORT_TEXTURE_SIZE = 512
"""Side of the texture of a fitted photo's glTF, texels."""


def fit_glb(
    model: BodyModel, poses: torch.Tensor, shape: torch.Tensor, fps: float, texture: np.ndarray | None = None, influences: int = 4
) -> bytes:
    """The glb (`mimic.media.gltf`) of `model` with one `shape (S,)` in `poses (T, J, 3)`, frame k at
    k / `fps` seconds; textured with `texture (T, T, 3)` uint8 RGB (`warping.texture`'s layout)
    when given and the model has UVs."""
    with torch.no_grad():
        skinning = model.skinning(poses, shape[None])
    textured = texture is not None and model.uv_coords is not None
    return gltf_bytes(
        skinning, model.faces, fps, influences,
        uv_coords=model.uv_coords if textured else None,
        uv_faces=model.uv_faces if textured else None,
        texture_png=encode_image(texture) if textured else None,
        name=model.name,
    )


def subject_texture(model: BodyModel, photo: np.ndarray, detection: Detection, fit: BodyFit, device: str = "cpu") -> np.ndarray:
    """`(T, T, 3)` uint8 RGB UV texture of the person of `photo` (`(H, W, 3)` uint8) with its
    `detection` and `fit` (photo pixels): unwrapped and filled as `mimic video` textures a subject."""
    from mimic.core.tensors import to_image
    from mimic.pipeline.imitator import Imitator, ImitatorConfig
    from mimic.registry import load_generator

    imitator = Imitator(model, load_generator("warp"), ImitatorConfig(texture_size=EXPORT_TEXTURE_SIZE), device)
    crop, mask, moved = imitator.crop(photo, detection, fit)
    return to_image(imitator.subject([crop], [mask], [moved]).bundle.texture)


def obj_text(vertices: np.ndarray, faces: np.ndarray) -> str:
    """A Wavefront OBJ of `vertices (V, 3)` metres and 0-based `faces (F, 3)`."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices.tolist()]
    lines += [f"f {a} {b} {c}" for a, b, c in (faces + 1).tolist()]
    return "\n".join(lines) + "\n"


def write_meshes(folder: Path, model: BodyModel, poses: torch.Tensor, shape: torch.Tensor) -> list[str]:
    """Writes `frame_000000.obj`, ... (one per pose of `poses (T, J, 3)`, shape `(S,)`) into
    `folder` (created); returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    faces = model.faces.cpu().numpy()
    names = []
    for index in range(poses.shape[0]):
        with torch.no_grad():
            vertices = model.forward(poses[index : index + 1], shape[None]).vertices[0].cpu().numpy()
        names.append(f"frame_{index:06d}.obj")
        (folder / names[-1]).write_text(obj_text(vertices, faces))
    return names
