"""Text-to-pose benchmark: do generated poses say what was asked?

For held-out captioned poses (body-model poses drawn with a seed the training never uses), one
pose is generated per caption and captioned again by the automatic captioner; a caption counts
as matched when every fact it states holds for the generated pose. The random-pose baseline
answers every caption with the pose of another held-out caption (what a model that ignores the
text would score). The spread of samples for one sentence is the mean distance, in units of
the body's size (`body_scale`), of each sample's keypoints to the samples' mean pose.

    python benchmarks/text2pose.py [--checkpoint FOLDER] [--count 300]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bodymesh.registry import load_body_model  # noqa: E402
from mimic.text2pose.captioner import body_scale, caption, pose_facts  # noqa: E402
from mimic.text2pose.data import sampled_keypoints  # noqa: E402
from mimic.text2pose.posing import load_text2pose, plausible  # noqa: E402
from mimic.text2pose.text_encoder import shared_encoder  # noqa: E402

HELD_OUT_SEED = 1_000_003  # training uses seeds 0, 1, ...: this one draws poses it never saw
SPREAD_SENTENCES = {  # sentence -> the fact it asks for
    "a man raising both arms above his head": "both_hands_above_head",
    "a woman squatting": "squatting",
    "someone with arms stretched out to the sides": "arms_to_sides",
    "a person standing upright": "standing",
}


def spread(keypoints: torch.Tensor) -> float:
    """Mean distance of samples `(N, K, 3)` to their mean pose, in body sizes."""
    confident = keypoints[..., 2] > 0
    mean = keypoints[..., :2].mean(0)
    distance = (keypoints[..., :2] - mean).norm(dim=-1)[confident].mean()
    return float(distance) / max(body_scale(torch.cat((mean, torch.ones_like(mean[:, :1])), 1)), 1e-6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="text2pose checkpoint folder (default: the shipped model)")
    parser.add_argument("--count", type=int, default=300, help="held-out captioned poses")
    parser.add_argument("--samples", type=int, default=32, help="samples per sentence for the spread")
    args = parser.parse_args()
    torch.manual_seed(0)

    model = load_text2pose(args.checkpoint)
    encoder = shared_encoder()
    body = load_body_model("anny")
    poses = sampled_keypoints(body, args.count, HELD_OUT_SEED)
    rng = random.Random(HELD_OUT_SEED)
    captions = [caption(pose_facts(k), rng) for k in poses]
    embeddings = encoder.encode([c.text for c in captions])
    generated = model.keypoints(embeddings, model.noise(len(captions), torch.Generator().manual_seed(1)))
    baseline = poses.roll(1, 0)

    def matched(keypoints: torch.Tensor) -> tuple[float, float, Counter, Counter]:
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

    model_all, model_facts, model_hits, asked = matched(generated)
    base_all, base_facts, base_hits, _ = matched(baseline)
    real_all, real_facts, _, _ = matched(poses)
    print(f"plausible generated poses: {sum(plausible(k) for k in generated)}/{len(generated)}")
    print(f"held-out captions: {len(captions)} (seed {HELD_OUT_SEED}); facts per caption {sum(len(c.facts) for c in captions) / len(captions):.2f}")
    print()
    print("| poses answering the caption | all stated facts hold | stated facts that hold |")
    print("|---|---|---|")
    print(f"| text2pose (generated) | {100 * model_all:.1f}% | {100 * model_facts:.1f}% |")
    print(f"| random pose (baseline) | {100 * base_all:.1f}% | {100 * base_facts:.1f}% |")
    print(f"| the captioned pose itself | {100 * real_all:.1f}% | {100 * real_facts:.1f}% |")
    print()
    print("| fact | asked | text2pose | random pose |")
    print("|---|---|---|---|")
    for fact, count in asked.most_common():
        if count >= 5:
            print(f"| {fact} | {count} | {100 * model_hits[fact] / count:.0f}% | {100 * base_hits[fact] / count:.0f}% |")
    print()
    print(f"| sentence | spread of {args.samples} samples (body sizes) | samples with the sentence's first fact |")
    print("|---|---|---|")
    data_spread = spread(poses[: args.samples])
    for sentence, key in SPREAD_SENTENCES.items():
        text = encoder.encode([sentence]).expand(args.samples, -1)
        samples = model.keypoints(text, model.noise(args.samples, torch.Generator().manual_seed(2)))
        facts = [pose_facts(k) if plausible(k) else frozenset() for k in samples]
        print(f"| {sentence} | {spread(samples):.3f} | {sum(key in f for f in facts)}/{args.samples} ({key}) |")
    print(f"| (held-out data poses, for scale) | {data_spread:.3f} | |")


if __name__ == "__main__":
    main()
