"""Exceptions a user can cause. The CLI turns each into one line and a non-zero exit."""


class MimicError(Exception):
    """Base class of every error mimic raises for a user to act on."""


class InputError(MimicError):
    """An input file is missing, unreadable or not an image / video."""


class NoPersonError(MimicError):
    """No person was found where one is needed."""


class ModelFilesError(MimicError):
    """Body model files (e.g. licensed SMPL files) are missing or malformed."""


class OutputError(MimicError):
    """An output path cannot be written."""


class OptionError(MimicError):
    """A command-line option or argument has a value mimic cannot use."""
