"""Text-to-pose benchmark: do generated poses say what was asked?

For held-out captioned poses (body-model poses drawn with a seed the training never uses), one
pose is generated per caption and captioned again by the automatic captioner; a caption counts
as matched when every fact it states holds for the generated pose. The random-pose baseline
answers every caption with the pose of another held-out caption (what a model that ignores the
text would score). The spread of samples for one sentence is the mean distance, in units of
the body's size (`body_scale`), of each sample's keypoints to the samples' mean pose.

Beside the captioner, the paper's two measures (`mimic/text2pose/evaluation.py`): realism and
text fidelity, for the model, the regression baseline (`--regression FOLDER`) and random poses.

    python benchmarks/text2pose.py [--checkpoint FOLDER] [--regression FOLDER] [--count 300] [--held-out-seed N]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mimic.pipeline.body import load_body_model  # noqa: E402
from mimic.tasks.pose import load_text2pose, plausible  # noqa: E402
from mimic.text2pose.captioner import body_scale, caption, pose_facts  # noqa: E402
from mimic.text2pose.data import sampled_keypoints  # noqa: E402
from mimic.text2pose.evaluation import nearest_pose_distance, text_fidelity  # noqa: E402
from mimic.text2pose.pose_text import embed_pose_texts  # noqa: E402
from mimic.text2pose.text_encoder import shared_encoder  # noqa: E402

HELD_OUT_SEED = 1_000_003  # training uses seeds 0, 1, ...: this one draws poses it never saw
SPREAD_SENTENCES = {  # sentence -> the facts it asks for
    "a man raising both arms above his head": ("both_hands_above_head",),
    "a woman squatting": ("squatting",),
    "someone with arms stretched out to the sides": ("arms_to_sides",),
    "a person standing upright": ("standing",),
    "a man standing upright with arms down": ("standing", "arms_down"),
    "a person raising the right knee": ("right_leg_raised",),
    # wordings the captioner never uses: does the model follow the sense or the words?
    "someone standing relaxed, arms hanging loosely": ("arms_down",),
    "a man holding his arms straight out": ("arms_to_sides",),
    "a woman lifting her right knee high": ("right_leg_raised",),
}


def spread(keypoints: torch.Tensor) -> float:
    """Mean distance of samples `(N, K, 3)` to their mean pose, in body sizes."""
    confident = keypoints[..., 2] > 0
    mean = keypoints[..., :2].mean(0)
    distance = (keypoints[..., :2] - mean).norm(dim=-1)[confident].mean()
    return float(distance) / max(body_scale(torch.cat((mean, torch.ones_like(mean[:, :1])), 1)), 1e-6)


def fact_shares(captions: list, keypoints: torch.Tensor) -> tuple[float, float, Counter, Counter]:
    """`(captions fully answered, stated facts that hold, hits per fact, asks per fact)` of one
    pose `(K, 3)` per caption."""
    whole, stated, hits, asked = 0, 0, Counter(), Counter()
    for c, k in zip(captions, keypoints):
        facts = pose_facts(k) if plausible(k) else frozenset()
        ok = [f in facts for f in c.facts]
        whole += all(ok)
        stated += sum(ok)
        for f, good in zip(c.facts, ok):
            asked[f] += 1
            hits[f] += good
    return whole / len(captions), stated / sum(len(c.facts) for c in captions), hits, asked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="text2pose checkpoint folder (default: the shipped model)")
    parser.add_argument("--regression", type=Path, default=None, help="text2pose-regression checkpoint folder, compared in every table")
    parser.add_argument("--count", type=int, default=300, help="held-out captioned poses")
    parser.add_argument("--samples", type=int, default=32, help="samples per sentence for the spread")
    parser.add_argument("--held-out-seed", type=int, default=HELD_OUT_SEED, help="seed of the held-out poses (another one to choose a checkpoint by)")
    parser.add_argument("--train-count", type=int, default=4000, help="training poses (seed 0) the paper's measures compare with")
    args = parser.parse_args()
    torch.manual_seed(0)

    models = {"text2pose": load_text2pose(args.checkpoint)}
    if args.regression is not None:
        models["text2pose-regression"] = load_text2pose(args.regression)
    encoder = shared_encoder()
    body = load_body_model("anny")
    poses = sampled_keypoints(body, args.count, args.held_out_seed)
    rng = random.Random(args.held_out_seed)
    captions = [caption(pose_facts(k), rng) for k in poses]
    embeddings = embed_pose_texts(encoder, [c.text for c in captions])
    generated = {name: model.keypoints(embeddings, model.noise(len(captions), torch.Generator().manual_seed(1))) for name, model in models.items()}
    baseline = poses.roll(1, 0)

    scores = {name: fact_shares(captions, keypoints) for name, keypoints in generated.items()}
    base_all, base_facts, base_hits, _ = fact_shares(captions, baseline)
    real_all, real_facts, _, _ = fact_shares(captions, poses)
    for name, keypoints in generated.items():
        print(f"plausible poses of {name}: {sum(plausible(k) for k in keypoints)}/{len(keypoints)}")
    print(f"held-out captions: {len(captions)} (seed {args.held_out_seed}); facts per caption {sum(len(c.facts) for c in captions) / len(captions):.2f}")
    print()
    print("| poses answering the caption | all stated facts hold | stated facts that hold |")
    print("|---|---|---|")
    for name, (whole, stated, _, _) in scores.items():
        print(f"| {name} (generated) | {100 * whole:.1f}% | {100 * stated:.1f}% |")
    print(f"| random pose (baseline) | {100 * base_all:.1f}% | {100 * base_facts:.1f}% |")
    print(f"| the captioned pose itself | {100 * real_all:.1f}% | {100 * real_facts:.1f}% |")
    print()
    asked = next(iter(scores.values()))[3]
    print("| fact | asked | " + " | ".join(scores) + " | random pose |")
    print("|---|---|" + "---|" * len(scores) + "---|")
    for fact, count in asked.most_common():
        if count >= 5:
            shares = " | ".join(f"{100 * s[2][fact] / count:.0f}%" for s in scores.values())
            print(f"| {fact} | {count} | {shares} | {100 * base_hits[fact] / count:.0f}% |")
    print()

    # the paper's measures, against training poses and their captions
    train_poses = sampled_keypoints(body, args.train_count, 0)
    train_captions = [caption(pose_facts(k), random.Random(index)) for index, k in enumerate(train_poses)]
    train_texts = embed_pose_texts(encoder, [c.text for c in train_captions])
    print(f"| realism: distance to the nearest of {args.train_count} training poses (person sizes) | mean | median |")
    print("|---|---|---|")
    rows = {**{f"{name} (generated)": keypoints for name, keypoints in generated.items()}, "real held-out poses": poses}
    for label, keypoints in rows.items():
        distance = nearest_pose_distance(keypoints, train_poses)
        print(f"| {label} | {float(distance.mean()):.3f} | {float(distance.median()):.3f} |")
    print()
    print("| text fidelity: distance to the poses of the 10 training captions nearest the sentence (person sizes) | mean | median |")
    print("|---|---|---|")
    rows = {**{f"{name} (generated)": keypoints for name, keypoints in generated.items()}, "random pose (baseline)": baseline, "the captioned pose itself": poses}
    for label, keypoints in rows.items():
        distance = text_fidelity(keypoints, embeddings, train_texts, train_poses)
        print(f"| {label} | {float(distance.mean()):.3f} | {float(distance.median()):.3f} |")
    print()

    print(f"| sentence | model | spread of {args.samples} samples (body sizes) | samples with the sentence's facts |")
    print("|---|---|---|---|")
    data_spread = spread(poses[: args.samples])
    for sentence, keys in SPREAD_SENTENCES.items():
        text = embed_pose_texts(encoder, [sentence]).expand(args.samples, -1)
        for name, model in models.items():
            samples = model.keypoints(text, model.noise(args.samples, torch.Generator().manual_seed(2)))
            facts = [pose_facts(k) if plausible(k) else frozenset() for k in samples]
            print(f"| {sentence} | {name} | {spread(samples):.3f} | {sum(set(keys) <= f for f in facts)}/{args.samples} ({', '.join(keys)}) |")
    print(f"| (held-out data poses, for scale) | | {data_spread:.3f} | |")


if __name__ == "__main__":
    main()
