"""The networks and how each learns: the Liquid Warping GAN, PG2, PATN, SPT, their building
blocks, losses (LPIPS among them) and image metrics; each model's training step sits beside its
network (the trainer, data and checkpoints are `mimic.training`'s)."""
