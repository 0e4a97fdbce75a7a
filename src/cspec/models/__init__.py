"""Architectures for complex spectrograms (survey Secs. 3-5), one file each, behind a registry.

``cspec.models.build(name, **config)`` makes one; ``cspec.models.list_models()`` names them all. Every model is
a :class:`SpeechModel`: waveforms in, a dict with ``"wave"`` (and its spectra) out; see :mod:`cspec.models.base`.
"""

from cspec.models.base import SpeechModel, build, get_model_class, list_models, register
from cspec.models.io import load, save

# Importing a model module registers its architectures.
from cspec.models import _catalogue  # noqa: E402,F401

__all__ = ["SpeechModel", "build", "get_model_class", "list_models", "register", "load", "save"]
