"""The per-frame pipeline: the `Imitator` (detect, fit, clothe, crop, rasterize, flow, generate)
and its parts (crop box, clean plates, clothed subject, prefetching, memory bound)."""
