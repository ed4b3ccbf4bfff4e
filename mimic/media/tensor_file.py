"""Safetensors files: named tensors with a header of string metadata (weights, subject files)."""

from __future__ import annotations

import torch

from mimic.media.files import PathLike, atomic_path, make_folder_for

__all__ = ["read_tensors", "write_tensors"]


def read_tensors(path: PathLike) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """A safetensors file's header metadata (empty when it has none) and tensors, on the CPU.
    Raises what safetensors raises for an unreadable file (OSError, SafetensorError)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as file:
        return file.metadata() or {}, {k: file.get_tensor(k) for k in file.keys()}


def write_tensors(path: PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Writes `tensors` (made contiguous, on the CPU) and `metadata` as a safetensors file, its
    folder made when missing, atomically (`atomic_path`); OutputError if it cannot."""
    from safetensors.torch import save_file

    make_folder_for(path)
    with atomic_path(path) as temporary:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(temporary), metadata=metadata)
