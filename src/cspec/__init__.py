"""cspec: deep learning on complex speech spectrograms.

The package follows the taxonomy of Xie & Tan (2025), "A Survey of Deep Learning for Complex Speech
Spectrograms": ``cspec.audio`` (files) -> ``cspec.spectral`` (STFT, features, masks) -> models ->
``cspec.phase`` / iSTFT -> ``cspec.audio``.
"""

from cspec.errors import AudioError, ConfigError, CspecError, DataError

__version__ = "0.1.0"
__all__ = ["AudioError", "ConfigError", "CspecError", "DataError", "__version__"]
