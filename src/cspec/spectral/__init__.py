"""The complex spectrogram: STFT/iSTFT (``stft``), the export-safe STFT (``export``), features and masks."""

from cspec.spectral.export import ConvISTFT, ConvSTFT
from cspec.spectral.stft import PRESETS, STFTConfig, get_preset, istft, list_presets, make_window, n_frames, stft

__all__ = ["ConvISTFT", "ConvSTFT", "PRESETS", "STFTConfig", "get_preset", "istft", "list_presets", "make_window", "n_frames", "stft"]

from cspec.spectral import features, masks  # noqa: E402
from cspec.spectral.features import *  # noqa: E402,F401,F403
from cspec.spectral.masks import *  # noqa: E402,F401,F403

__all__ += ["features", "masks", *features.__all__, *masks.__all__]
