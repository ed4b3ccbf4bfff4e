"""Text to pose: captions of poses, the text encoder, the conditional WGAN (and its regression
baseline), their data and the paper's measures. Posing a subject is `mimic.tasks.pose`'s."""
