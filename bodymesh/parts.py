"""Body-part labels shared by every body model (left and right kept apart)."""

from __future__ import annotations

PART_NAMES: tuple[str, ...] = (
    "head",
    "torso",
    "left_upper_arm",
    "right_upper_arm",
    "left_lower_arm",
    "right_lower_arm",
    "left_hand",
    "right_hand",
    "left_upper_leg",
    "right_upper_leg",
    "left_lower_leg",
    "right_lower_leg",
    "left_foot",
    "right_foot",
)
PART_INDEX: dict[str, int] = {name: i for i, name in enumerate(PART_NAMES)}
NUM_PARTS = len(PART_NAMES)
