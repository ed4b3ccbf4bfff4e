"""The `Imitator`: a subject from source photos, then a driver's frames streamed through
detect -> fit -> rasterize -> flow -> generate.

The working canvas is a square crop of `size` pixels. Sources are cropped around their person;
the driver is cropped by one fixed square chosen on the first frame with a person (the same
margin), so the subject keeps the driver's placement and scale changes within the frame. The
subject is drawn as tall as the driver (a weak-perspective fit cannot tell a tall person far
away from a short one near by, so the fitted heights are not to be trusted over the frame). With
`placement="source"`, the subject stays where and as large as it is in the first source photo
and follows only the driver's motion relative to the driver's first frame.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bodymesh.body_model import BodyModel, rest_vertices
from bodymesh.camera import mesh_to_image
from bodymesh.detect import BlazePoseDetector, Detection, another_person
from bodymesh.detect_people import PeopleDetector
from bodymesh.fit import BodyFit, FitConfig, fit_detection
from bodymesh.follow import FollowedPerson, OtherPeople, TrackedPeople
from bodymesh.smoothing import DEFAULT_SECONDS
from mimic.core.bundles import Generator, SourceBundle, TargetBundle
from mimic.core.tensors import to_tensor
from mimic.errors import NoPersonError, OptionError
from mimic.pipeline.background import Backdrop, clean_plate
from mimic.pipeline.clothing import ClothesConfig, fit_clothes
from mimic.pipeline.crop import CropBox
from mimic.pipeline.driver_stream import DriverStream
from mimic.pipeline.memory import check_canvas_fits
from mimic.pipeline.prefetch import prefetch
from mimic.pipeline.subject_texture import TextureMaker
from warping.correspondence import mesh_maps, uv_map
from warping.flow import combine_sources, transfer_flow, view_agreement
from warping.raster import Fragments
from warping.topology import MeshTopology

PLACEMENTS = ("driver", "source")
VIEW_SHARPNESS = 8.0  # ImitatorConfig.view_sharpness: measured on training clips (benchmarks/sources.py --videos)
DETECTION_SIDE = 640  # driver frames are shrunk to this longest side for keypoint detection
BACKGROUNDS = ("source", "driver")
DEFAULT_RATE = 25.0  # frames/s of a driver whose rate is not given (the smoother's window is in seconds)


@dataclass
class ImitatorConfig:
    """Options of the pipeline.

    size: side of the square working canvas, pixels. crop_margin: space around the person's
    box on each side, as a fraction of its longer edge. placement: "driver" (the driver's
    position and scale) or "source" (the first source's, moved by the driver's motion).
    background: "source" (the first source photo, person removed) or "driver" (the driver's
    clean plate, built over its frames: `mimic.pipeline.background.TemporalPlate`). texture_size: side of the UV texture. clothes: how the subject's
    hair and clothes are fitted over the body (`mimic.pipeline.clothing`); None: the naked body.
    smooth: seconds either side over which the driver's fitted pose and camera are smoothed
    (`bodymesh.smoothing`, in frames at the driver's rate; 0: none). people_bundle: the
    multi-person pose model (`bodymesh.pose_bundle.pose_bundle`): every person of the driver is tracked and `person`
    followed (1-based, left to right where first seen; None: the largest); None: the
    single-person BlazePose follows the most prominent person. view_sharpness: with several
    sources, how strongly each target pixel prefers the source that saw its surface from where
    the target sees it (`warping.flow.view_agreement`, the exponent in `combine_sources`; 0:
    facing alone).
    """

    size: int = 256
    crop_margin: float = 0.15
    placement: str = "driver"
    background: str = "source"
    texture_size: int = 256
    fit: FitConfig = field(default_factory=FitConfig)
    clothes: ClothesConfig | None = field(default_factory=ClothesConfig)
    smooth: float = DEFAULT_SECONDS
    people_bundle: Path | None = None
    person: int | None = None
    view_sharpness: float = VIEW_SHARPNESS

    def __post_init__(self) -> None:
        if self.view_sharpness < 0:
            raise OptionError(f"view_sharpness must be at least 0, got {self.view_sharpness}")
        if self.smooth < 0:
            raise OptionError(f"smooth must be at least 0 seconds, got {self.smooth}")
        if self.person is not None and (self.person < 1 or self.people_bundle is None):
            raise OptionError(f"person must be a number from 1, with the multi-person detector; got {self.person}")
        if self.placement not in PLACEMENTS:
            raise OptionError(f"placement must be one of {', '.join(PLACEMENTS)}, got {self.placement!r}")
        if self.background not in BACKGROUNDS:
            raise OptionError(f"background must be one of {', '.join(BACKGROUNDS)}, got {self.background!r}")
        if self.size < 32:
            raise OptionError(f"size must be at least 32 pixels, got {self.size}")


@dataclass
class Subject:
    """The person to animate: the generator's source bundle and the fits behind it.

    fits: the source fits, cameras in canvas pixels. shape: `(S,)` the one body shape used for
    every target frame. body: the subject's body model (the clothed body fitted to the sources,
    or the naked one), drawn in every target frame. sources_by_part: `(N, NUM_PARTS)` bool, which of the N sources may
    texture each body part (`bodymesh.parts`) of a target; None: every source every part (one
    person). Set for appearance transfer, where the sources are of two people.
    """

    bundle: SourceBundle
    fits: list[BodyFit]
    shape: torch.Tensor
    body: BodyModel
    sources_by_part: torch.Tensor | None = None


@dataclass
class ImitatedFrame:
    """One output frame: `image` and `driver` `(size, size, 3)` uint8 RGB (the generated frame and
    the driver's crop), whether the driver frame had a person, per-stage seconds, and the whole
    driver `frame` with the `box` it was cropped by (None before the driver's first person)."""

    image: np.ndarray
    driver: np.ndarray
    found: bool
    seconds: dict[str, float]
    frame: np.ndarray
    box: CropBox | None
    several_people: bool = False  # the driver's first frame with a person showed others too
    silhouette: np.ndarray | None = None  # (size, size) bool: where the subject is drawn in `image`

    def full_frame(self) -> np.ndarray:
        """The driver frame, at its own size, with the generated crop pasted back over it."""
        return self.frame if self.box is None else self.box.paste(self.image, self.frame)


class Imitator:
    """Makes a subject perform a driver's motion.

    Args:
        body: the body model (on `device`).
        generator: what turns source and target bundles into an image.
        config: canvas, placement and background options.
        device: where tensors live.
    Raises OptionError when the canvas (`config.size`) would not fit in `device`'s memory.
    """

    def __init__(self, body: BodyModel, generator: Generator, config: ImitatorConfig | None = None, device: torch.device | str = "cpu") -> None:
        self.body = body
        self.generator = generator
        self.config = config or ImitatorConfig()
        self.device = torch.device(device)
        check_canvas_fits(self.config.size, self.device)
        self.topology = MeshTopology.of(body, rest_vertices(body))
        self.textures = TextureMaker(body, self.topology, self.config.texture_size)

    def _mesh(
        self, body: BodyModel, pose: torch.Tensor, shape: torch.Tensor, cam: torch.Tensor, rotation: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Image-space vertices `(B, V, 3)` and keypoints `(B, K, 3)` (pixels + confidence 1) of
        `body` in poses `(B, J, 3)` with one shape `(S,)`, turned by `rotation (3, 3)` about the
        pelvis (the model frame's origin) when given, seen by cameras `(B, 3)`."""
        with torch.no_grad():
            output = body.forward(pose, shape.expand(pose.shape[0], -1))
        vertices, keypoints = output.vertices, output.keypoints
        if rotation is not None:
            rotation = rotation.to(vertices)
            vertices, keypoints = vertices @ rotation.T, keypoints @ rotation.T
        return mesh_to_image(vertices, keypoints, cam)

    def maps(self, verts: torch.Tensor) -> tuple[Fragments, torch.Tensor, torch.Tensor]:
        """Fragments, correspondence map `(B, 4, size, size)` and part map `(B, size, size)` of
        image-space meshes `(B, V, 3)` of this body (`warping.correspondence.mesh_maps`)."""
        return mesh_maps(verts, self.topology, self.config.size)

    def height(self, shape: torch.Tensor) -> float:
        """Standing height, metres, of the rest body of `shape (S,)`."""
        heights = rest_vertices(self.body, shape)[:, 1]
        return float(heights.max() - heights.min())

    def prepare(self, photos: Sequence[np.ndarray], label: str = "source photo", names: Sequence[str] | None = None) -> Subject:
        """The subject from one or more photos `(H, W, 3)` uint8 RGB of the same person (e.g.
        front and back), each fitted separately, one shape for all. Raises NoPersonError naming
        the photo with nobody in it: its entry of `names` when given (e.g. "source frame 3 of
        'clip.mp4'"), else `label` and its 1-based number."""
        if not photos:
            raise OptionError(f"at least one {label} is needed")
        names = list(names) if names is not None else [f"{label} {number}" for number in range(1, len(photos) + 1)]
        fits, crops, masks, backdrop = [], [], [], None
        with BlazePoseDetector(video=False) as detector:
            for name, photo in zip(names, photos, strict=True):
                detection = detector.detect(photo)
                if detection is None:
                    raise NoPersonError(f"no person found in {name}")
                crop, mask, fit = self.crop(photo, detection, fit_detection(self.body, detection, self.config.fit, self.device))
                fits.append(fit)
                crops.append(crop)
                masks.append(mask)
                if backdrop is None:
                    backdrop = self.backdrop(photo, detection)
        return self.subject(crops, masks, fits, backdrop)

    def _box(self, detection: Detection) -> CropBox:
        return CropBox.around(detection.bbox(), self.config.crop_margin)

    def crop(self, photo: np.ndarray, detection: Detection, fit: BodyFit) -> tuple[np.ndarray, np.ndarray, BodyFit]:
        """The canvas crop `(size, size, 3)` uint8 of a `photo` around its `detection`, the
        crop of the person mask `(size, size)` float in [0, 1], and `fit` (in photo pixels)
        moved to canvas pixels (a new BodyFit; `fit` is left as it is)."""
        size = self.config.size
        box = self._box(detection)
        projected = (fit.projected - fit.projected.new_tensor([box.x0, box.y0])) * box.scale(size)
        moved = dataclasses.replace(fit, cam=box.camera(fit.cam, size), projected=projected)
        return box.crop(photo, size), box.crop(detection.mask, size), moved

    def backdrop(self, photo: np.ndarray, detection: Detection) -> Backdrop:
        """What the clean plate is made from (`mimic.pipeline.background.Backdrop`): the canvas crop of
        `photo` around its `detection` and of its person mask, mirrored beyond the photo's
        edges, and which canvas pixels lie inside the photo."""
        size = self.config.size
        box = self._box(detection)
        return Backdrop(box.crop(photo, size, "reflect"), box.crop(detection.mask, size, "reflect"), box.inside(photo.shape, size))

    def subject(
        self, crops: Sequence[np.ndarray], masks: Sequence[np.ndarray], fits: Sequence[BodyFit], backdrop: Backdrop | None = None
    ) -> Subject:
        """The subject from fitted source crops: `crops` `(size, size, 3)` uint8 RGB, their person
        `masks` `(size, size)` float in [0, 1] and `fits` (cameras in canvas pixels). The body
        shape is the mean of the fits' shapes; the clothes are fitted to every mask, the first
        one's rim first (`mimic.pipeline.clothing.fit_clothes`; unless the
        config asks for the naked body); the texture is unwrapped from every crop and filled.
        The background is the clean plate (`mimic.pipeline.background.clean_plate`) of `backdrop`, the
        first source's (None: its crop and mask, all inside the photo), without the subject's
        rendered silhouette either."""
        if not (len(crops) == len(masks) == len(fits)) or not fits:
            raise ValueError(f"need as many crops, masks and fits (at least one), got {len(crops)}, {len(masks)}, {len(fits)}")
        shape = torch.stack([f.shape for f in fits]).mean(0)
        poses, cams = torch.stack([f.pose for f in fits]), torch.stack([f.cam for f in fits])
        mask_tensor = torch.from_numpy(np.stack(masks)).to(self.device)[:, None].float()
        body = self.body
        if self.config.clothes is not None:
            body = fit_clothes(self.body, shape, poses, cams, mask_tensor[:, 0], self.config.clothes)
        verts, keypoints = self._mesh(body, poses, shape, cams)
        fragments, correspondence, parts = self.maps(verts)
        images = torch.cat([to_tensor(c, self.device) for c in crops])
        texture = self.textures(images, fragments, verts, mask_tensor)
        if backdrop is None:
            backdrop = Backdrop(crops[0], masks[0], np.ones(masks[0].shape, dtype=bool))
        silhouette = (fragments.face_id[0] >= 0).cpu().numpy()
        background = to_tensor(clean_plate(backdrop, silhouette), self.device)
        bundle = SourceBundle(images, mask_tensor, verts, fragments, background, texture, correspondence, parts, keypoints)
        return Subject(bundle, list(fits), shape, body)

    def target(
        self,
        subject: Subject,
        pose: torch.Tensor,
        cam: torch.Tensor,
        background: torch.Tensor,
        seconds: dict[str, float] | None = None,
        rotation: torch.Tensor | None = None,
    ) -> TargetBundle:
        """The subject in `pose (J, 3)`, turned by `rotation (3, 3)` about its pelvis when given
        (novel views, see `mimic.tasks.novel_view`), seen by `cam (3,)` (canvas pixels), over
        `background`; adds the seconds spent rasterizing and composing the flow to `seconds`
        when given. Each target pixel takes its texture from the sources that see its surface
        point (the most frontal one and the one whose view of it is nearest the target's dominate,
        `warping.flow.combine_sources`), restricted to
        `subject.sources_by_part` of the pixel's body part when set."""
        source = subject.bundle
        clock = time.perf_counter()
        verts, keypoints = self._mesh(subject.body, pose[None], subject.shape, cam[None], rotation)
        fragments, correspondence, parts = self.maps(verts)
        rasterized = time.perf_counter()
        count = source.images.shape[0]
        expanded = type(fragments)(*(t.expand(count, *t.shape[1:]) for t in fragments))
        flow = transfer_flow(expanded, source.verts, source.fragments, self.body.faces)
        if subject.sources_by_part is not None:
            allowed = subject.sources_by_part.to(parts.device)[:, parts[0].clamp(min=0)]  # (S, H, W)
            visible = flow.visible & allowed
            flow = flow._replace(visible=visible, facing=torch.where(visible, flow.facing, 0.0))
        agreement = view_agreement(verts, source.verts, self.body.faces, fragments.face_id) if count > 1 else None
        grids, weights = combine_sources(
            [type(flow)(*(t[i : i + 1] for t in flow)) for i in range(count)], agreement=agreement, agreement_sharpness=self.config.view_sharpness
        )
        uv = uv_map(fragments, self.topology)
        if seconds is not None:
            seconds["rasterize"] = rasterized - clock
            seconds["flow"] = time.perf_counter() - rasterized
        return TargetBundle(verts, fragments, uv, grids, weights, background, correspondence, parts, keypoints)

    def _driver_detector(self, rate: float) -> BlazePoseDetector | FollowedPerson:
        """The detector of a driver of `rate` frames/s, in tracking mode: with
        `config.people_bundle`, every person tracked and `config.person` followed; else the
        single-person BlazePose (the most prominent person)."""
        if self.config.people_bundle is None:
            return BlazePoseDetector(video=True, max_side=DETECTION_SIDE)
        found = PeopleDetector(self.config.people_bundle, max_side=DETECTION_SIDE, frame_rate=rate)
        return FollowedPerson(TrackedPeople(found), self.config.person)

    def imitate(self, subject: Subject, frames: Iterable[np.ndarray], rate: float = DEFAULT_RATE) -> Iterator[ImitatedFrame]:
        """Streams the driver `frames` ((H, W, 3) uint8 RGB, `rate` frames/s); yields one
        ImitatedFrame each.

        Frames before the driver's first person show the background; a later frame without a
        person keeps the last pose. The fitted pose and camera are smoothed over `config.smooth`
        seconds either side (`bodymesh.smoothing`: `lag_frames` at `rate`; frames come out that
        many frames later). Other people of the driver stay as they are over its background,
        and those in front of the followed one are laid over the subject
        (`mimic.pipeline.driver_stream`). Raises NoPersonError if no frame has a person (the
        followed one)."""
        stream = DriverStream(self, subject, rate)
        several_people = False
        with self._driver_detector(rate) as detector:

            def detect(frame: np.ndarray) -> tuple[np.ndarray, Detection | None, dict[str, float], OtherPeople, bool, tuple[BodyFit | None, bool]]:
                clock = time.perf_counter()
                found = detector.detect(frame)
                seconds = {"detect": time.perf_counter() - clock}
                fitted = stream.fit(found, seconds)  # here too: the fit is the worker's heavier half
                if not isinstance(detector, FollowedPerson):
                    return frame, found, seconds, OtherPeople(None, None), False, fitted
                return frame, found, seconds, detector.others_masks(), detector.people_seen > 1, fitted

            for frame, detection, seconds, others, others_seen, fitted in prefetch(frames, detect):
                first = stream.box is None and detection is not None
                several_people = several_people or others_seen
                if first and not isinstance(detector, FollowedPerson):
                    # BlazePose takes the most prominent person and then tracks it by overlap
                    # from frame to frame; say when it had a choice.
                    with BlazePoseDetector(video=False, max_side=DETECTION_SIDE) as searcher:
                        several_people = another_person(searcher, frame, detection)
                yield from stream.place(frame, detection, *fitted, seconds, others, several_people)
            yield from stream.flush()
            if stream.box is None and isinstance(detector, FollowedPerson) and detector.people_seen:
                count = detector.people_seen
                raise NoPersonError(f"the driver shows {count} {'person' if count == 1 else 'people'}: there is no person {detector.person} to follow")
        if stream.box is None:
            raise NoPersonError("no person found in any frame of the driver")
