"""Argument checks in one small vocabulary: a tensor's shape as a string of named dimensions,
as kornia's `KORNIA_CHECK_SHAPE(x, ["B", "C", "H", "W"])`.

`check_shape(grid, "B H W 2", "grid")` checks the rank and the literal sizes and returns the
named ones (`{"B": 2, "H": 64, "W": 64}`); a name repeated, or given in `sizes`, must agree
everywhere. "..." at the start accepts any leading dimensions. Every failure is one ValueError
naming the argument, the expected shape and what it got.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["describe", "check_shape", "check_positive_int", "check_choice"]


def describe(value: object) -> str:
    """`"torch.float32 (2, 3)"` for a tensor, else the value's type name."""
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} {tuple(value.shape)}"
    return type(value).__name__


def _expected(dims: list[str], bound: dict[str, int]) -> str:
    names = ", ".join(dims)
    sizes = [str(bound.get(d, d)) if not d.isdigit() else d for d in dims]
    shown = ", ".join(sizes)
    return f"({names})" if shown == names else f"({names}) = ({shown})"


def check_shape(
    value: Any, dims: str, name: str, *, floating: bool | None = None, sizes: dict[str, int] | None = None
) -> dict[str, int]:
    """Checks that `value` is a tensor of shape `dims` (space-separated: a number is that size,
    a name any size but the same wherever it appears or as `sizes` gives it; a leading "..." any
    leading dimensions); `floating`: True needs a floating dtype, False an integer one. Returns
    the named sizes, `sizes` included."""
    wanted = dims.split()
    leading = wanted[:1] == ["..."]
    wanted = wanted[1:] if leading else wanted
    bound = dict(sizes or {})
    kind = {True: "floating ", False: "integer "}.get(floating, "")
    shown = _expected(wanted, bound) if not leading else "(..., " + _expected(wanted, bound)[1:]

    def fail() -> ValueError:
        return ValueError(f"{name} must be a {kind}{shown} tensor, got {describe(value)}")

    if not isinstance(value, torch.Tensor) or (value.dim() < len(wanted) if leading else value.dim() != len(wanted)):
        raise fail()
    if floating is True and not value.is_floating_point():
        raise fail()
    if floating is False and (value.is_floating_point() or value.is_complex()):
        raise fail()
    actual = value.shape[value.dim() - len(wanted) :]
    for dim, size in zip(wanted, actual):
        if dim.isdigit():
            if int(dim) != size:
                raise fail()
        elif bound.setdefault(dim, size) != size:
            raise fail()
    return bound


def check_positive_int(value: Any, name: str) -> int:
    """`value` when it is an int > 0 (not a bool); else one ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_choice(value: Any, choices: tuple, name: str) -> Any:
    """`value` when it is one of `choices`; else one ValueError naming them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
