"""How far generated poses are from the facts their captions state: the captioner's facts
(`mimic.text2pose.captioner.pose_facts`) as differentiable hinges on keypoint positions.

Each fact of the captioner is a few inequalities between keypoints ("each wrist more than 0.6
body units below its shoulder and less than 0.4 beside it"); here each inequality becomes a
hinge, zero once it holds by `margin` (body units; degrees for angles, 25 degrees per body
unit), so the generator is pushed only where a pose misses what its sentence says. The body unit
is `body_scale`'s, held fixed (a pose cannot meet a fact by shrinking). Which way the person
faces (the captioner's view, which decides how a lean reads) is taken from the pose itself.
Facts about the view ("facing the camera") are measured like the rest.
"""

from __future__ import annotations

import torch

from bodymesh.keypoints import KEYPOINT_INDEX
from mimic.text2pose import captioner as c

DEGREES_PER_UNIT = 25.0  # an angle's hinge (degrees) weighs as much as this over a length's (body units)
_HEAD = tuple(KEYPOINT_INDEX[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
FACT_INDEX: dict[str, int] = {fact: i for i, fact in enumerate(c.FACTS)}


def fact_mask(facts: list[tuple[str, ...]]) -> torch.Tensor:
    """`(B, F)` bool on the CPU (batches move with the rest of theirs): which of `c.FACTS` each
    caption's stated `facts` name."""
    mask = torch.zeros(len(facts), len(c.FACTS), dtype=torch.bool)
    for row, stated in enumerate(facts):
        mask[row, [FACT_INDEX[f] for f in stated]] = True
    return mask


def _hinge(amount: torch.Tensor, margin: float) -> torch.Tensor:
    """How far `amount` is from being at least `margin` (0 once it is)."""
    return torch.relu(margin - amount)


def _angle(a: torch.Tensor, b: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """`(B,)` degrees at `b` of the path a-b-e (180: straight)."""
    u, v = a - b, e - b
    cos = (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1)).clamp(min=1e-6)
    return torch.rad2deg(torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6)))


def _unit(points: torch.Tensor) -> torch.Tensor:
    """`(B,)` the captioner's body unit (`body_scale`) of `points (B, K, 2)`, without gradient."""
    p = {name: points[:, i].detach() for name, i in KEYPOINT_INDEX.items()}
    mid_shoulder = (p["left_shoulder"] + p["right_shoulder"]) / 2
    mid_hip = (p["left_hip"] + p["right_hip"]) / 2
    thigh = sum((p[f"{s}_hip"] - p[f"{s}_knee"]).norm(dim=-1) for s in c.SIDES) / 2
    shin = sum((p[f"{s}_knee"] - p[f"{s}_ankle"]).norm(dim=-1) for s in c.SIDES) / 2
    return torch.stack(((mid_shoulder - mid_hip).norm(dim=-1), thigh, shin)).amax(0).clamp(min=1e-3)


