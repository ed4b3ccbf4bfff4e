"""Fitted bodies as an animated, skinned glTF 2.0 binary (`.glb`) for Blender, three.js and mocap tools.

One mesh (the fitted shape's rest pose), one skin over the body model's whole skeleton (a node
per bone, parents before children), and one animation: every bone's local translation and
rotation at each fitted frame, sampled at the video's frame rate (LINEAR). The glTF scene is
the model frame (`bodymesh.body_model`): metres, y up, the person facing +z (glTF's "front"),
the pelvis at the origin. With a texture (a fitted photo), the mesh carries UVs (vertices split
along UV seams) and a base-colour image.

Each vertex keeps its `influences` largest skinning weights, renormalized: 4 (one JOINTS_0 /
WEIGHTS_0 set, what every viewer reads) moves the 13% of Anny's vertices that more bones carry
by up to about 1.5 cm in strong poses (mean below 0.2 mm); 12 writes three sets (exact for
Anny, whose vertices have up to 9 bones; read by Blender, not by three.js).
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import roma
import torch

from bodymesh.body_model import Skinning

__all__ = ["gltf_bytes", "top_influences", "vertex_normals", "seam_split"]

_FLOAT, _USHORT, _UINT = 5126, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def top_influences(weights: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`(V, N)` skinning weights -> the `count` largest per vertex: bone indices `(V, count)`
    uint16 and weights `(V, count)` float32 summing to 1 (zero weights point at bone 0)."""
    if count < 1:
        raise ValueError(f"influences must be at least 1, got {count}")
    count = min(count, weights.shape[1])
    order = np.argsort(-weights, axis=1, kind="stable")[:, :count]
    kept = np.take_along_axis(weights, order, axis=1).astype(np.float64)
    kept = np.where(kept > 0, kept, 0.0)
    kept /= kept.sum(1, keepdims=True)
    order = np.where(kept > 0, order, 0)
    return order.astype(np.uint16), kept.astype(np.float32)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """`(V, 3)` unit normals: the area-weighted sum of the normals of each vertex's faces
    (counter-clockwise faces seen from outside); (0, 1, 0) for a vertex of no face."""
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(length > 0, normals / np.maximum(length, 1e-12), np.array([0.0, 1.0, 0.0]))


