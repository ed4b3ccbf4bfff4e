"""How much memory a device has free, and the largest working canvas that fits in it."""

from __future__ import annotations

import math
import os

import torch

from mimic.errors import OptionError

CANVAS_BYTES_PER_PIXEL = 512
"""Peak memory of the pipeline per pixel of its square canvas: ~400 bytes measured (warp
generator, 768 and 1536 px canvases, the difference of the two peaks), rounded up."""


def available_bytes(device: torch.device | str) -> int:
    """Bytes that can still be allocated on `device`: free GPU memory for CUDA, else the
    system's available memory (Linux `MemAvailable`, else the free physical pages)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def largest_canvas(device: torch.device | str) -> int:
    """Side in pixels of the largest square canvas whose pipeline fits in `device`'s free memory."""
    return math.isqrt(available_bytes(device) // CANVAS_BYTES_PER_PIXEL)


def check_canvas_fits(size: int, device: torch.device | str) -> None:
    """OptionError, with the limit, when a `size` x `size` canvas would not fit in memory."""
    limit = largest_canvas(device)
    if size > limit:
        need = size * size * CANVAS_BYTES_PER_PIXEL / 2**30
        have = available_bytes(device) / 2**30
        raise OptionError(
            f"size {size} needs about {need:,.0f} GiB of memory and {have:.1f} GiB are available "
            f"on {torch.device(device)}: the largest size that fits is {limit}"
        )
