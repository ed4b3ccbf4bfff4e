"""Training: paired data (video pairs made by the pipeline's own steps, synthetic pairs), the one
trainer (steps, checkpoints, resume, distributed), and subject files of personalized weights."""