def fact_violations(points: torch.Tensor, margin: float = 0.05) -> torch.Tensor:
    """`(B, F)` how far each pose is from each fact of `c.FACTS` (0 where it holds by `margin`),
    in body units.

    Args:
        points: `(B, K, 2)` keypoint positions (x right, y down, any one scale for both axes),
            project order.
        margin: body units by which each inequality must hold.
    """
    unit = _unit(points)
    p = {name: points[:, i] / unit[:, None] for name, i in KEYPOINT_INDEX.items()}
    angle_margin = margin * DEGREES_PER_UNIT
    degrees = lambda value: value / DEGREES_PER_UNIT  # noqa: E731 (an angle's hinge in body units)
    mid_shoulder = (p["left_shoulder"] + p["right_shoulder"]) / 2
    mid_hip = (p["left_hip"] + p["right_hip"]) / 2
    head_top = points[:, list(_HEAD), 1].amin(1) / unit - c.HEAD_ABOVE
    out: dict[str, torch.Tensor] = {}

    across = p["left_shoulder"][:, 0] - p["right_shoulder"][:, 0]
    out["facing_camera"] = _hinge(across - c.VIEW_ACROSS, margin)
    out["facing_away"] = _hinge(-c.VIEW_ACROSS - across, margin)
    out["side_view"] = _hinge(c.VIEW_ACROSS - across.abs(), margin)

    for s in c.SIDES:
        wrist, elbow, shoulder = p[f"{s}_wrist"], p[f"{s}_elbow"], p[f"{s}_shoulder"]
        out[f"{s}_arm_raised"] = _hinge(shoulder[:, 1] - c.ARM_RAISED - wrist[:, 1], margin)
        out[f"{s}_hand_above_head"] = _hinge(head_top - wrist[:, 1], margin)
        reach = (shoulder - elbow).norm(dim=-1) + (elbow - wrist).norm(dim=-1)
        outward = torch.sign(shoulder[:, 0] - mid_shoulder[:, 0]).detach()
        lateral = (wrist[:, 0] - shoulder[:, 0]) * outward
        out[f"{s}_arm_to_side"] = (
            _hinge(c.TO_SIDE_HEIGHT - (wrist[:, 1] - shoulder[:, 1]).abs(), margin)
            + _hinge(lateral - c.TO_SIDE_REACH * reach, margin)
            + _hinge(lateral - c.TO_SIDE_LATERAL, margin)
            + degrees(_hinge(_angle(shoulder, elbow, wrist) - c.STRAIGHT_ARM, angle_margin))
        )
        out[f"{s}_arm_down"] = _hinge(wrist[:, 1] - shoulder[:, 1] - c.ARMS_DOWN_DROP, margin) + _hinge(
            c.ARMS_DOWN_WIDTH - (wrist[:, 0] - shoulder[:, 0]).abs(), margin
        )
    pairs = (("both_arms_raised", "arm_raised"), ("both_hands_above_head", "hand_above_head"), ("arms_to_sides", "arm_to_side"), ("arms_down", "arm_down"))
    for both, one in pairs:
        out[both] = sum(out[f"{s}_{one}"] for s in c.SIDES)
    out["hands_together"] = _hinge(c.HANDS_TOGETHER - (p["left_wrist"] - p["right_wrist"]).norm(dim=-1), margin)

    bend = {s: _angle(p[f"{s}_hip"], p[f"{s}_knee"], p[f"{s}_ankle"]) for s in c.SIDES}
    for s, other in zip(c.SIDES, reversed(c.SIDES)):
        out[f"{s}_knee_bent"] = degrees(_hinge(c.KNEE_BENT - bend[s], angle_margin))
        out[f"{s}_leg_raised"] = _hinge(p[f"{other}_ankle"][:, 1] - c.LEG_RAISED - p[f"{s}_ankle"][:, 1], margin)
    out["knees_bent"] = out["left_knee_bent"] + out["right_knee_bent"]
    lowest = torch.maximum(p["left_ankle"][:, 1], p["right_ankle"][:, 1])
    out["squatting"] = sum(degrees(_hinge(c.SQUAT_KNEE - bend[s], angle_margin)) for s in c.SIDES) + _hinge(
        c.SQUAT_DEPTH - (lowest - mid_hip[:, 1]), margin
    )
    out["legs_apart"] = _hinge((p["left_ankle"][:, 0] - p["right_ankle"][:, 0]).abs() - c.LEGS_APART, margin)

    # leans, read as the captioner reads them in the pose's own view
    up = mid_shoulder - mid_hip
    tilt = torch.rad2deg(torch.atan2(up[:, 0], -up[:, 1]))  # > 0: towards the image's right
    side_view = (across.abs() <= c.VIEW_ACROSS).detach()
    toes = sum(p[f"{s}_big_toe"][:, 0] - p[f"{s}_heel"][:, 0] for s in c.SIDES)
    facing = torch.where(toes >= 0, 1.0, -1.0).detach()  # +1: the feet point to the image's right
    mirror = torch.where(across > 0, 1.0, -1.0).detach()  # facing the camera, the person's left is the image's right
    side_lean = degrees(_hinge(facing * tilt - c.LEAN_SIDE_VIEW, angle_margin))
    torso = up.norm(dim=-1)
    front_view = _hinge(across.abs() - c.VIEW_ACROSS, margin)  # a lean to one side is read in front and back views only
    # forward: tilted in profile, or a torso foreshortened in a front or back view. Each way
    # pays for its view too, and the nearer way counts: a short torso drawn between the views
    # is pulled into a front view rather than left in a profile where it does not read.
    out["leaning_forward"] = torch.minimum(side_lean + out["side_view"], _hinge(c.SHORT_TORSO - torso, margin) + front_view)
    out["leaning_back"] = degrees(_hinge(-facing * tilt - c.LEAN_SIDE_VIEW, angle_margin)) + out["side_view"]
    front_lean = lambda sign: degrees(_hinge(sign * mirror * tilt - c.LEAN_FRONT_VIEW, angle_margin)) + front_view  # noqa: E731
    out["leaning_left"], out["leaning_right"] = front_lean(1.0), front_lean(-1.0)
    upright = torch.where(
        side_view,
        degrees(_hinge(c.LEAN_SIDE_VIEW - tilt.abs(), angle_margin)),
        degrees(_hinge(c.LEAN_FRONT_VIEW - tilt.abs(), angle_margin)) + _hinge(torso - c.SHORT_TORSO, margin),
    )
    out["standing"] = (
        upright
        + sum(degrees(_hinge(bend[s] - c.KNEE_BENT, angle_margin)) for s in c.SIDES)
        + _hinge(c.LEG_RAISED - (p["left_ankle"][:, 1] - p["right_ankle"][:, 1]).abs(), margin)
    )
    return torch.stack([out[fact] for fact in c.FACTS], dim=1)


def fact_loss(points: torch.Tensor, stated: torch.Tensor, margin: float = 0.05) -> torch.Tensor:
    """`(B,)` the summed violations (`fact_violations`) of the facts each pose's caption states.

    Args:
        points: `(B, K, 2)` keypoint positions (x right, y down), project order.
        stated: `(B, F)` bool over `c.FACTS` (`fact_mask`).
    """
    return (fact_violations(points, margin) * stated.to(points.dtype)).sum(1)

