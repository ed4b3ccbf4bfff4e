"""The quantitative evaluation of "Adversarial Synthesis of Human Pose from Text" (Zhang et al.,
GCPR 2020), beside the captioner's judgement (`benchmarks/text2pose.py`).

- Realism: the distance from each generated pose to its nearest training pose, read against the
  same distance for real held-out poses (a realistic generator is as close to the data as new
  real poses are; one that copies training poses is closer, one that draws non-poses farther).
- Text fidelity: the distance from each generated pose to the poses of the training captions
  nearest to its sentence in the sentence-embedding space, read against the same for a pose
  drawn at random (a generator that follows the text lands near the poses said alike).

Poses are `(N, K, 3)` keypoints in the 64 x 64 heatmap frame (pixels + confidence), all
normalised to the same size (`data.normalize_keypoints`), so distances are comparable: they are
mean keypoint distances in units of the person's size in the frame (`data.PERSON_SIZE`).
"""

from __future__ import annotations

import torch

from mimic.text2pose.data import PERSON_SIZE


def pose_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`(N, M)` mean distance between the keypoints of poses `a (N, K, 3)` and `b (M, K, 3)`
    present in both (confidence > 0), in person sizes; inf for a pair with none in common."""
    present = (a[:, None, :, 2] > 0) & (b[None, :, :, 2] > 0)
    distance = (a[:, None, :, :2] - b[None, :, :, :2]).norm(dim=-1)
    counted = present.sum(-1)
    mean = (distance * present).sum(-1) / counted.clamp(min=1)
    return torch.where(counted > 0, mean / PERSON_SIZE, torch.full_like(mean, float("inf")))


def nearest_pose_distance(poses: torch.Tensor, reference: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """`(N,)` distance from each of `poses (N, K, 3)` to its nearest pose of `reference (M, K, 3)`."""
    return torch.cat([pose_distances(poses[i : i + chunk], reference).amin(1) for i in range(0, len(poses), chunk)])


def text_fidelity(
    poses: torch.Tensor, texts: torch.Tensor, train_texts: torch.Tensor, train_poses: torch.Tensor, neighbours: int = 10
) -> torch.Tensor:
    """`(N,)` distance from each pose to the nearest of the poses of the `neighbours` training
    captions most similar (cosine) to its sentence.

    Args:
        poses: `(N, K, 3)` one pose per sentence. texts: `(N, D)` their sentence embeddings.
        train_texts: `(M, D)` embeddings of training captions; train_poses: `(M, K, 3)` the pose
            each caption describes.
    """
    similarity = torch.nn.functional.normalize(texts, dim=-1) @ torch.nn.functional.normalize(train_texts, dim=-1).T
    nearest = similarity.topk(min(neighbours, len(train_texts)), dim=1).indices  # (N, n)
    return torch.stack([pose_distances(pose[None], train_poses[rows])[0].min() for pose, rows in zip(poses, nearest)])
