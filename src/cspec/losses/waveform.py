"""Waveform-domain training objectives: SI-SDR, SNR, SD-SDR, the weighted SDR of DCUNet, the L1 time loss, and the
soft-thresholded SI-SDR of MixIT/FUSS that stays defined for silent references.

The functions return the ratio in dB (higher is better) per item, differentiably, for waveforms
``(..., samples)`` whose leading shapes broadcast (so ``est[:, :, None]`` against ``ref[:, None, :]`` gives a
pairwise matrix for PIT). The loss modules return the negative ratio, reduced over the items.

``eps`` guards 0/0 exactly as torchmetrics does (it is added to the numerator and the denominator of both
the projection and the ratio); ``None`` means ``torch.finfo(dtype).eps``. The evaluation versions (NumPy,
float64) are in :mod:`cspec.metrics.sdr`.
"""

from __future__ import annotations

import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.losses._common import check_reduction, check_waves, reduce

__all__ = [
    "si_sdr", "snr", "sd_sdr", "weighted_sdr", "waveform_l1", "thresholded_si_sdr", "pairwise",
    "SISDRLoss", "SNRLoss", "SDSDRLoss", "WeightedSDRLoss", "WaveformL1Loss", "ThresholdedSISDRLoss",
]


def _eps(x: torch.Tensor, eps: float | None) -> float:
    return torch.finfo(x.dtype).eps if eps is None else float(eps)


def _centre(est: torch.Tensor, ref: torch.Tensor, zero_mean: bool):
    if zero_mean:
        return est - est.mean(-1, keepdim=True), ref - ref.mean(-1, keepdim=True)
    return est, ref


def _db(num: torch.Tensor, den: torch.Tensor, eps: float) -> torch.Tensor:
    return 10.0 * torch.log10((num + eps) / (den + eps))


def _projection(est: torch.Tensor, ref: torch.Tensor, eps: float) -> torch.Tensor:
    """SI-SDR's target ``alpha ref``, ``alpha = <est, ref> / ||ref||^2`` (``eps`` in both sums, as torchmetrics)."""
    return ((est * ref).sum(-1, keepdim=True) + eps) / (ref.square().sum(-1, keepdim=True) + eps) * ref


def si_sdr(est: torch.Tensor, ref: torch.Tensor, zero_mean: bool = False, eps: float | None = None) -> torch.Tensor:
    """Scale-invariant SDR in dB (Le Roux, Wisdom, Erdogan & Hershey 2019, "SDR - half-baked or well done?").

        alpha = <est, ref> / ||ref||^2,     SI-SDR = 10 log10( ||alpha ref||^2 / ||alpha ref - est||^2 )

    The paper assumes zero-mean signals: ``zero_mean=True`` removes the means first (asteroid's default);
    the default ``False`` matches torchmetrics' ``scale_invariant_signal_distortion_ratio``.
    Returns the broadcast leading shape of ``est`` and ``ref``.
    """
    check_waves(est, ref, "si_sdr")
    e = _eps(est, eps)
    est, ref = _centre(est, ref, zero_mean)
    target = _projection(est, ref, e)
    return _db(target.square().sum(-1), (target - est).square().sum(-1), e)


def snr(est: torch.Tensor, ref: torch.Tensor, zero_mean: bool = False, eps: float | None = None) -> torch.Tensor:
    """Plain signal-to-noise ratio in dB: ``10 log10( ||ref||^2 / ||ref - est||^2 )`` (no scaling, no projection).

    The scale-dependent baseline of Le Roux et al. 2019; ``est = 0.5 * ref`` gives ``10 log10(4) = 6.02 dB``.
    """
    check_waves(est, ref, "snr")
    e = _eps(est, eps)
    est, ref = _centre(est, ref, zero_mean)
    return _db(ref.square().sum(-1), (ref - est).square().sum(-1), e)


def sd_sdr(est: torch.Tensor, ref: torch.Tensor, zero_mean: bool = False, eps: float | None = None) -> torch.Tensor:
    """Scale-dependent SDR in dB (Le Roux et al. 2019, the SD-SDR they propose next to SI-SDR).

        alpha = <est, ref> / ||ref||^2,     SD-SDR = 10 log10( ||alpha ref||^2 / ||ref - est||^2 )

    The numerator is SI-SDR's, the error is the plain difference, so a scaled copy is penalised:
    ``est = 0.5 * ref`` gives ``10 log10(0.25 / 0.25) = 0 dB`` (SI-SDR would be infinite).
    """
    check_waves(est, ref, "sd_sdr")
    e = _eps(est, eps)
    est, ref = _centre(est, ref, zero_mean)
    return _db(_projection(est, ref, e).square().sum(-1), (ref - est).square().sum(-1), e)


