"""The bilinear sampler that warps images and feature maps along a flow.

Grids are `torch.nn.functional.grid_sample`'s normalized coordinates with
`align_corners=False`: `x` runs from -1 at the left edge of the image to +1 at its right edge,
`y` from -1 at the top edge to +1 at the bottom edge. With the pixel convention of
`warping.raster` (pixel column `j` is centred at `u = j + 0.5`, an image of width `W` spans
`0 <= u <= W`) the two are related by `x = 2 u / W - 1`, `y = 2 v / H - 1`. Normalized
coordinates do not depend on the resolution, so one grid samples an image and any resized
version of it (a feature map of the same view) at the same places.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from warping.checks import check_choice, check_positive_int, check_shape

__all__ = ["pixels_to_grid", "grid_to_pixels", "identity_grid", "warp", "MODES", "PADDINGS"]

MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")


def pixels_to_grid(pixels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Image-space pixel positions to grid_sample coordinates.

    Args:
        pixels: `(..., 2)` floating `(u, v)`: pixel column, pixel row (pixel `(i, j)` is centred
            at `(j + 0.5, i + 0.5)`).
        height: `H` of the image the positions refer to (> 0).
        width: `W` of that image (> 0).
    Returns:
        `(..., 2)` `(x, y)` with `x = 2 u / W - 1`, `y = 2 v / H - 1`: [-1, 1] inside the image.
    """
    check_shape(pixels, "... 2", "pixels", floating=True)
    check_positive_int(height, "height")
    check_positive_int(width, "width")
    scale = pixels.new_tensor([2.0 / width, 2.0 / height])
    return pixels * scale - 1.0


def grid_to_pixels(grid: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The inverse of `pixels_to_grid`: `(..., 2)` `(x, y)` -> `(..., 2)` `(u, v)` pixels."""
    check_shape(grid, "... 2", "grid", floating=True)
    check_positive_int(height, "height")
    check_positive_int(width, "width")
    scale = grid.new_tensor([width / 2.0, height / 2.0])
    return (grid + 1.0) * scale


def identity_grid(
    batch: int,
    height: int,
    width: int,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """The grid that samples every pixel at its own centre.

    Args:
        batch: `B` (> 0).
        height: `H` (> 0).
        width: `W` (> 0).
        device, dtype: of the result (default: the default device and floating dtype).
    Returns:
        `(B, H, W, 2)` with `[..., i, j, :] = ((2 j + 1) / W - 1, (2 i + 1) / H - 1)`.
    """
    for name, size in (("batch", batch), ("height", height), ("width", width)):
        check_positive_int(size, name)
    dtype = dtype or torch.get_default_dtype()
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be floating point, got {dtype}")
    x = (torch.arange(width, device=device, dtype=dtype) * 2.0 + 1.0) / width - 1.0
    y = (torch.arange(height, device=device, dtype=dtype) * 2.0 + 1.0) / height - 1.0
    grid = torch.stack(torch.meshgrid(x, y, indexing="xy"), dim=-1)  # (H, W, 2)
    return grid.unsqueeze(0).expand(batch, height, width, 2).contiguous()


def warp(
    values: torch.Tensor,
    grid: torch.Tensor,
    mode: str = "bilinear",
    padding: str = "zeros",
) -> torch.Tensor:
    """Samples images or feature maps at grid positions (`grid_sample`, `align_corners=False`).

    Args:
        values: `(B, C, H, W)` floating: images (e.g. RGB in [-1, 1]) or feature maps, any `C`.
        grid: `(B, H', W', 2)` (or `(1, H', W', 2)`, shared by the batch) floating grid_sample
            coordinates into `values` (see the module docstring); converted to `values`' dtype.
        mode: "bilinear", "nearest" or "bicubic".
        padding: what positions outside the image read: "zeros", "border" (the nearest edge
            pixel) or "reflection".
    Returns:
        `(B, C, H', W')` in `values`' dtype and device.
    """
    check_shape(values, "B C H W", "values", floating=True)
    check_shape(grid, "B' H' W' 2", "grid", floating=True)
    if grid.device != values.device:
        raise ValueError(f"grid is on {grid.device} but values on {values.device}")
    batch = values.shape[0]
    if grid.shape[0] != batch:
        if grid.shape[0] != 1:
            raise ValueError(
                f"grid has batch {grid.shape[0]} but values {batch} (a grid of batch 1 is shared)"
            )
        grid = grid.expand(batch, *grid.shape[1:])
    check_choice(mode, MODES, "mode")
    check_choice(padding, PADDINGS, "padding")
    return F.grid_sample(
        values, grid.to(values.dtype), mode=mode, padding_mode=padding, align_corners=False
    )

