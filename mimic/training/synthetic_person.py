"""A synthetic textured person, drawn with the project's rasterizer: no data set needed.

`procedural_texture` dresses a body model through its UVs (shirt, trousers, shoes, skin and
hair from its part labels, random palette, stripes, fabric noise); `render_person` poses and
draws it over a background (`procedural_background`: a wall and a floor). Used by the demo,
the tests and as paired training data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bodymesh.body_model import BodyModel, rest_vertices
from bodymesh.camera import to_image_space
from bodymesh.mesh import smooth_on_mesh, vertex_normals
from bodymesh.parts import PART_INDEX
from warping.checks import check_shape
from warping.correspondence import uv_map
from warping.raster import interpolate, rasterize
from warping.texture import pad_islands, rasterize_uv, sample_texture
from warping.topology import MeshTopology

__all__ = ["procedural_texture", "render_person", "procedural_background", "GARMENTS"]

GARMENTS: tuple[str, ...] = ("skin", "shirt", "trousers", "shoes", "hair")
"""Texel classes of `procedural_texture`, in the order of its `labels` output."""

# RGB in [0, 1].
_SKIN_TONES = (
    (0.98, 0.84, 0.74), (0.92, 0.74, 0.62), (0.80, 0.60, 0.45), (0.62, 0.43, 0.30), (0.42, 0.28, 0.19), (0.30, 0.20, 0.14)
)
_HAIR = ((0.08, 0.06, 0.05), (0.25, 0.16, 0.09), (0.45, 0.30, 0.16), (0.78, 0.64, 0.40), (0.55, 0.25, 0.12), (0.6, 0.6, 0.6))
_TROUSERS = ((0.17, 0.25, 0.45), (0.10, 0.10, 0.12), (0.70, 0.62, 0.45), (0.40, 0.40, 0.42), (0.28, 0.32, 0.22))
_SHOES = ((0.08, 0.08, 0.08), (0.92, 0.92, 0.90), (0.40, 0.26, 0.15), (0.55, 0.12, 0.12))


def procedural_texture(body: BodyModel, size: int = 256, seed: int = 0, *, return_labels: bool = False):
    """A random outfit painted into the body model's UV texture.

    Clothing follows the part labels: shirt = torso and upper arms (and the lower arms for
    long sleeves), trousers = legs (or the upper legs for shorts), shoes = feet, skin = head,
    hands and whatever is bare, hair = the top and back of the head. Boundaries are the part
    boundaries smoothed over the rest-pose surface. The shirt has horizontal stripes (in
    rest-pose height, so they run straight across UV seams); everything gets fabric noise.

    Args:
        body: a body model with UVs.
        size: texture side `T`.
        seed: picks the palette, the cut and the noise (same seed, same texture).
        return_labels: also return the `(1, T, T)` int64 texel classes (indices into
            `GARMENTS`, -1 outside the UV islands).
    Returns:
        `(1, 3, T, T)` texture in [-1, 1] on the body's device (the UV islands grown by a few
        texels into the empty space), and the labels when asked.
    """
    if body.uv_coords is None or body.uv_faces is None:
        raise ValueError(f"body model {body.name!r} has no UVs; procedural_texture needs them")
    device = body.faces.device
    gen = torch.Generator().manual_seed(int(seed))

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen)

    def pick(options: tuple) -> torch.Tensor:
        return torch.tensor(options[int(torch.randint(len(options), (1,), generator=gen))])

    long_sleeves = bool(rand(1) < 0.5)
    shorts = bool(rand(1) < 0.3)
    rest = rest_vertices(body).float()
    uv_frags = rasterize_uv(MeshTopology.of(body, rest), size)
    garment = _vertex_garments(body.part_labels, long_sleeves, shorts)  # (V,) index into GARMENTS
    # The trousers come up to a waist a little above the legs' top (the torso's lowest part).
    legs = (body.part_labels == PART_INDEX["left_upper_leg"]) | (body.part_labels == PART_INDEX["right_upper_leg"])
    waist = float(rest[legs, 1].max()) + float(0.02 + 0.06 * rand(1))
    below = (body.part_labels == PART_INDEX["torso"]) & (rest[:, 1] < waist)
    garment = torch.where(below, torch.full_like(garment, GARMENTS.index("trousers")), garment)
    one_hot = smooth_on_mesh(F.one_hot(garment, len(GARMENTS)).float(), body.faces, iterations=6)
    texel_weights = interpolate(uv_frags, one_hot, body.faces)[0]  # (T, T, G)
    position = interpolate(uv_frags, rest, body.faces)[0]  # (T, T, 3) rest-pose metres
    inside = uv_frags.face_id[0] >= 0
    labels = texel_weights.argmax(-1)
    # Hair: the top and back of the head, from the rest-pose geometry of the head part.
    head = body.part_labels == PART_INDEX["head"]
    top = rest[head, 1].max()
    centre_z = rest[head, 2].mean()
    hair_line = float(0.07 + 0.05 * rand(1))
    y, z = position[..., 1], position[..., 2]
    hair = (labels == 0) & (texel_weights[..., 0] > 0.5) & _in_box(position, rest[head]) & (
        (y > top - hair_line) | ((z < centre_z - 0.02) & (y > top - 0.17))
    )
    labels = torch.where(hair, torch.full_like(labels, GARMENTS.index("hair")), labels)

    skin = torch.tensor(_SKIN_TONES)
    tone = float(rand(1)) * (len(_SKIN_TONES) - 1)
    low = int(tone)
    skin_colour = torch.lerp(skin[low], skin[min(low + 1, len(_SKIN_TONES) - 1)], tone - low)
    shirt = _hsv_to_rgb(float(rand(1)), float(0.3 + 0.6 * rand(1)), float(0.35 + 0.6 * rand(1)))
    stripe = _hsv_to_rgb(float(rand(1)), float(0.6 * rand(1)), float(0.2 + 0.8 * rand(1)))
    palette = torch.stack((skin_colour, shirt, pick(_TROUSERS), pick(_SHOES), pick(_HAIR))).to(device)  # (G, 3)
    palette = (palette * (0.85 + 0.3 * rand(len(GARMENTS), 3).to(device))).clamp(0, 1)

    colour = palette[labels]  # (T, T, 3)
    period = float(0.03 + 0.07 * rand(1))
    duty = float(0.3 + 0.4 * rand(1))
    phase = float(rand(1))
    stripes = torch.frac(y / period + phase) < duty
    is_shirt = labels == GARMENTS.index("shirt")
    colour = torch.where((is_shirt & stripes)[..., None], stripe.to(device), colour)
    # Fabric noise: a low-frequency shade plus fine grain; skin gets less.
    coarse = F.interpolate(torch.randn(1, 1, 8, 8, generator=gen), size=(size, size), mode="bicubic", align_corners=False)
    fine = torch.randn(1, 1, size, size, generator=gen)
    amount = torch.where(labels == 0, 0.3, 1.0)[None, None]
    noise = (0.06 * coarse + 0.03 * fine).to(device) * amount
    colour = (colour.permute(2, 0, 1)[None] * (1.0 + noise)).clamp(0, 1)
    texture = colour * 2.0 - 1.0
    texture = torch.where(inside[None, None], texture, texture.new_zeros(()))
    texture = pad_islands(texture, inside[None, None], 4)
    labels = torch.where(inside, labels, torch.full_like(labels, -1))[None]
    return (texture, labels) if return_labels else texture


def _in_box(position: torch.Tensor, head_vertices: torch.Tensor) -> torch.Tensor:
    """`(..., )` bool: points `(..., 3)` within the head vertices' bounding box (rest pose)."""
    low, high = head_vertices.amin(0), head_vertices.amax(0)
    return ((position >= low) & (position <= high)).all(-1)


