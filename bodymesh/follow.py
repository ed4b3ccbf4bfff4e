"""Following people through a video: every person detected (`bodymesh.detect_people`), each
kept under one number (`bodymesh.tracking`), and one of them followed as a `PersonDetector`.

People are numbered 1, 2, ... left to right on the first frame where they are seen (a later
arrival takes the next number). `FollowedPerson` hands the fitter the chosen person's detection
each frame (None while they are not in view) and keeps the others of that frame, so that the
caller can keep them as they are and lay those in front of the followed person over what it
draws (`other_people`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bodymesh.detect import Detection
from bodymesh.detect_people import PeopleDetector, box_area
from bodymesh.tracking import PersonTracker, TrackerConfig, colour_signature

SIGNATURE_SIDE = 256  # colour signatures are taken from every n-th pixel, about this many a side


class TrackedPeople:
    """Every person of each frame under a number that stays theirs.

    Args:
        detector: finds the people of a frame.
        config: the tracker's matching options.
    """

    def __init__(self, detector: PeopleDetector, config: TrackerConfig | None = None) -> None:
        self.detector = detector
        self.tracker = PersonTracker(config)

    def track(self, image: np.ndarray) -> dict[int, Detection]:
        """`image (H, W, 3) uint8 RGB` -> `{number: detection}` of the people in it."""
        people = self.detector.detect_all(image)
        step = max(1, max(image.shape[:2]) // SIGNATURE_SIDE)  # a histogram needs few pixels
        signatures = [colour_signature(image[::step, ::step], p.mask[::step, ::step]) if p.mask is not None else None for p in people]
        usable = signatures if all(s is not None for s in signatures) else None
        ids = self.tracker.update([p.keypoints for p in people], usable)
        return dict(zip(ids, people))

    def close(self) -> None:
        self.detector.close()

    def __enter__(self) -> "TrackedPeople":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FollowedPerson:
    """A `PersonDetector` giving, frame after frame, the detection of one person among several.

    Args:
        people: the tracked people of the video.
        person: the number of the person to follow (1-based, see the module docstring); None:
            the largest person (box area) of the first frame with anyone in it.
    """

    def __init__(self, people: TrackedPeople, person: int | None = None) -> None:
        if person is not None and person < 1:
            raise ValueError(f"person numbers start at 1, got {person}")
        self.people = people
        self.person = person
        self.everyone: dict[int, Detection] = {}  # the latest frame's people by number
        self.others: list[Detection] = []  # the other people of the latest frame
        self.found: Detection | None = None  # the followed person in the latest frame
        self.last_seen: Detection | None = None  # the followed person where last seen

    @property
    def people_seen(self) -> int:
        """How many different people the video showed so far."""
        return self.people.tracker.people_seen

    def detect(self, image: np.ndarray) -> Detection | None:
        """`image (H, W, 3) uint8 RGB` -> the followed person's detection, or None."""
        found = self.everyone = self.people.track(image)
        if self.person is None and found:
            self.person = max(found, key=lambda number: box_area(found[number]))
        self.others = [d for number, d in found.items() if number != self.person]
        self.found = found.get(self.person)
        self.last_seen = self.found or self.last_seen
        return self.found

    def others_masks(self) -> OtherPeople:
        """The latest frame's other people, in front of the followed one (where last seen,
        when hidden this frame) or not: `other_people`."""
        return other_people(self.last_seen, self.others, None if self.found is None else self.found.mask)

    def close(self) -> None:
        self.people.close()

    def __enter__(self) -> "FollowedPerson":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def in_front(person: Detection, other: Detection) -> bool:
    """Whether `other` stands in front of `person`: their boxes overlap and `other`'s lower edge
    (the feet, on a floor seen from above the ground) is lower in the image."""
    a, b = person.bbox(), other.bbox()
    overlap = min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
    return overlap and b[3] > a[3]


class OtherPeople(NamedTuple):
    """The masks `(H, W)` float in [0, 1] of the people besides the followed one: the union of
    those standing in `front` of them (to lay over whatever is drawn for them) and of the others
    (`behind`, or beside); None where there is nobody."""

    front: np.ndarray | None
    behind: np.ndarray | None


def other_people(person: Detection | None, others: list[Detection], own: np.ndarray | None = None) -> OtherPeople:
    """The masks of `others` (those with a mask), split by `in_front` of `person` (all behind
    when there is no `person`). With the person's `own (H, W)` mask of the same frame, a mask
    of someone in front covers only the pixels where it is surer than that one (each person's
    mask also takes in some of whoever overlaps them)."""
    own = 0.0 if own is None else own
    front = [o.mask * (o.mask > own) for o in others if o.mask is not None and person is not None and in_front(person, o)]
    behind = [o.mask for o in others if o.mask is not None and not (person is not None and in_front(person, o))]
    return OtherPeople(np.maximum.reduce(front) if front else None, np.maximum.reduce(behind) if behind else None)
