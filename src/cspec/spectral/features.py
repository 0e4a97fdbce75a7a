"""Features of the complex spectrogram: magnitude, log, power-law compression, real/imag channels, consistency.

Every function takes PyTorch native complex spectrograms ``(..., freq, frames)`` (any leading dims, any device)
and is differentiable; zero bins give finite values and finite gradients. The phase features (group delay,
instantaneous frequency, baseband phase difference, anti-wrapping) live in
:mod:`cspec.spectral.phase_features` and are re-exported here.
"""

from __future__ import annotations

import torch

from cspec.errors import ConfigError
from cspec.spectral.phase_features import (
    anti_wrap,
    baseband_phase_difference,
    group_delay,
    instantaneous_angular_frequency,
    instantaneous_frequency,
    phase_freq_derivative,
    phase_time_derivative,
    wrap,
)
from cspec.spectral.stft import STFTConfig, get_preset, istft, stft

__all__ = [
    "magnitude", "phase", "log_magnitude", "compress", "decompress", "compress_magnitude", "decompress_magnitude",
    "to_real_imag", "from_real_imag", "mag_phase_to_complex", "consistency_projection", "inconsistency", "silent_bins",
    # re-exported from cspec.spectral.phase_features
    "wrap", "anti_wrap", "phase_time_derivative", "phase_freq_derivative", "instantaneous_angular_frequency",
    "baseband_phase_difference", "group_delay", "instantaneous_frequency",
]


def _complex(X: torch.Tensor, what: str) -> torch.Tensor:
    if not torch.is_tensor(X) or not X.is_complex():
        raise ConfigError(f"{what} expects a complex tensor; build one with cspec.spectral.stft or torch.complex")
    return X


def _check_compression(c: float, beta: float) -> None:
    if not c > 0 or not beta > 0:
        raise ConfigError(f"power-law compression needs c > 0 and beta > 0, got c={c}, beta={beta}")


def magnitude(X: torch.Tensor) -> torch.Tensor:
    """``|X|`` (real, same shape). The gradient at a zero bin is 0."""
    return torch.abs(_complex(X, "magnitude"))


def phase(X: torch.Tensor) -> torch.Tensor:
    """``angle(X)`` in radians, in ``(-pi, pi]`` (0 at zero bins, gradient 0 there)."""
    return torch.angle(_complex(X, "phase"))