def seam_split(faces: np.ndarray, uv_faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One glTF vertex per distinct (mesh vertex, UV) corner pair.

    Args: faces, uv_faces: `(F, 3)` indices into the mesh vertices and the UV coordinates.
    Returns: `source (V',)` the mesh vertex of each new vertex, `uv_index (V',)` its UV, and the
    faces `(F, 3)` over the new vertices.
    """
    pairs = np.stack((faces.reshape(-1), uv_faces.reshape(-1)), axis=1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    return unique[:, 0], unique[:, 1], inverse.reshape(faces.shape)


class _Buffer:
    """The binary chunk of a glb, with its bufferViews and accessors."""

    def __init__(self) -> None:
        self.data = io.BytesIO()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, payload: bytes, target: int | None = None) -> int:
        offset = self.data.tell()
        self.data.write(payload)
        self.data.write(b"\0" * (-len(payload) % 4))
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(payload)}
        if target is not None:
            view["target"] = target
        self.views.append(view)
        return len(self.views) - 1

    def accessor(self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        component = {np.dtype(np.float32): _FLOAT, np.dtype(np.uint16): _USHORT, np.dtype(np.uint32): _UINT}[array.dtype]
        accessor = {
            "bufferView": self.view(np.ascontiguousarray(array).tobytes(), target),
            "componentType": component,
            "count": int(array.shape[0]),
            "type": kind,
        }
        if bounds:
            flat = array.reshape(array.shape[0], -1)
            accessor["min"] = flat.min(0).tolist()
            accessor["max"] = flat.max(0).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def _local_transforms(bones: torch.Tensor, parents: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Bone-to-model transforms `(B, N, 4, 4)` -> each bone's transform in its parent's frame as
    translations `(B, N, 3)` and unit quaternions `(B, N, 4)` (x, y, z, w), float32."""
    bones = bones.double()
    parent = bones[:, [max(p, 0) for p in parents]]
    is_root = torch.tensor([p < 0 for p in parents], device=bones.device)
    local = torch.where(is_root[None, :, None, None], bones, torch.linalg.inv(parent) @ bones)
    rotation = roma.special_procrustes(local[..., :3, :3])  # rigid up to rounding
    quaternion = roma.rotmat_to_unitquat(rotation)
    # One hemisphere from frame to frame, so that interpolation takes the short way.
    for b in range(1, quaternion.shape[0]):
        flip = (quaternion[b] * quaternion[b - 1]).sum(-1) < 0
        quaternion[b, flip] = -quaternion[b, flip]
    return local[..., :3, 3].float().cpu().numpy(), quaternion.float().cpu().numpy()


def gltf_bytes(
    skinning: Skinning,
    faces: torch.Tensor,
    fps: float,
    influences: int = 4,
    uv_coords: torch.Tensor | None = None,
    uv_faces: torch.Tensor | None = None,
    texture_png: bytes | None = None,
    name: str = "body",
) -> bytes:
    """An animated, skinned glb of `skinning` (see the module docstring).

    Args:
        skinning: the body's skeleton, rest mesh and `B` posed frames (`BodyModel.skinning`).
        faces: `(F, 3)` vertex indices, counter-clockwise seen from outside.
        fps: frames per second of the animation (frame k at time k / fps seconds).
        influences: skinning weights kept per vertex (4: one set; up to 4 sets).
        uv_coords, uv_faces, texture_png: `(T, 2)` UVs (v up), `(F, 3)` UV faces and a PNG
            texture in `warping.texture`'s layout; all three or none.
    Returns:
        The bytes of the `.glb` file.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not 1 <= influences <= 16:
        raise ValueError(f"influences must be 1..16, got {influences}")
    textured = texture_png is not None
    if textured and (uv_coords is None or uv_faces is None):
        raise ValueError("a texture needs uv_coords and uv_faces")
    faces_np = faces.cpu().numpy().astype(np.int64)
    rest = skinning.rest_vertices.double().cpu().numpy()
    joints, weights = top_influences(skinning.weights.double().cpu().numpy(), influences)
    normals = vertex_normals(rest, faces_np)
    attributes_of = np.arange(rest.shape[0])
    triangles = faces_np
    if textured:
        attributes_of, uv_index, triangles = seam_split(faces_np, uv_faces.cpu().numpy().astype(np.int64))
        uv = uv_coords.cpu().numpy().astype(np.float64)[uv_index]
        texcoords = np.stack((uv[:, 0], 1.0 - uv[:, 1]), axis=1).astype(np.float32)  # glTF: v down

    buffer = _Buffer()
    attributes = {
        "POSITION": buffer.accessor(rest[attributes_of].astype(np.float32), "VEC3", _ARRAY_BUFFER, bounds=True),
        "NORMAL": buffer.accessor(normals[attributes_of].astype(np.float32), "VEC3", _ARRAY_BUFFER),
    }
    if textured:
        attributes["TEXCOORD_0"] = buffer.accessor(texcoords, "VEC2", _ARRAY_BUFFER)
    width = joints.shape[1]
    for set_index, start in enumerate(range(0, width, 4)):
        block_joints = np.zeros((rest.shape[0], 4), np.uint16)
        block_weights = np.zeros((rest.shape[0], 4), np.float32)
        block_joints[:, : min(4, width - start)] = joints[:, start : start + 4]
        block_weights[:, : min(4, width - start)] = weights[:, start : start + 4]
        attributes[f"JOINTS_{set_index}"] = buffer.accessor(block_joints[attributes_of], "VEC4", _ARRAY_BUFFER)
        attributes[f"WEIGHTS_{set_index}"] = buffer.accessor(block_weights[attributes_of], "VEC4", _ARRAY_BUFFER)
    indices = buffer.accessor(triangles.reshape(-1).astype(np.uint32), "SCALAR", _ELEMENT_ARRAY_BUFFER)

    rest_bones = skinning.rest_bones.double()
    inverse_bind = torch.linalg.inv(rest_bones).cpu().numpy()
    ibm = buffer.accessor(inverse_bind.transpose(0, 2, 1).reshape(-1, 16).astype(np.float32), "MAT4")  # column-major

    parents = skinning.parents
    rest_t, rest_q = _local_transforms(rest_bones[None], parents)
    frames_t, frames_q = _local_transforms(skinning.posed_bones, parents)
    count = frames_t.shape[0]
    times = buffer.accessor((np.arange(count, dtype=np.float64) / fps).astype(np.float32), "SCALAR", bounds=True)
    bone_nodes = list(range(len(parents)))
    nodes: list[dict] = []
    for bone, bone_name in enumerate(skinning.bone_names):
        node = {"name": bone_name, "translation": rest_t[0, bone].tolist(), "rotation": rest_q[0, bone].tolist()}
        children = [c for c, p in enumerate(parents) if p == bone]
        if children:
            node["children"] = children
        nodes.append(node)
    mesh_node = len(nodes)
    nodes.append({"name": name, "mesh": 0, "skin": 0})
    samplers, channels = [], []
    for bone in bone_nodes:
        for path, values, kind in (("translation", frames_t, "VEC3"), ("rotation", frames_q, "VEC4")):
            samplers.append({"input": times, "output": buffer.accessor(values[:, bone], kind), "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": bone, "path": path}})

    primitive = {"attributes": attributes, "indices": indices, "mode": 4}
    document: dict = {
        "asset": {"version": "2.0", "generator": "mimic"},
        "scene": 0,
        "scenes": [{"nodes": [p for p, parent in enumerate(parents) if parent < 0] + [mesh_node]}],
        "nodes": nodes,
        "meshes": [{"name": name, "primitives": [primitive]}],
        "skins": [{"joints": bone_nodes, "inverseBindMatrices": ibm, "skeleton": parents.index(-1)}],
        "animations": [{"name": "fit", "samplers": samplers, "channels": channels}],
    }
    if textured:
        image_view = buffer.view(texture_png)
        document["images"] = [{"bufferView": image_view, "mimeType": "image/png"}]
        document["samplers"] = [{"magFilter": 9729, "minFilter": 9729}]
        document["textures"] = [{"source": 0, "sampler": 0}]
        document["materials"] = [{"name": "subject", "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 0.0, "roughnessFactor": 1.0}}]
        primitive["material"] = 0
    binary = buffer.data.getvalue()
    document["buffers"] = [{"byteLength": len(binary)}]
    document["bufferViews"] = buffer.views
    document["accessors"] = buffer.accessors
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join(
        (
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<I4s", len(text), b"JSON"), text,
            struct.pack("<I4s", len(binary), b"BIN\0"), binary,
        )
    )
