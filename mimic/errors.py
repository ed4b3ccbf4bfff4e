"""Exceptions a user can cause. The CLI turns each into one line and a non-zero exit.

They extend bodymesh's (`bodymesh.errors`, which stands alone beneath mimic), so one `except
MimicError` catches what any layer raises for a user to act on."""

from bodymesh.errors import ModelFilesError, NoPersonError, OptionError, OutputError
from bodymesh.errors import UserError as MimicError

__all__ = ["MimicError", "InputError", "NoPersonError", "ModelFilesError", "OutputError", "OptionError"]


class InputError(MimicError):
    """An input file is missing, unreadable or not an image / video."""
