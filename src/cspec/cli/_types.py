"""Argument types shared by the sub-commands: they turn a package error into argparse's one-line usage error."""

from __future__ import annotations

import argparse

from cspec.errors import ConfigError
from cspec.spectral.stft import get_preset


def preset(text: str) -> str:
    """An STFT preset name (checked against :data:`cspec.spectral.stft.PRESETS`), lower-cased."""
    try:
        get_preset(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.lower()