def log_magnitude(X: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Natural-log magnitude ``ln(|X| + eps)`` (not log10; multiply by ``20 / ln(10)`` for dB).

    ``eps`` keeps zero bins finite (``ln(eps)`` there) and the gradient bounded by ``1/eps``.
    """
    if eps <= 0:
        raise ConfigError(f"log_magnitude needs eps > 0 to keep zero bins finite, got {eps}")
    return torch.log(magnitude(X) + eps)


def compress_magnitude(mag: torch.Tensor, c: float = 0.3, beta: float = 1.0) -> torch.Tensor:
    """Power-law compression of a magnitude, ``beta * mag**c`` (c = 0.3, beta = 1 in MP-SENet, Lu et al. 2023).

    Zero entries give 0 with gradient 0 (the true derivative ``c * mag**(c-1)`` is infinite there).
    """
    _check_compression(c, beta)
    if mag.is_complex():
        raise ConfigError("compress_magnitude expects a real magnitude; use compress() for a complex spectrogram")
    pos = mag > 0
    safe = torch.where(pos, mag, torch.ones_like(mag))
    return torch.where(pos, beta * safe.pow(c), torch.zeros_like(mag))


def decompress_magnitude(mag_c: torch.Tensor, c: float = 0.3, beta: float = 1.0) -> torch.Tensor:
    """The exact inverse of :func:`compress_magnitude`: ``(mag_c / beta) ** (1 / c)``."""
    _check_compression(c, beta)
    return compress_magnitude(mag_c / beta, 1.0 / c, 1.0)


# Digital silence and the float rounding around it: where gradients of |X|**p or angle(X) blow up, both guards live
# here. The phase losses take a bin's angle as 0 (no gradient) under SILENT_BIN; compress() holds its gain under
# COMPRESS_FLOOR (its output there is already far below anything audible).

#: L1 modulus ``|Re| + |Im|`` under which a bin counts as silent for its angle (-160 dB re a full-scale frame's bin)
SILENT_BIN = 1e-8
#: modulus under which :func:`compress` (c < 1) keeps the gain constant (finite gradients near silence)
COMPRESS_FLOOR = 1e-12


def silent_bins(X: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the bins of complex ``X`` whose angle is meaningless (``|Re| + |Im| <`` :data:`SILENT_BIN`)."""
    return X.real.abs() + X.imag.abs() < SILENT_BIN


def compress(X: torch.Tensor, c: float = 0.3, beta: float = 1.0) -> torch.Tensor:
    """Complex power-law compression ``beta * |X|**c * exp(j angle X)`` (phase kept).

    Used by MP-SENet and CMGAN (c = 0.3, beta = 1; Lu et al. 2023, Cao et al. 2022) and by SGMSE+
    (c = 0.5, beta = 0.15; Richter et al. 2023); the presets carry them as ``config.compress`` and
    ``config.compress_scale``. Computed as ``X * beta * |X|**(c - 1)``; zero bins stay 0 (no NaN), and for
    ``c < 1`` bins under :data:`COMPRESS_FLOOR` (1e-12) get the floor's gain, so that the gradient stays finite.
    """
    _check_compression(c, beta)
    mag = magnitude(_complex(X, "compress"))
    if c < 1.0:
        # below COMPRESS_FLOOR the gain stops growing (linear there, continuous at the floor): the gradient of
        # |X|**(c - 1) overflows float32 on the rounding noise around digital silence and made training steps NaN
        return X * (beta * mag.clamp_min(COMPRESS_FLOOR).pow(c - 1.0))
    pos = mag > 0
    safe = torch.where(pos, mag, torch.ones_like(mag))
    gain = torch.where(pos, beta * safe.pow(c - 1.0), torch.zeros_like(mag))
    return X * gain


def decompress(X_c: torch.Tensor, c: float = 0.3, beta: float = 1.0) -> torch.Tensor:
    """The exact inverse of :func:`compress`: ``(|X_c| / beta)**(1/c) * exp(j angle X_c)``."""
    _check_compression(c, beta)
    return compress(_complex(X_c, "decompress") / beta, 1.0 / c, 1.0)


def to_real_imag(X: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """Stack real and imaginary parts as two channels along ``dim`` of the output.

    The default ``dim=-3`` turns ``(..., freq, frames)`` into ``(..., 2, freq, frames)`` (the input of
    DCCRN/MP-SENet-style networks); ``dim=-1`` gives ``(..., freq, frames, 2)`` like ``torch.view_as_real``.
    """
    X = _complex(X, "to_real_imag")
    return torch.stack([X.real, X.imag], dim=dim)


def from_real_imag(x: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """Inverse of :func:`to_real_imag`: a size-2 axis ``dim`` (real, imag) becomes a complex tensor."""
    if x.is_complex() or x.dim() == 0 or x.shape[dim] != 2:
        raise ConfigError(f"from_real_imag needs a real tensor with size 2 along dim {dim}, got {tuple(x.shape)}")
    re, im = x.unbind(dim)
    return torch.complex(re, im)


def mag_phase_to_complex(mag: torch.Tensor, phase_: torch.Tensor) -> torch.Tensor:
    """``mag * exp(j * phase)`` (broadcasting); the polar form networks such as MP-SENet output."""
    if mag.is_complex() or phase_.is_complex():
        raise ConfigError("mag_phase_to_complex expects real magnitude and phase tensors")
    return torch.complex(mag * torch.cos(phase_), mag * torch.sin(phase_))


def consistency_projection(X: torch.Tensor, config: STFTConfig | str = "mpsenet", length: int | None = None):
    """Project onto the consistent spectrograms: ``P(X) = STFT(iSTFT(X))`` (Griffin & Lim 1984, eq. 6; Wisdom
    et al. 2019 use it as a network layer, "mixture consistency").

    Most complex arrays are not the STFT of any signal; ``P`` returns the STFT of the least-squares signal, so
    ``P(P(X)) = P(X)``. ``length`` is passed to the iSTFT: give the original signal's length to project the
    STFT of a signal whose length is not a multiple of the hop exactly onto itself.
    """
    cfg = get_preset(config)
    return stft(istft(_complex(X, "consistency_projection"), cfg, length=length), cfg)


def inconsistency(X: torch.Tensor, config: STFTConfig | str = "mpsenet", length: int | None = None) -> torch.Tensor:
    """Relative inconsistency ``||X - P(X)||_F / ||X||_F`` over (freq, frames), one value per leading index.

    About 1e-7 (float32) for the STFT of a real signal; near 1 for random complex noise with a large overlap.
    """
    P = consistency_projection(X, config, length)
    num = (X - P).flatten(-2).norm(dim=-1)
    den = X.flatten(-2).norm(dim=-1)
    return num / torch.where(den > 0, den, torch.ones_like(den))
