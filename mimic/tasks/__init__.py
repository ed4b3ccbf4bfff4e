"""What each command runs: video, novel views, appearance swap, text-to-pose, fit and its
exports, evaluation, personalization, the demo and batches."""
