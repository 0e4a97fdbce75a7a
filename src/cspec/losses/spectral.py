"""Spectral training objectives: complex MSE, compressed magnitude + real/imag, multi-resolution STFT, consistency.

Spectrograms are PyTorch complex tensors ``(..., freq, frames)``; waveforms are ``(..., samples)``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.losses._common import check_reduction, check_specs, check_waves, reduce
from cspec.metrics.spectral import spectral_convergence
from cspec.spectral.features import compress, consistency_projection, decompress
from cspec.spectral.stft import STFTConfig, get_preset, stft

__all__ = [
    "complex_mse", "compressed_magnitude_mse", "compressed_spectral_loss", "stft_consistency",
    "ComplexMSELoss", "CompressedSpectralLoss", "MultiResolutionSTFTLoss", "ConsistencyLoss",
    "PWG_RESOLUTIONS",
]

#: (n_fft, hop, window length) of Yamamoto, Song & Kim 2020 (Parallel WaveGAN, ICASSP), Table 1, at 24 kHz
PWG_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


def _items(x: torch.Tensor) -> torch.Tensor:
    """Per-item mean over (freq, frames)."""
    return x.flatten(-2).mean(-1)


def complex_mse(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Complex MSE per item, ``mean_{k,m} |est[k, m] - ref[k, m]|^2`` (= MSE(real) + MSE(imag)).

    This is MP-SENet's complex loss ``L_Com`` (Lu et al. 2023; the official code writes it as
    ``2 * mse(stacked real/imag)``) and CMGAN's ``L_RI`` (Cao et al. 2022) when the inputs are
    the compressed spectrograms. Shape: the leading dims.
    """
    check_specs(est, ref, "complex_mse")
    d = est - ref
    return _items(d.real.square() + d.imag.square())


def compressed_magnitude_mse(est: torch.Tensor, ref: torch.Tensor, c: float = 0.3, beta: float = 1.0) -> torch.Tensor:
    """``mean (beta |est|^c - beta |ref|^c)^2`` per item: the magnitude loss of MP-SENet (Lu et al. 2023) and CMGAN (Cao et al. 2022)."""
    check_specs(est, ref, "compressed_magnitude_mse")
    return _items((compress(est, c, beta).abs() - compress(ref, c, beta).abs()).square())


def compressed_spectral_loss(
    est: torch.Tensor, ref: torch.Tensor, c: float = 0.3, beta: float = 1.0,
    weight_mag: float = 0.9, weight_ri: float = 0.1,
) -> torch.Tensor:
    """Compressed-spectrum loss ``weight_mag * L_Mag + weight_ri * L_RI`` per item (MP-SENet / CMGAN).

    Both terms are computed on the power-law compressed spectrogram ``beta |X|^c exp(j angle X)``
    (:func:`cspec.spectral.features.compress`, c = 0.3 in both papers):

        L_Mag = mean (|Y_c| - |Yhat_c|)^2,      L_RI = mean (Y_c,r - Yhat_c,r)^2 + mean (Y_c,i - Yhat_c,i)^2

    Defaults 0.9 / 0.1 are the weights of both official implementations (MP-SENet, Lu et al. 2023:
    lambda_Mag = 0.9, lambda_Com = 0.1; CMGAN, Cao et al. 2022: ``loss_weights = [0.1 RI, 0.9 magnitude, ...]``).
    Inputs are the *uncompressed* complex spectrograms.
    """
    check_specs(est, ref, "compressed_spectral_loss")
    est_c, ref_c = compress(est, c, beta), compress(ref, c, beta)
    mag = _items((est_c.abs() - ref_c.abs()).square())
    d = est_c - ref_c
    ri = _items(d.real.square() + d.imag.square())
    return weight_mag * mag + weight_ri * ri


def stft_consistency(
    est: torch.Tensor, config: STFTConfig | str = "mpsenet", length: int | None = None,
    c: float | None = None, beta: float = 1.0, relative: bool = False,
) -> torch.Tensor:
    """STFT consistency loss per item: ``mean |X - STFT(iSTFT(X))|^2`` (Wisdom et al. 2019, ICASSP,
    "Differentiable consistency constraints for improved deep speech enhancement"; Lu et al. 2023, MP-SENet's
    ``L_Con`` on the compressed spectrum, weight 0.1 in the official code, written ``2 * mse``).

    Zero exactly when ``X`` is the STFT of some signal (Griffin & Lim 1984). With ``c`` set, ``X`` is taken as the
    compressed spectrogram ``beta |S|^c e^{j angle S}``: it is decompressed before the iSTFT and the projection is
    compressed again, as MP-SENet does. ``length`` goes to the iSTFT (give the signal's length when it is not a
    multiple of the hop). ``relative=True`` divides by ``mean |X|^2`` (scale-free, ~1 for random noise).
    """
    if not torch.is_tensor(est) or not est.is_complex() or est.dim() < 2:
        raise ConfigError("stft_consistency expects a complex spectrogram (..., freq, frames)")
    cfg = get_preset(config)
    if c is None:
        proj = consistency_projection(est, cfg, length)
    else:
        proj = compress(consistency_projection(decompress(est, c, beta), cfg, length), c, beta)
    if proj.shape != est.shape:
        raise ConfigError(
            f"the projection has shape {tuple(proj.shape)} but the spectrogram {tuple(est.shape)}; "
            "pass the STFT config the spectrogram was computed with"
        )
    d = est - proj
    err = _items(d.real.square() + d.imag.square())
    if relative:
        power = _items(est.real.square() + est.imag.square())
        err = err / torch.where(power > 0, power, torch.ones_like(power))
    return err