def render_person(
    body: BodyModel,
    pose: torch.Tensor,
    shape: torch.Tensor,
    cam: torch.Tensor,
    texture: torch.Tensor,
    background: torch.Tensor | None = None,
    height: int = 256,
    width: int = 256,
    shading: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draws a textured body in a pose over a background.

    Args:
        body: body model with UVs. pose: `(1, J, 3)`. shape: `(1, S)`.
        cam: `(1, 3)` weak-perspective camera `(s, tx, ty)` (see `bodymesh.camera`).
        texture: `(1, 3, T, T)` in [-1, 1], laid out as `warping.texture.rasterize_uv`.
        background: `(1, 3, H, W)` in [-1, 1]; None: `procedural_background(H, W, seed=0)`.
        height, width: image size in pixels.
        shading: multiply by a headlight `0.6 + 0.4 * |cos|` of the interpolated vertex
            normals; False: the texture's colours as they are.
    Returns:
        image `(1, 3, H, W)` in [-1, 1] and person mask `(1, 1, H, W)` in {0, 1} (the mesh's
        coverage), on `texture`'s device.
    """
    check_shape(pose, "1 J 3", "pose")
    check_shape(cam, "1 3", "cam")
    check_shape(texture, "1 3 T T", "texture")
    if body.uv_coords is None or body.uv_faces is None:
        raise ValueError(f"body model {body.name!r} has no UVs; render_person needs them")
    device = texture.device
    if background is None:
        background = procedural_background(height, width, seed=0).to(device)
    check_shape(background, "1 3 H W", "background", sizes={"H": height, "W": width})
    vertices = body.forward(pose, shape).vertices
    verts = to_image_space(vertices, cam.to(vertices)).to(device)
    faces = body.faces.to(device)
    frags = rasterize(verts, faces, height, width)
    colour = sample_texture(texture, uv_map(frags, body))
    mask = (frags.face_id >= 0)[:, None].to(texture.dtype)
    if shading:
        normals = vertex_normals(verts, faces)
        n = interpolate(frags, normals, faces)[..., 2].abs()  # (1, H, W) |cos| to the view axis
        light = 0.6 + 0.4 * n.clamp(0, 1)
        colour = ((colour + 1.0) * light[:, None].to(colour.dtype)) - 1.0
    image = torch.where(mask > 0, colour, background.to(colour.dtype))
    return image.clamp(-1.0, 1.0), mask


def procedural_background(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A plain room: a wall with a vertical gradient and a few soft panels, a floor below a
    random horizon, mild noise.

    Returns:
        `(1, 3, H, W)` in [-1, 1] (CPU, float32).
    """
    if isinstance(height, bool) or isinstance(width, bool) or height <= 0 or width <= 0:
        raise ValueError(f"height and width must be positive ints, got {height!r}, {width!r}")
    gen = torch.Generator().manual_seed(int(seed))

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen)

    wall_top = _hsv_to_rgb(float(rand(1)), float(0.05 + 0.3 * rand(1)), float(0.6 + 0.35 * rand(1)))
    wall_bottom = wall_top * float(0.7 + 0.2 * rand(1))
    floor_near = _hsv_to_rgb(float(rand(1)), float(0.1 + 0.4 * rand(1)), float(0.25 + 0.45 * rand(1)))
    floor_far = floor_near * float(0.75 + 0.2 * rand(1))
    horizon = float(0.6 + 0.2 * rand(1))
    rows = (torch.arange(height, dtype=torch.float32) + 0.5) / height
    cols = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    r = rows[:, None].expand(height, width)
    c = cols[None, :].expand(height, width)
    t_wall = (r / horizon).clamp(0, 1)[..., None]
    wall = wall_top * (1 - t_wall) + wall_bottom * t_wall
    t_floor = ((r - horizon) / (1 - horizon)).clamp(0, 1)[..., None]
    floor = floor_far * (1 - t_floor) + floor_near * t_floor
    image = torch.where((r < horizon)[..., None], wall, floor)  # (H, W, 3)
    # Soft panels (doors, pictures, windows) on the wall.
    for _ in range(int(torch.randint(1, 4, (1,), generator=gen))):
        x0, w = float(rand(1)), float(0.08 + 0.25 * rand(1))
        y0, h = float(0.1 * rand(1) + 0.05), float(0.2 + 0.4 * rand(1)) * horizon
        tint = _hsv_to_rgb(float(rand(1)), float(0.5 * rand(1)), float(0.3 + 0.7 * rand(1)))
        inside = (c > x0) & (c < x0 + w) & (r > y0) & (r < min(y0 + h, horizon - 0.02))
        image = torch.where(inside[..., None], image * 0.4 + tint * 0.6, image)
    # A dark skirting line at the horizon.
    line = (r - horizon).abs() < 0.006
    image = torch.where(line[..., None], image * 0.5, image)
    coarse = torch.randn(1, 1, 6, 6, generator=gen)
    coarse = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)[0, 0]
    fine = torch.randn(height, width, generator=gen)
    image = image * (1 + 0.05 * coarse + 0.015 * fine)[..., None]
    return (image.clamp(0, 1) * 2 - 1).permute(2, 0, 1)[None].contiguous()


