"""The complex spectrogram: STFT/iSTFT (``stft``), the export-safe STFT (``export``), features and masks."""

from cspec.spectral.export import ConvISTFT, ConvSTFT
from cspec.spectral.stft import PRESETS, STFTConfig, get_preset, istft, list_presets, make_window, n_frames, stft

__all__ = ["ConvISTFT", "ConvSTFT", "PRESETS", "STFTConfig", "get_preset", "istft", "list_presets", "make_window", "n_frames", "stft"]
