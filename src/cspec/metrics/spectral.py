"""Spectral distances between a reference and an estimate."""

from __future__ import annotations

import torch

from cspec.errors import ConfigError
from cspec.metrics._common import check_clip, pair_rows, restore
from cspec.spectral.stft import STFTConfig, stft

#: analysis of the log-spectral distance: 2048-point Hann frames, hop 512 (Kuleshov et al. 2017)
LSD_STFT = STFTConfig(n_fft=2048, hop_length=512, window="hann", center=True, pad_mode="constant", source="LSD")

__all__ = [
    "spectral_convergence", "spectral_convergence_db", "log_spectral_distance", "spectral_convergence_wave", "LSD_STFT",
]


def spectral_convergence(
    target_mag: torch.Tensor, estimate: torch.Tensor, config: STFTConfig | str = "mpsenet", eps: float = 1e-12
) -> torch.Tensor:
    """Spectral convergence of a waveform against a target magnitude (Sturmel & Daudet 2011, eq. 4).

        SC = || |S| - |STFT(x_hat)| ||_F / || |S| ||_F

    ``target_mag`` is ``(..., freq, frames)``; ``estimate`` is a waveform ``(..., samples)`` (analysed with
    ``config``) or a spectrogram of the same shape as ``target_mag``. Returns one value per leading index.
    Phase retrieval papers report it in dB: :func:`spectral_convergence_db`. No sample rate: the inputs are
    spectrograms (or a waveform analysed with ``config``), and a number in the place of ``config`` is refused.
    """
    _check_config(config)
    est = estimate if (estimate.is_complex() or estimate.dim() == target_mag.dim()) else stft(estimate, config)
    est_mag = est.abs() if est.is_complex() else est
    frames = min(est_mag.shape[-1], target_mag.shape[-1])
    diff = (target_mag[..., :frames] - est_mag[..., :frames]).flatten(-2)
    return diff.norm(dim=-1) / target_mag[..., :frames].flatten(-2).norm(dim=-1).clamp_min(eps)


def spectral_convergence_db(target_mag: torch.Tensor, estimate: torch.Tensor, config="mpsenet") -> torch.Tensor:
    """:func:`spectral_convergence` as ``20 * log10(SC)`` (lower is better)."""
    return 20 * torch.log10(spectral_convergence(target_mag, estimate, config).clamp_min(1e-12))


def _check_config(config) -> None:
    if not isinstance(config, (STFTConfig, str)):
        raise ConfigError(f"config must be an STFTConfig or a preset name; got {config!r} ({type(config).__name__})")


def _wave_pair(ref, est, sr):
    """Two waveforms as float64 tensors cut to the shorter length, plus whether the input was NumPy."""
    r, e, lead, is_torch = pair_rows(ref, est, sr)
    for i in range(r.shape[0]):
        check_clip(r[i], e[i], sr, silent_est=False)
    return torch.from_numpy(r.copy()), torch.from_numpy(e.copy()), lead, is_torch


def log_spectral_distance(ref, est, sr: int, *, config: STFTConfig | str = LSD_STFT, eps: float = 1e-8):
    """Log-spectral distance (Gray & Markel 1976; in the form of Kuleshov, Enam & Ermon 2017, eq. 5).

        LSD = 1/M sum_m sqrt( 1/K sum_k ( log10 |X[k, m]|^2 - log10 |Xhat[k, m]|^2 )^2 )

    with ``X`` the STFT of ``ref`` and ``Xhat`` that of ``est`` (default 2048-point Hann frames, hop 512, as in
    the bandwidth-extension papers), powers floored at ``eps``. Units: log10 of power (bels); lower is better,
    0 for identical signals. Waveforms ``(..., samples)`` at rate ``sr``, tensors or arrays; one value per clip.
    A silent or non-finite reference raises :class:`cspec.metrics.MetricError`.
    """
    _check_config(config)
    r, e, lead, is_torch = _wave_pair(ref, est, sr)
    pr = stft(r, config).abs().pow(2).clamp_min(eps).log10()
    pe = stft(e, config).abs().pow(2).clamp_min(eps).log10()
    value = (pr - pe).pow(2).mean(-2).sqrt().mean(-1)
    return restore(value.numpy(), lead, is_torch)


def spectral_convergence_wave(ref, est, sr: int, *, config: STFTConfig | str = "mpsenet"):
    """:func:`spectral_convergence` between two waveforms (Sturmel & Daudet 2011, eq. 4).

        SC = || |STFT ref| - |STFT est| ||_F / || |STFT ref| ||_F          (one value per clip)

    ``sr`` is the rate of both waveforms (for the length check); ``config`` is the analysis STFT.
    """
    _check_config(config)
    r, e, lead, is_torch = _wave_pair(ref, est, sr)
    return restore(spectral_convergence(stft(r, config).abs(), e, config).numpy(), lead, is_torch)