def _vertex_garments(part_labels: torch.Tensor, long_sleeves: bool, shorts: bool) -> torch.Tensor:
    """`(V,)` garment index (into GARMENTS) of every vertex from its body part."""
    skin, shirt, trousers, shoes = (GARMENTS.index(g) for g in ("skin", "shirt", "trousers", "shoes"))
    table = {
        "head": skin,
        "torso": shirt,
        "left_upper_arm": shirt,
        "right_upper_arm": shirt,
        "left_lower_arm": shirt if long_sleeves else skin,
        "right_lower_arm": shirt if long_sleeves else skin,
        "left_hand": skin,
        "right_hand": skin,
        "left_upper_leg": trousers,
        "right_upper_leg": trousers,
        "left_lower_leg": skin if shorts else trousers,
        "right_lower_leg": skin if shorts else trousers,
        "left_foot": shoes,
        "right_foot": shoes,
    }
    lookup = torch.zeros(len(PART_INDEX), dtype=torch.int64)
    for part, garment in table.items():
        lookup[PART_INDEX[part]] = garment
    return lookup.to(part_labels.device)[part_labels]


def _hsv_to_rgb(h: float, s: float, v: float) -> torch.Tensor:
    """`(3,)` RGB in [0, 1] of a hue, saturation and value in [0, 1]."""
    k = torch.tensor([5.0, 3.0, 1.0])
    t = torch.remainder(k + h * 6.0, 6.0)
    return v - v * s * torch.clamp(torch.minimum(t, 4.0 - t), 0.0, 1.0)
