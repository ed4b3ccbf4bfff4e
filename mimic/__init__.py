"""mimic: human motion imitation with 3D body meshes (Liquid Warping GAN family)."""

__version__ = "0.1.0"
