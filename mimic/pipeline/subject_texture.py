"""The subject's UV texture from photos: unwrapped from every view, then its unseen texels filled.

One `TextureMaker` per body model and texture size holds what does not change between subjects
(the UV rasterization, the left/right and front/back vertex twins); the pipeline's subject and
the training pairs (`mimic.training.synthetic_pairs.PairMaker`) both make their textures with it,
so a generator trains on the same fills it is shown at run time.
"""

from __future__ import annotations

import torch

from bodymesh.body_model import BodyModel, rest_vertices
from bodymesh.parts import PART_INDEX
from warping.raster import Fragments
from warping.texture import depth_mirror_vertex_map, fill_texture, mirror_vertex_map, rasterize_uv, unwrap_texture
from warping.topology import MeshTopology

__all__ = ["TextureMaker"]


class TextureMaker:
    """Makes filled UV textures of meshes of `body` with `topology`, `size` texels a side."""

    def __init__(self, body: BodyModel, topology: MeshTopology, size: int) -> None:
        rest = rest_vertices(body)
        self.topology = topology
        self.size = size
        self.uv_fragments = rasterize_uv(topology, size)
        self._mirror = mirror_vertex_map(rest)
        # The back of the clothes from their front; not the back of the head from the face.
        self._depth_mirror = depth_mirror_vertex_map(rest, body.part_labels, skip=(PART_INDEX["head"],))

    def __call__(self, images: torch.Tensor, fragments: Fragments, verts: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """One texture from `S` views of one person.

        Args:
            images: `(S, 3, H, W)` in [-1, 1]. fragments: their meshes' rasterization.
            verts: `(S, V, 3)` image-space vertices. masks: `(S, 1, H, W)` person masks in
                [0, 1] (pixels below 0.5 are not read), None: every pixel.
        Returns:
            `(1, 3, T, T)` in [-1, 1], `T = size`.
        """
        texture, coverage = unwrap_texture(images, fragments, verts, self.topology, self.size, uv_fragments=self.uv_fragments, masks=masks)
        return fill_texture(texture, coverage, self.uv_fragments, self.topology, self._mirror, depth_mirror=self._depth_mirror)
