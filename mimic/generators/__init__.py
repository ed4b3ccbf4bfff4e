"""Image generators behind one interface: warp-only now; the Liquid Warping GAN and the 2D baselines later."""