def _neg_cosine(a: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
    return -(a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + eps)


def weighted_sdr(est: torch.Tensor, ref: torch.Tensor, mix: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Weighted SDR loss of DCUNet (Choi, Kim, Chung, Kim, Ha & Lee 2019, ICLR, Sec. 3.3), in ``[-1, 1]``.

        loss_SDR(a, b) = -<a, b> / (||a|| ||b||)
        wSDR = alpha * loss_SDR(y, y_hat) + (1 - alpha) * loss_SDR(z, z_hat),   alpha = ||y||^2 / (||y||^2 + ||z||^2)

    with clean ``y = ref``, estimate ``y_hat = est``, noise ``z = mix - ref`` and estimated noise
    ``z_hat = mix - est``. A perfect estimate gives ``-1``. This is already a loss (lower is better).
    """
    check_waves(est, ref, "weighted_sdr")
    check_waves(mix, ref, "weighted_sdr (mixture)")
    noise, noise_hat = mix - ref, mix - est
    ry, rz = ref.square().sum(-1), noise.square().sum(-1)
    alpha = ry / (ry + rz + eps)
    return alpha * _neg_cosine(ref, est, eps) + (1 - alpha) * _neg_cosine(noise, noise_hat, eps)


def waveform_l1(est: torch.Tensor, ref: torch.Tensor, mix: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error per item, ``mean_n |est[n] - ref[n]|``: the time loss ``L_Time = E ||y - y_hat||_1`` of
    the generator objectives of MP-SENet (Lu, Ai & Ling 2023, Interspeech; kept in Lu et al. 2024) and CMGAN
    (Cao, Abdulatif & Yang 2022, Interspeech), weight 0.2 in both official training scripts.

    Both compute it on signals scaled by ``c = sqrt(samples / sum mix^2)`` of the noisy mixture (their data
    pipelines normalise the noisy input to unit RMS and the clean target by the same factor); pass ``mix`` to get
    that scaling (``c`` per item, no gradient through it), leave it ``None`` for the plain error.
    """
    shape = check_waves(est, ref, "waveform_l1")
    err = (est - ref).abs().mean(-1)
    if mix is None:
        return err
    if mix.shape[-1] != est.shape[-1] or mix.shape[:-1] != shape[:-1]:
        raise ConfigError(f"waveform_l1: the mixture {tuple(mix.shape)} must have the estimate's shape "
                          f"{tuple(shape)} (one mixture per estimate)")
    scale = mix.detach().pow(2).mean(-1).clamp_min(1e-8).rsqrt()
    return err * scale


def thresholded_si_sdr(est: torch.Tensor, ref: torch.Tensor, mix: torch.Tensor, snr_max: float = 30.0,
                       zero_mean: bool = True, silence: float = 1e-8, eps: float | None = None) -> torch.Tensor:
    """SI-SDR with a soft threshold that is defined for silent references too, in dB (higher is better).

    The soft threshold of MixIT (Wisdom, Tzinis, Erdogan, Weiss, Wilson & Hershey 2020, NeurIPS, eq. 4) and of
    the FUSS baseline (Wisdom et al. 2021, ICASSP), which trains separators on mixtures with fewer sources than
    outputs, ``tau = 10^(-snr_max / 10)``:

        active reference:   10 log10( ||alpha ref||^2 / (||alpha ref - est||^2 + tau ||alpha ref||^2) )
        silent reference:   10 log10( ||mix||^2 / (||est||^2 + tau ||mix||^2) )

    with SI-SDR's ``alpha = <est, ref> / ||ref||^2``. A reference is silent when its energy is at most ``silence``
    times the mixture's. Both reach ``snr_max`` for a perfect estimate (a silent output for a silent reference);
    an active one is SI-SDR capped softly at ``snr_max``; a silent one rewards an output below the mixture
    (0 dB when it copies the mixture). ``mix`` broadcasts against the references (one mixture per item).
    """
    check_waves(est, ref, "thresholded_si_sdr")
    e = _eps(est, eps)
    tau = 10.0 ** (-float(snr_max) / 10.0)
    est, ref = _centre(est, ref, zero_mean)
    mix = mix - mix.mean(-1, keepdim=True) if zero_mean else mix
    target = _projection(est, ref, e)
    power = target.square().sum(-1)
    active = _db(power, (target - est).square().sum(-1) + tau * power, e)
    mix_power = mix.square().sum(-1)
    silent = _db(mix_power, est.square().sum(-1) + tau * mix_power, e)
    return torch.where(ref.square().sum(-1) > silence * mix_power, active, silent)


def pairwise(fn, est: torch.Tensor, ref: torch.Tensor, **kwargs) -> torch.Tensor:
    """Pairwise matrix ``M[b, i, j] = fn(est[b, i], ref[b, j])`` for ``(batch, n_src, samples)`` inputs.

    Works for any of the ratios above (they broadcast); the PIT wrapper takes the negative of it.
    """
    if est.dim() != 3 or ref.dim() != 3 or est.shape[:2] != ref.shape[:2]:
        raise ConfigError(
            f"pairwise needs (batch, n_src, samples) tensors with the same batch and sources, got "
            f"{tuple(est.shape)} and {tuple(ref.shape)}"
        )
    return fn(est[:, :, None, :], ref[:, None, :, :], **kwargs)


class _RatioLoss(nn.Module):
    """Negative ratio in dB, reduced over the items; ``pairwise`` gives the ``(batch, n_src, n_src)`` matrix."""

    _fn = staticmethod(si_sdr)

    def __init__(self, zero_mean: bool = True, eps: float | None = None, reduction: str = "mean") -> None:
        super().__init__()
        self.zero_mean, self.eps, self.reduction = zero_mean, eps, check_reduction(reduction)

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return reduce(-type(self)._fn(est, ref, zero_mean=self.zero_mean, eps=self.eps), self.reduction)

    def pairwise(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """``L[b, i, j] = -ratio(est[b, i], ref[b, j])`` (estimate first, as asteroid's pairwise losses)."""
        return -pairwise(type(self)._fn, est, ref, zero_mean=self.zero_mean, eps=self.eps)


class SISDRLoss(_RatioLoss):
    """Negative SI-SDR (Le Roux et al. 2019); zero-mean by default, as in Conv-TasNet / asteroid training."""

    _fn = staticmethod(si_sdr)


class SNRLoss(_RatioLoss):
    """Negative SNR in dB (the scale-dependent objective of Le Roux et al. 2019)."""

    _fn = staticmethod(snr)


class SDSDRLoss(_RatioLoss):
    """Negative SD-SDR in dB (Le Roux et al. 2019)."""

    _fn = staticmethod(sd_sdr)


class ThresholdedSISDRLoss(nn.Module):
    """Negative :func:`thresholded_si_sdr`: ``forward(est, ref, mix)``; ``pairwise(est, ref, mix)`` for PIT (the
    training objective passes the mixture). For separators trained on mixtures where a talker may be silent."""

    def __init__(self, snr_max: float = 30.0, zero_mean: bool = True, silence: float = 1e-8,
                 eps: float | None = None, reduction: str = "mean") -> None:
        super().__init__()
        if not float(snr_max) > 0:
            raise ConfigError(f"thresholded_si_sdr: snr_max must be > 0 dB, got {snr_max}")
        self.snr_max, self.zero_mean, self.silence, self.eps = float(snr_max), zero_mean, float(silence), eps
        self.reduction = check_reduction(reduction)

    def _ratio(self, est, ref, mix):
        return thresholded_si_sdr(est, ref, mix, self.snr_max, self.zero_mean, self.silence, self.eps)

    def forward(self, est: torch.Tensor, ref: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        return reduce(-self._ratio(est, ref, mix), self.reduction)

    def pairwise(self, est: torch.Tensor, ref: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        """``L[b, i, j] = -ratio(est[b, i], ref[b, j], mix[b])`` for ``(batch, n_src, samples)`` and ``mix (batch, samples)``."""
        if est.dim() != 3 or mix.shape != (est.shape[0], est.shape[-1]):
            raise ConfigError(f"thresholded_si_sdr.pairwise: estimates (batch, n_src, samples) and a mixture "
                              f"(batch, samples), got {tuple(est.shape)} and {tuple(mix.shape)}")
        return -pairwise(self._ratio, est, ref, mix=mix[:, None, None, :])


class WeightedSDRLoss(nn.Module):
    """Weighted SDR of DCUNet (Choi et al. 2019): ``forward(est, ref, mix)``; see :func:`weighted_sdr`."""

    def __init__(self, eps: float = 1e-8, reduction: str = "mean") -> None:
        super().__init__()
        self.eps, self.reduction = eps, check_reduction(reduction)

    def forward(self, est: torch.Tensor, ref: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        return reduce(weighted_sdr(est, ref, mix, self.eps), self.reduction)


class WaveformL1Loss(nn.Module):
    """L1 time loss of MP-SENet and CMGAN (see :func:`waveform_l1`): ``forward(est, ref, mix=None)``.

    ``mixture_rms=True`` scales each item by ``sqrt(samples / sum mix^2)`` of its mixture, as both papers' data
    pipelines do, so that the term has the papers' weight against the others; the training objective then passes
    the mixture.
    """

    def __init__(self, mixture_rms: bool = False, reduction: str = "mean") -> None:
        super().__init__()
        self.mixture_rms, self.reduction = bool(mixture_rms), check_reduction(reduction)

    def forward(self, est: torch.Tensor, ref: torch.Tensor, mix: torch.Tensor | None = None) -> torch.Tensor:
        return reduce(waveform_l1(est, ref, mix if self.mixture_rms else None), self.reduction)
