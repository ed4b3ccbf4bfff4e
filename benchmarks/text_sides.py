"""Which side does a sentence embedding say? Linear probes on the text of text to pose.

For each pair of mirrored facts (leaning left / right, left / right leg raised, ...), captions
that state exactly one of the two are embedded two ways: the whole sentence
(`SentenceEncoder.encode`, all-MiniLM's mean over the sentence's tokens) and clause by clause
(`pose_text.embed_pose_texts`, what text to pose reads). A logistic regression on the
standardised embeddings of training captions (poses of seed 0, two captions each) says which
side a held-out caption (poses of a seed training never uses) states; the table gives its
accuracy. A model that reads the embedding cannot follow a side the probe cannot see.

    python benchmarks/text_sides.py [--train-count 3000] [--count 600]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mimic.pipeline.body import load_body_model  # noqa: E402
from mimic.text2pose.captioner import Caption, caption, pose_facts  # noqa: E402
from mimic.text2pose.data import sampled_keypoints  # noqa: E402
from mimic.text2pose.pose_text import embed_pose_texts  # noqa: E402
from mimic.text2pose.text_encoder import shared_encoder  # noqa: E402

HELD_OUT_SEED = 1_000_003
MIRRORED = (
    ("leaning_left", "leaning_right"),
    ("left_leg_raised", "right_leg_raised"),
    ("left_arm_raised", "right_arm_raised"),
    ("left_knee_bent", "right_knee_bent"),
)


def captions_of(body, count: int, seed: int, per_pose: int) -> list[Caption]:
    """`per_pose` captions of each of `count` sampled poses, wording drawn with `seed`."""
    rng = random.Random(seed)
    return [caption(pose_facts(k), rng) for k in sampled_keypoints(body, count, seed) for _ in range(per_pose)]


def probe_accuracy(train: torch.Tensor, labels: torch.Tensor, test: torch.Tensor, truth: torch.Tensor, steps: int = 1500) -> float:
    """Held-out accuracy of a logistic regression on `train (N, D)` with 0/1 `labels (N,)`,
    judged on `test (M, D)` against `truth (M,)` (both standardised by the training set's statistics)."""
    mean, scale = train.mean(0), train.std(0) + 1e-6
    train, test = (train - mean) / scale, (test - mean) / scale
    torch.manual_seed(0)
    probe = torch.nn.Linear(train.shape[1], 1)
    optimizer = torch.optim.Adam(probe.parameters(), 1e-3, weight_decay=1e-4)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(probe(train)[:, 0], labels).backward()
        optimizer.step()
    with torch.no_grad():
        return float(((probe(test)[:, 0] > 0).float() == truth).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-count", type=int, default=3000, help="training poses (seed 0), two captions each")
    parser.add_argument("--count", type=int, default=600, help="held-out poses, one caption each")
    args = parser.parse_args()
    encoder, body = shared_encoder(), load_body_model("anny")
    train, test = captions_of(body, args.train_count, 0, 2), captions_of(body, args.count, HELD_OUT_SEED, 1)
    embeddings = {
        "sentence": (encoder.encode([c.text for c in train]), encoder.encode([c.text for c in test])),
        "clause by clause": (embed_pose_texts(encoder, [c.text for c in train]), embed_pose_texts(encoder, [c.text for c in test])),
    }
    print("| which side (captions stating one) | training / held-out captions | " + " | ".join(embeddings) + " |")
    print("|---|---|" + "---|" * len(embeddings))
    for left, right in MIRRORED:
        rows = [i for i, c in enumerate(train) if (left in c.facts) != (right in c.facts)]
        held = [i for i, c in enumerate(test) if (left in c.facts) != (right in c.facts)]
        labels = torch.tensor([float(left in train[i].facts) for i in rows])
        truth = torch.tensor([float(left in test[i].facts) for i in held])
        shares = [probe_accuracy(a[rows], labels, b[held], truth) for a, b in embeddings.values()]
        print(f"| {left} / {right} | {len(rows)} / {len(held)} | " + " | ".join(f"{100 * s:.1f}%" for s in shares) + " |")


if __name__ == "__main__":
    main()
