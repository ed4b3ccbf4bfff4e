"""People as meshes: body models, 2D keypoints and person masks, weak-perspective fitting."""
