"""From meshes to pixel correspondences: rasterizer, correspondence maps, flows, warping."""
