"""Appearance transfer: person A's identity and pose, person B's clothes on named body parts.

Both people are prepared as subjects of their own (fitted, each with its own shape). The swap
subject holds the sources of both; every target pixel is textured by A's sources, or by B's
where the mesh's part label (`bodymesh.parts`) at that pixel is one of the swapped parts
(`Subject.sources_by_part`); the UV texture that fills what no source saw is A's with B's
texels on the swapped parts. Targets use A's body shape, so B's clothes are worn at A's size.

For a photo, the target is A's own fit, drawn over A's photo with the swapped parts of A's
person mask removed (pixels of the mask off the mesh, e.g. hair or a loose sleeve, go with the
nearest mesh part), so A keeps everything outside the swapped parts. For a driver video, the
swap subject performs the driver's motion (`mimic.tasks.video.imitate_video`).

Part names (`--parts`): "upper" (torso and arms, hands excluded), "lower" (legs and feet),
"full" (both), or any of `bodymesh.parts.PART_NAMES`, comma-separated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from bodymesh.parts import NUM_PARTS, PART_INDEX, PART_NAMES
from mimic.core.bundles import SourceBundle
from mimic.core.tensors import to_image, to_tensor
from mimic.errors import OptionError
from mimic.pipeline.background import remove_person
from mimic.pipeline.imitator import Imitator, Subject
from mimic.tasks.video import VideoSummary, imitate_video
from warping.raster import Fragments
from warping.texture import pad_islands

__all__ = ["PART_GROUPS", "parse_parts", "texel_parts", "swap_subject", "swap_background", "swap_photo", "swap_video"]

_UPPER = ("torso", "left_upper_arm", "right_upper_arm", "left_lower_arm", "right_lower_arm")
_LOWER = ("left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg", "left_foot", "right_foot")
PART_GROUPS: dict[str, tuple[str, ...]] = {"upper": _UPPER, "lower": _LOWER, "full": _UPPER + _LOWER}
"""The garment groups `--parts` accepts besides single part names."""

_GUTTER = 4  # texels the swapped/kept choice is grown past the UV islands (bilinear reads there)


def parse_parts(text: str) -> tuple[int, ...]:
    """Comma-separated part groups / part names -> sorted part indices (`bodymesh.parts`).
    Raises OptionError naming an unknown part, or for an empty list."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise OptionError(f"--parts must name body parts such as upper, lower, upper,lower or full; got {text!r}")
    indices: set[int] = set()
    for name in names:
        if name in PART_GROUPS:
            indices.update(PART_INDEX[part] for part in PART_GROUPS[name])
        elif name in PART_INDEX:
            indices.add(PART_INDEX[name])
        else:
            choices = ", ".join((*PART_GROUPS, *PART_NAMES))
            raise OptionError(f"unknown part {name!r}; choose from {choices}")
    return tuple(sorted(indices))


def texel_parts(imitator: Imitator) -> torch.Tensor:
    """`(1, T, T)` int64 body part of every texel of the imitator's UV texture, -1 outside the
    UV islands (a texel takes the part of its face, as `warping.correspondence.part_map`)."""
    face_id = imitator.textures.uv_fragments.face_id.to(imitator.device)
    face_parts = imitator.body.part_labels[imitator.body.faces[:, 0]].to(imitator.device)
    return torch.where(face_id >= 0, face_parts[face_id.clamp(min=0)], face_id.new_full((), -1))


