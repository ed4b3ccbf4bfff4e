"""The automatic captioner: what a pose looks like, in words.

A pose is the project's 23 keypoints in an image (pixels, y down, `bodymesh.keypoints` order).
`pose_facts` decides from joint angles and relations which facts hold ("left_hand_above_head",
"knees_bent", "leaning_forward", "arms_to_sides", ...); `caption` turns a few of them into a
sentence with varied wording. The same facts judge generated poses (`benchmarks/text2pose.py`),
so everything here is decidable from 2D keypoints alone. Left and right are the person's.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from bodymesh.keypoints import KEYPOINT_INDEX
from warping.checks import check_shape

MIN_CONFIDENCE = 0.2  # a keypoint below it is absent (the text-to-pose heatmap threshold)
SIDES = ("left", "right")

# Where each fact starts, in body units (`body_scale`) and degrees; `pose_facts` decides by
# them and `fact_loss` measures how far a pose is from them.
VIEW_ACROSS = 0.3  # shoulders this far apart across the image: facing (or away from) the camera
HEAD_ABOVE = 0.15  # the top of the head above the highest head keypoint
HEAD_FALLBACK = 0.45  # without head keypoints: the top of the head above the shoulders
ARM_RAISED = 0.1  # the wrist above its shoulder
TO_SIDE_HEIGHT, TO_SIDE_REACH, TO_SIDE_LATERAL = 0.3, 0.75, 0.5  # wrist level, share of the arm's reach outwards, and outwards
STRAIGHT_ARM = 140.0  # degrees at the elbow
ARMS_DOWN_DROP, ARMS_DOWN_WIDTH = 0.6, 0.4  # each wrist below and beside its shoulder
HANDS_TOGETHER = 0.25
KNEE_BENT = 140.0  # degrees at the knee
SQUAT_KNEE, SQUAT_DEPTH = 120.0, 0.9  # both knees bent more, the lowest ankle this close below the hips
LEG_RAISED = 0.4  # the ankle above the other
LEGS_APART = 1.0  # the ankles this far apart across the image
LEAN_SIDE_VIEW, LEAN_FRONT_VIEW = 20.0, 15.0  # degrees of the hip-to-shoulder line from the vertical
SHORT_TORSO = 0.6  # a torso this short (of the body unit) leans towards or away from the camera

# Fact -> phrases that say it ({pos}: the subject's possessive). A phrase follows a subject:
# "a man raising both arms above his head".
PHRASES: dict[str, tuple[str, ...]] = {
    "both_hands_above_head": (
        "raising both arms above {pos} head", "with both hands above {pos} head", "holding both arms up over {pos} head",
        "reaching up with both hands", "with {pos} hands up in the air",
    ),
    "both_arms_raised": ("raising both arms", "with both arms lifted", "lifting both hands", "with both arms up"),
    "arms_to_sides": (
        "with arms stretched out to the sides", "spreading {pos} arms wide", "holding {pos} arms out horizontally",
        "in a t-pose", "with both arms extended sideways", "with arms out to the sides", "stretching both arms out sideways",
    ),
    "arms_down": (
        "with arms down by {pos} sides", "with {pos} arms hanging down", "arms relaxed at {pos} sides", "with arms down",
        "with {pos} arms at {pos} sides", "with both arms lowered",
    ),
    "hands_together": ("with {pos} hands together", "holding {pos} hands close together", "clasping {pos} hands"),
    "knees_bent": ("with knees bent", "bending {pos} knees", "with bent legs", "flexing both knees"),
    "squatting": ("squatting", "crouching down", "in a deep squat", "squatting low"),
    "legs_apart": ("with legs wide apart", "standing with {pos} feet wide apart", "in a wide stance", "with a wide step"),
    "leaning_forward": ("leaning forward", "bending forward", "bent over", "leaning {pos} upper body forward"),
    "leaning_back": ("leaning back", "leaning backwards", "bending backwards"),
    "standing": ("standing upright", "standing straight", "standing still", "standing up straight", "standing"),
    "facing_camera": ("facing the camera", "facing forward"),
    "facing_away": ("with {pos} back to the camera", "facing away"),
    "side_view": ("seen from the side", "turned sideways", "in profile"),
}
for _side in SIDES:
    PHRASES.update(
        {
            f"{_side}_hand_above_head": (
                f"raising the {_side} arm above {{pos}} head", f"with the {_side} hand above {{pos}} head",
                f"reaching up with the {_side} hand", f"holding {{pos}} {_side} hand up over {{pos}} head",
            ),
            f"{_side}_arm_raised": (f"raising the {_side} arm", f"lifting {{pos}} {_side} arm", f"with the {_side} arm up"),
            f"{_side}_arm_to_side": (
                f"with the {_side} arm stretched out to the side", f"extending {{pos}} {_side} arm sideways",
                f"holding the {_side} arm out horizontally",
            ),
            f"{_side}_knee_bent": (f"bending the {_side} knee", f"with the {_side} knee bent", f"with a bent {_side} leg"),
            f"{_side}_leg_raised": (
                f"lifting the {_side} leg", f"with the {_side} foot off the ground", f"raising {{pos}} {_side} leg",
                f"raising the {_side} knee",
            ),
            f"leaning_{_side}": (f"leaning to the {_side}", f"tilting {{pos}} body to the {_side}", f"bending sideways to the {_side}"),
        }
    )
FACTS: tuple[str, ...] = tuple(PHRASES)

# A fact that another implies is left out of a caption that says the stronger one.
_IMPLIED_BY: dict[str, tuple[str, ...]] = {
    "both_arms_raised": ("both_hands_above_head",),
    "knees_bent": ("squatting",),
    **{f"{s}_arm_raised": (f"{s}_hand_above_head", "both_arms_raised", "both_hands_above_head") for s in SIDES},
    **{f"{s}_hand_above_head": ("both_hands_above_head",) for s in SIDES},
    **{f"{s}_arm_to_side": ("arms_to_sides",) for s in SIDES},
    **{f"{s}_knee_bent": ("knees_bent", "squatting") for s in SIDES},
}
_VIEW_FACTS = ("facing_camera", "facing_away", "side_view")
_SUBJECTS = (("a person", "their"), ("a man", "his"), ("a woman", "her"), ("someone", "their"), ("a figure", "its"))


@dataclass(frozen=True)
class Caption:
    """A sentence and the facts (keys of PHRASES) it states."""

    text: str
    facts: tuple[str, ...]


def _point(keypoints: torch.Tensor, name: str) -> torch.Tensor | None:
    row = keypoints[KEYPOINT_INDEX[name]]
    return row[:2] if row[2] >= MIN_CONFIDENCE else None


def _angle(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> float:
    """Angle at `b` of the path a-b-c, degrees (180: straight)."""
    u, v = a - b, c - b
    cos = float((u @ v) / (u.norm() * v.norm()).clamp(min=1e-6))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _length(a: torch.Tensor | None, b: torch.Tensor | None) -> float:
    return 0.0 if a is None or b is None else float((a - b).norm())


def body_scale(keypoints: torch.Tensor) -> float:
    """The body's own length unit in the image: the longest of the torso (mid-shoulder to
    mid-hip), the mean thigh and the mean shin, in the keypoints' units; 0 without shoulders or
    hips. Foreshortening shortens one of them at a time, rarely all three.

    Args:
        keypoints: `(K, 3)` positions + confidence, project order.
    """
    k = keypoints.detach().float().cpu()
    p = {name: _point(k, name) for name in KEYPOINT_INDEX}
    if any(p[f"{s}_{part}"] is None for s in SIDES for part in ("shoulder", "hip")):
        return 0.0
    mid_shoulder = (p["left_shoulder"] + p["right_shoulder"]) / 2
    mid_hip = (p["left_hip"] + p["right_hip"]) / 2
    thigh = [_length(p[f"{s}_hip"], p[f"{s}_knee"]) for s in SIDES]
    shin = [_length(p[f"{s}_knee"], p[f"{s}_ankle"]) for s in SIDES]
    return max(float((mid_shoulder - mid_hip).norm()), sum(thigh) / 2, sum(shin) / 2)


def pose_facts(keypoints: torch.Tensor) -> frozenset[str]:
    """The facts (keys of PHRASES) that hold for one pose.

    Args:
        keypoints: `(K, 3)` pixels (x right, y down) + confidence, project order; keypoints
            below MIN_CONFIDENCE count as absent and facts that need them are not decided.
    Returns:
        The set of facts. Lengths are judged against the body's own scale (`body_scale`), so
        any image size works.
    """
    check_shape(keypoints, "K 3", "keypoints")
    k = keypoints.detach().float().cpu()
    p = {name: _point(k, name) for name in KEYPOINT_INDEX}
    sh = {s: p[f"{s}_shoulder"] for s in SIDES}
    hip = {s: p[f"{s}_hip"] for s in SIDES}
    if any(v is None for v in (*sh.values(), *hip.values())):
        return frozenset()
    mid_shoulder, mid_hip = (sh["left"] + sh["right"]) / 2, (hip["left"] + hip["right"]) / 2
    torso = float((mid_shoulder - mid_hip).norm())
    unit = max(body_scale(k), 1e-3)
    facts: set[str] = set()

    # view: which way the shoulders run in the image
    across = float(sh["left"][0] - sh["right"][0]) / unit
    view = "facing_camera" if across > VIEW_ACROSS else "facing_away" if across < -VIEW_ACROSS else "side_view"
    facts.add(view)

    # arms
    heads = [p[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear") if p[n] is not None]
    head_top = min(float(h[1]) for h in heads) - HEAD_ABOVE * unit if heads else float(mid_shoulder[1]) - HEAD_FALLBACK * unit
    wrists = {s: p[f"{s}_wrist"] for s in SIDES}
    for s in SIDES:
        wrist, elbow, shoulder = wrists[s], p[f"{s}_elbow"], sh[s]
        if wrist is None or elbow is None:
            continue
        if wrist[1] < shoulder[1] - ARM_RAISED * unit:
            facts.add(f"{s}_arm_raised")
        if wrist[1] < head_top:
            facts.add(f"{s}_hand_above_head")
        reach = _length(shoulder, elbow) + _length(elbow, wrist)
        outward = float(torch.sign(shoulder[0] - mid_shoulder[0]))
        lateral = float(wrist[0] - shoulder[0]) * outward
        if (
            abs(float(wrist[1] - shoulder[1])) < TO_SIDE_HEIGHT * unit
            and lateral > TO_SIDE_REACH * reach
            and lateral > TO_SIDE_LATERAL * unit
            and _angle(shoulder, elbow, wrist) > STRAIGHT_ARM
        ):
            facts.add(f"{s}_arm_to_side")
    if {"left_arm_raised", "right_arm_raised"} <= facts:
        facts.add("both_arms_raised")
    if {"left_hand_above_head", "right_hand_above_head"} <= facts:
        facts.add("both_hands_above_head")
    if {"left_arm_to_side", "right_arm_to_side"} <= facts:
        facts.add("arms_to_sides")
    if all(w is not None for w in wrists.values()):
        low = all(
            wrists[s][1] > sh[s][1] + ARMS_DOWN_DROP * unit and abs(float(wrists[s][0] - sh[s][0])) < ARMS_DOWN_WIDTH * unit for s in SIDES
        )
        if low:
            facts.add("arms_down")
        if float((wrists["left"] - wrists["right"]).norm()) < HANDS_TOGETHER * unit:
            facts.add("hands_together")

    # legs
    knees, ankles = {s: p[f"{s}_knee"] for s in SIDES}, {s: p[f"{s}_ankle"] for s in SIDES}
    bend = {s: _angle(hip[s], knees[s], ankles[s]) for s in SIDES if knees[s] is not None and ankles[s] is not None}
    for s, angle in bend.items():
        if angle < KNEE_BENT:
            facts.add(f"{s}_knee_bent")
    if {"left_knee_bent", "right_knee_bent"} <= facts:
        facts.add("knees_bent")
    if len(bend) == 2:
        lowest = max(float(ankles[s][1]) for s in SIDES)
        if max(bend.values()) < SQUAT_KNEE and lowest - float(mid_hip[1]) < SQUAT_DEPTH * unit:
            facts.add("squatting")
        for s, other in zip(SIDES, reversed(SIDES)):
            if ankles[s][1] < ankles[other][1] - LEG_RAISED * unit:
                facts.add(f"{s}_leg_raised")
        if abs(float(ankles["left"][0] - ankles["right"][0])) > LEGS_APART * unit:
            facts.add("legs_apart")

    # torso: tilt of the hip -> shoulder line from the vertical, or a short (foreshortened) torso
    up = mid_shoulder - mid_hip
    tilt = math.degrees(math.atan2(float(up[0]), float(-up[1])))  # > 0: towards the image's right
    if view == "side_view":
        toes = [p[f"{s}_big_toe"] - p[f"{s}_heel"] for s in SIDES if p[f"{s}_big_toe"] is not None and p[f"{s}_heel"] is not None]
        facing = float(sum(t[0] for t in toes)) if toes else 0.0  # the feet point the way the person faces
        if abs(tilt) > LEAN_SIDE_VIEW and facing != 0.0:
            facts.add("leaning_forward" if (tilt > 0) == (facing > 0) else "leaning_back")
    else:
        if abs(tilt) > LEAN_FRONT_VIEW:
            right_in_image = (tilt > 0) == (view == "facing_camera")  # facing the camera, the person's left is the image's right
            facts.add("leaning_left" if right_in_image else "leaning_right")
        if torso < SHORT_TORSO * unit:
            facts.add("leaning_forward")
    leaning = any(f.startswith("leaning") for f in facts)
    legs_bent = any(f.endswith("knee_bent") or f.endswith("leg_raised") for f in facts) or "squatting" in facts
    if not leaning and not legs_bent and len(bend) == 2:
        facts.add("standing")
    return frozenset(facts)


def describable(facts: frozenset[str]) -> list[str]:
    """The facts worth saying: those not implied by a stronger fact that holds too."""
    return [f for f in FACTS if f in facts and not any(strong in facts for strong in _IMPLIED_BY.get(f, ()))]


def caption(facts: frozenset[str], rng: random.Random, max_facts: int = 3) -> Caption:
    """One sentence stating 1 to `max_facts` of `facts` (chosen at random, view facts rarely),
    each in one of its wordings, after a random subject ("a man", "someone", ...)."""
    candidates = describable(facts)
    body = [f for f in candidates if f not in _VIEW_FACTS]
    views = [f for f in candidates if f in _VIEW_FACTS]
    count = rng.randint(1, max(1, min(max_facts, len(body))))
    chosen = rng.sample(body, min(count, len(body)))
    if views and (not chosen or rng.random() < 0.15):
        chosen.append(views[0])
    if not chosen:
        chosen = ["standing"]
    subject, pos = rng.choice(_SUBJECTS)
    phrases = [rng.choice(PHRASES[f]).format(pos=pos) for f in chosen]
    joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return Caption(f"{subject} {joined}", tuple(chosen))
