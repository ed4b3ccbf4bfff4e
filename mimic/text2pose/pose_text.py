"""What text to pose reads of a sentence: the mean of its clauses' sentence embeddings.

A pose sentence is a conjunction of statements, each binding a side to a body part ("leaning
to the left, raising the right knee"). all-MiniLM pools its token states over the whole
sentence, and the sides of the clauses blur: that sentence and its mirror ("leaning to the
right, raising the left knee") are 0.997 alike (cosine), as alike as two wordings of one
sentence. Embedded alone, each clause keeps its own side ("leaning to the left" vs "to the
right": 0.967), and the mean of the clause embeddings keeps every clause's (the pair above:
0.992, three times as far apart). A linear probe trained on the captions of 3000 training
poses that state one side (1226 captions) tells which way the body leans in 94% of 121
held-out captions from the sentence embedding, in 100% from the clause mean (which leg is
raised: 94% -> 98% of 167; which arm: 87% -> 94% of 53; which knee is bent: 97% -> 100% of
113; `benchmarks/text_sides.py`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from mimic.text2pose.text_encoder import SentenceEncoder

CLAUSE_BREAK = re.compile(r"[,;.!?]|\b(?:and|while|but|then)\b", re.IGNORECASE)


def clauses(sentence: str) -> list[str]:
    """The clauses of `sentence`: its pieces between punctuation and the conjunctions "and",
    "while", "but", "then", stripped; the whole sentence when it has none."""
    pieces = [piece.strip() for piece in CLAUSE_BREAK.split(sentence)]
    return [piece for piece in pieces if piece] or [sentence.strip()]


def embed_pose_texts(encoder: "SentenceEncoder", sentences: list[str]) -> torch.Tensor:
    """`(N, 384)` unit vectors, on the encoder's device: for each sentence, the L2-normalised
    mean of its `clauses`' embeddings (`SentenceEncoder.encode`)."""
    split = [clauses(sentence) for sentence in sentences]
    flat = encoder.encode([clause for pieces in split for clause in pieces])
    owner = torch.tensor([row for row, pieces in enumerate(split) for _ in pieces], device=flat.device, dtype=torch.long)
    summed = flat.new_zeros(len(sentences), flat.shape[1]).index_add_(0, owner, flat)
    return F.normalize(summed, dim=-1)