def swap_subject(imitator: Imitator, person: Subject, reference: Subject, parts: Sequence[int]) -> Subject:
    """A subject with `person`'s body shape, textured by `reference` on `parts` (part indices)
    and by `person` everywhere else, drawn on `person`'s body (its clothes' outline).

    Both subjects must come from `imitator` (same canvas and texture size). The sources are
    `person`'s followed by `reference`'s (`fits` likewise, so `fits[0]` is the person's first).
    """
    if not parts or any(not 0 <= p < NUM_PARTS for p in parts):
        raise ValueError(f"parts must be a non-empty sequence of part indices below {NUM_PARTS}, got {parts!r}")
    a, b = person.bundle, reference.bundle
    swapped = torch.zeros(NUM_PARTS, dtype=torch.bool, device=a.images.device)
    swapped[list(parts)] = True
    sources_by_part = torch.cat((~swapped.expand(a.images.shape[0], -1), swapped.expand(b.images.shape[0], -1)))
    texels = texel_parts(imitator)[:, None]  # (1, 1, T, T)
    choice = (texels >= 0) & swapped[texels.clamp(min=0)]
    choice = pad_islands(choice.to(a.texture.dtype), texels >= 0, _GUTTER)
    bundle = SourceBundle(
        images=torch.cat((a.images, b.images)),
        masks=torch.cat((a.masks, b.masks)),
        verts=torch.cat((a.verts, b.verts)),
        fragments=Fragments(*(torch.cat(pair) for pair in zip(a.fragments, b.fragments))),
        background=a.background,
        texture=torch.lerp(a.texture, b.texture, choice),
        correspondence=torch.cat((a.correspondence, b.correspondence)),
        parts=torch.cat((a.parts, b.parts)),
        keypoints=torch.cat((a.keypoints, b.keypoints)),
    )
    return Subject(bundle, person.fits + reference.fits, person.shape, person.body, sources_by_part)


def swap_background(person: Subject, parts: Sequence[int]) -> torch.Tensor:
    """`(1, 3, H, W)` in [-1, 1]: the person's first source crop with the pixels of its person
    mask that belong to `parts` removed and inpainted (a mask pixel off the mesh belongs to the
    part of the nearest mesh pixel)."""
    bundle = person.bundle
    crop = to_image(bundle.images[:1])
    mask = bundle.masks[0, 0].cpu().numpy() >= 0.5
    part_map = bundle.parts[0].cpu().numpy()
    covered = part_map >= 0
    if not covered.any():
        return bundle.background
    # Label of the nearest covered pixel: labels number the zero pixels in row-major order.
    _, nearest = cv2.distanceTransformWithLabels(
        (~covered).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    nearest_part = part_map[covered][nearest - 1]
    remove = (mask | covered) & np.isin(nearest_part, np.asarray(parts))
    return to_tensor(remove_person(crop, remove.astype(np.float32)), bundle.images.device)


def swap_photo(
    imitator: Imitator, person_photos: Sequence[np.ndarray], reference_photos: Sequence[np.ndarray], parts: Sequence[int]
) -> np.ndarray:
    """`(size, size, 3)` uint8 RGB: the person of `person_photos` (its first photo's crop and
    pose) wearing the reference's clothes on `parts`. Raises NoPersonError naming the source or
    reference photo without a person (the reference is prepared first)."""
    reference = imitator.prepare(reference_photos, label="reference photo")
    person = imitator.prepare(person_photos)
    subject = swap_subject(imitator, person, reference, parts)
    fit = person.fits[0]
    target = imitator.target(subject, fit.pose, fit.cam, swap_background(person, parts))
    with torch.no_grad():
        return to_image(imitator.generator.generate(subject.bundle, target))


def swap_video(
    imitator: Imitator,
    sources: Sequence[Path],
    reference_photos: Sequence[np.ndarray],
    parts: Sequence[int],
    driver: Path,
    out: Path,
    panels: Sequence[str] = ("result",),
    max_frames: int | None = None,
    progress: bool = False,
) -> VideoSummary:
    """The person of the `sources` photos in the clothes of the reference (`reference_photos`
    `(H, W, 3)` uint8 RGB) on `parts`, performing the `driver`'s motion, written to `out` as
    `mimic.tasks.video.imitate_video` writes it."""

    def prepare(photos: list[np.ndarray]) -> Subject:
        reference = imitator.prepare(reference_photos, label="reference photo")
        return swap_subject(imitator, imitator.prepare(photos), reference, parts)

    return imitate_video(imitator, sources, driver, out, panels, max_frames, progress, prepare=prepare)
