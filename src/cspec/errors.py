"""The package's own exception types.

Every error a user can cause (a bad file, a wrong sample rate, an unknown name, a bad option) raises one of
these with a message that says what went wrong and what to do. The CLI turns them into one line on stderr
and a non-zero exit code.
"""

from __future__ import annotations


class CspecError(Exception):
    """Base class of every error that cspec raises on purpose."""


class AudioError(CspecError):
    """A file of audio cannot be read or written (missing, empty, not audio, truncated, non-finite ...)."""


class ConfigError(CspecError, ValueError):
    """An option, preset, method or configuration value is unknown or out of range."""


class DataError(CspecError, ValueError):
    """A corpus folder, manifest or dataset option is missing, malformed or inconsistent (unpaired files ...)."""


class ModelError(CspecError):
    """A model is damaged or misbehaves (NaN/Inf weights or outputs), as opposed to a bad input or option."""


class Cancelled(Exception):
    """The work was stopped on request (Ctrl-C, SIGTERM) between two steps; partial outputs were removed."""


class AudioWarning(UserWarning):
    """Something was done to a signal that the user should know about (clipping, coarse quantisation ...);
    the CLI prints it as one line."""
