"""Model configs (dataclasses of plain values) updated by overrides: a checkpoint's saved config,
`mimic train --config KEY=VALUE`, a personalization's fixed fields."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from mimic.errors import OptionError

__all__ = ["config_with"]


def config_with(default: Any, overrides: dict | None) -> Any:
    """The config dataclass `default` with the fields in `overrides` replaced (for factories).

    Values are converted to the type of the field's default where that is a plain type (an int
    field accepts "3" and 3.0 when whole, a tuple field a list, ...). OptionError names the
    fields when a key is not one of them or a value does not convert.
    """
    names = {f.name for f in fields(default)}
    unknown = sorted(set(overrides or {}) - names)
    if unknown:
        raise OptionError(f"{type(default).__name__} has no field {', '.join(unknown)}; its fields: {', '.join(sorted(names))}")
    changes = {}
    for key, value in (overrides or {}).items():
        current = getattr(default, key)
        try:
            changes[key] = _convert(value, current)
        except (TypeError, ValueError):
            raise OptionError(f"config field {key!r} must be like {current!r}, got {value!r}") from None
    return replace(default, **changes)


def _convert(value: Any, like: Any) -> Any:
    """`value` as the type of `like` (bool, int, float, str, tuple, list); anything else as is."""
    if isinstance(like, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if isinstance(value, bool):
            return value
        raise ValueError(value)
    if isinstance(like, int):
        number = float(value)
        if not number.is_integer() or isinstance(value, bool):
            raise ValueError(value)
        return int(number)
    if isinstance(like, float):
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if isinstance(like, str):
        return str(value)
    if isinstance(like, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise ValueError(value)
        return type(like)(value)
    return value
