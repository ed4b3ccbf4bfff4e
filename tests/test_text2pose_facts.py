"""The fact loss: the captioner's facts as hinges, zero exactly where the captioner states a
fact, and a gradient that leads a pose to the facts asked for."""

from __future__ import annotations

import torch

from mimic.text2pose.captioner import FACTS, pose_facts
from mimic.text2pose.data import sampled_keypoints
from mimic.text2pose.fact_loss import fact_loss, fact_mask, fact_violations


def test_a_fact_that_holds_costs_nothing_and_one_that_fails_costs_something(anny_body):
    keypoints = sampled_keypoints(anny_body, 300, seed=5)
    violations = fact_violations(keypoints[..., :2], margin=0.0)
    for row, pose in enumerate(keypoints):
        facts = pose_facts(pose)
        for column, fact in enumerate(FACTS):
            if fact in facts:
                assert violations[row, column] == 0, (row, fact)
    # and the converse, fact by fact: no cost where the captioner does not state the fact is rare
    stated = torch.tensor([[fact in pose_facts(pose) for fact in FACTS] for pose in keypoints])
    free = (violations == 0) & ~stated
    assert float(free.float().mean()) < 0.01
    # a margin makes facts that only just hold cost a little
    assert (fact_violations(keypoints[..., :2], margin=0.1) >= violations).all()


def test_descending_the_fact_loss_makes_the_captioner_state_the_facts(anny_body):
    keypoints = sampled_keypoints(anny_body, 40, seed=7)
    asked = [("arms_down", "standing"), ("arms_to_sides",), ("hands_together",), ("right_knee_bent",), ("left_leg_raised",), ("leaning_forward",)]
    for facts in asked:
        start = [k for k in keypoints if not set(facts) <= pose_facts(k)][0]
        points = start[None, :, :2].clone().requires_grad_(True)
        optimizer = torch.optim.Adam([points], lr=0.3)
        stated = fact_mask([facts])
        for _ in range(300):
            optimizer.zero_grad()
            loss = fact_loss(points, stated, margin=0.05).sum()
            if float(loss.detach()) == 0:
                break
            loss.backward()
            optimizer.step()
        moved = torch.cat((points.detach()[0], start[:, 2:]), 1)
        assert set(facts) <= pose_facts(moved), (facts, sorted(pose_facts(moved)))


def test_fact_mask_marks_the_stated_facts():
    mask = fact_mask([("arms_down",), ("squatting", "legs_apart")])
    assert mask.shape == (2, len(FACTS))
    assert [FACTS[i] for i in mask[0].nonzero()[:, 0]] == ["arms_down"]
    assert sorted(FACTS[i] for i in mask[1].nonzero()[:, 0]) == ["legs_apart", "squatting"]