class ComplexMSELoss(nn.Module):
    """:func:`complex_mse` reduced over the items."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return reduce(complex_mse(est, ref), self.reduction)


class CompressedSpectralLoss(nn.Module):
    """:func:`compressed_spectral_loss` (MP-SENet / CMGAN, c = 0.3, weights 0.9 magnitude / 0.1 real-imag)."""

    def __init__(self, c: float = 0.3, beta: float = 1.0, weight_mag: float = 0.9, weight_ri: float = 0.1,
                 reduction: str = "mean") -> None:
        super().__init__()
        if c <= 0 or beta <= 0:
            raise ConfigError(f"compression needs c > 0 and beta > 0, got c={c}, beta={beta}")
        self.c, self.beta, self.weight_mag, self.weight_ri = c, beta, weight_mag, weight_ri
        self.reduction = check_reduction(reduction)

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        value = compressed_spectral_loss(est, ref, self.c, self.beta, self.weight_mag, self.weight_ri)
        return reduce(value, self.reduction)


class ConsistencyLoss(nn.Module):
    """:func:`stft_consistency` as a module: ``forward(est_spec, length=None)``."""

    def __init__(self, config: STFTConfig | str = "mpsenet", c: float | None = None, beta: float = 1.0,
                 relative: bool = False, reduction: str = "mean") -> None:
        super().__init__()
        self.config, self.c, self.beta, self.relative = get_preset(config), c, beta, relative
        self.reduction = check_reduction(reduction)

    def forward(self, est: torch.Tensor, length: int | None = None) -> torch.Tensor:
        value = stft_consistency(est, self.config, length, self.c, self.beta, self.relative)
        return reduce(value, self.reduction)


class MultiResolutionSTFTLoss(nn.Module):
    """Multi-resolution STFT loss of Parallel WaveGAN (Yamamoto, Song & Kim 2020, ICASSP, Sec. 2.1).

        L_sc  = || |S| - |Shat| ||_F / || |S| ||_F                     (spectral convergence)
        L_mag = 1/N || log|S| - log|Shat| ||_1                         (log STFT magnitude)
        L_aux = 1/M sum_m ( L_sc^(m) + L_mag^(m) )                     (auxiliary loss)

    over the M resolutions of Table 1 (:data:`PWG_RESOLUTIONS`: FFT 1024/2048/512, hop 120/240/50, Hann window
    600/1200/240 at 24 kHz; scale them with the sample rate). Magnitudes are ``sqrt(max(|X|^2, eps))`` with
    ``eps = 1e-7`` as in the authors' code, which keeps ``log`` and the gradients finite. Both terms are per
    item (the Frobenius norms and the mean run over one item's frequencies and frames); ``forward(est, ref)``
    takes waveforms ``(..., samples)``. :meth:`terms` returns the two averaged terms separately.
    """

    def __init__(self, resolutions: Sequence[Sequence[int]] = PWG_RESOLUTIONS, window: str = "hann",
                 sc_weight: float = 1.0, mag_weight: float = 1.0, eps: float = 1e-7, reduction: str = "mean") -> None:
        super().__init__()
        if not resolutions:
            raise ConfigError("MultiResolutionSTFTLoss needs at least one (n_fft, hop, win_length) resolution")
        configs = []
        for res in resolutions:
            if len(res) != 3:
                raise ConfigError(f"each resolution is (n_fft, hop, win_length), got {tuple(res)}")
            n_fft, hop, win = (int(v) for v in res)
            configs.append(STFTConfig(n_fft, hop, win, window, center=True, pad_mode="reflect",
                                      source="Yamamoto et al. 2020, Parallel WaveGAN, multi-resolution STFT loss"))
        self.configs = tuple(configs)
        self.sc_weight, self.mag_weight, self.eps = sc_weight, mag_weight, eps
        self.reduction = check_reduction(reduction)

    def _mag(self, wave: torch.Tensor, cfg: STFTConfig) -> torch.Tensor:
        spec = stft(wave, cfg)
        return (spec.real.square() + spec.imag.square()).clamp_min(self.eps).sqrt()

    def terms(self, est: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L_sc, L_mag)`` per item, each averaged over the resolutions."""
        shape = check_waves(est, ref, "MultiResolutionSTFTLoss")
        est, ref = est.expand(shape), ref.expand(shape)
        sc, mag = 0.0, 0.0
        for cfg in self.configs:
            m_est, m_ref = self._mag(est, cfg), self._mag(ref, cfg)
            sc = sc + spectral_convergence(m_ref, m_est)
            mag = mag + _items((m_ref.log() - m_est.log()).abs())
        n = len(self.configs)
        return sc / n, mag / n

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        sc, mag = self.terms(est, ref)
        return reduce(self.sc_weight * sc + self.mag_weight * mag, self.reduction)
