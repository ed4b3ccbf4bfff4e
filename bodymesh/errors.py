"""Exceptions a user can cause in bodymesh (no person in an image, missing or damaged model
files, a bad option, an unwritable cache folder). `mimic.errors` extends them: the CLI turns
each into one line and a non-zero exit."""


class UserError(Exception):
    """Base class of every error raised for a user to act on (mimic's `MimicError`)."""


class NoPersonError(UserError):
    """No person was found where one is needed."""


class ModelFilesError(UserError):
    """Model files (e.g. licensed SMPL files, weights) are missing or malformed."""


class OutputError(UserError):
    """An output path (or the cache folder) cannot be written."""


class OptionError(UserError):
    """An option or argument has a value that cannot be used."""
