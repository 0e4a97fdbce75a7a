"""Spectral distances between a reference and an estimate."""

from __future__ import annotations

import torch

from cspec.spectral.stft import STFTConfig, stft

__all__ = ["spectral_convergence", "spectral_convergence_db"]


def spectral_convergence(
    target_mag: torch.Tensor, estimate: torch.Tensor, config: STFTConfig | str = "mpsenet", eps: float = 1e-12
) -> torch.Tensor:
    """Spectral convergence of a waveform against a target magnitude (Sturmel & Daudet 2011, eq. 4).

        SC = || |S| - |STFT(x_hat)| ||_F / || |S| ||_F

    ``target_mag`` is ``(..., freq, frames)``; ``estimate`` is a waveform ``(..., samples)`` (analysed with
    ``config``) or a spectrogram of the same shape as ``target_mag``. Returns one value per leading index.
    Phase retrieval papers report it in dB: :func:`spectral_convergence_db`.
    """
    est = estimate if (estimate.is_complex() or estimate.dim() == target_mag.dim()) else stft(estimate, config)
    est_mag = est.abs() if est.is_complex() else est
    frames = min(est_mag.shape[-1], target_mag.shape[-1])
    diff = (target_mag[..., :frames] - est_mag[..., :frames]).flatten(-2)
    return diff.norm(dim=-1) / target_mag[..., :frames].flatten(-2).norm(dim=-1).clamp_min(eps)


def spectral_convergence_db(target_mag: torch.Tensor, estimate: torch.Tensor, config="mpsenet") -> torch.Tensor:
    """:func:`spectral_convergence` as ``20 * log10(SC)`` (lower is better)."""
    return 20 * torch.log10(spectral_convergence(target_mag, estimate, config).clamp_min(1e-12))
