"""Signal-to-distortion ratios: SI-SDR, BSS-eval SDR, SNR and segmental SNR (all in dB, higher is better), and the
scale (the least-squares gain of the reference in the estimate: no unit, 1 is ideal, negative is inverted).

All are computed at the signals' own rate (no resampling; they do not depend on it, except the 30 ms frames of
the segmental SNR), in float64, batched over any leading shape. Every function is ``f(ref, est, sr, *, options)``:
the rate is needed for the length check (lengths within
:data:`~cspec.metrics._common.LENGTH_TOLERANCE_SECONDS` are cut to the shorter signal, larger differences raise
:class:`~cspec.metrics.MetricError`) and the segmental SNR's frames.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cspec.metrics._common import check_clip, check_count, check_flag, check_rate, pair_rows, restore

__all__ = ["si_sdr", "sdr", "snr", "scale", "seg_snr", "loizou_frames", "SDR_FILTER_LENGTH"]

_EPS = np.finfo(np.float64).eps
#: length of the distortion filter allowed by BSS-eval (Vincent et al. 2006; bss_eval_sources v3, mir_eval)
SDR_FILTER_LENGTH = 512


def _rows(ref, est, sr, silent_est=True):
    r, e, lead, is_torch = pair_rows(ref, est, sr)
    for i in range(r.shape[0]):
        check_clip(r[i], e[i], sr, silent_est=silent_est)
    return r, e, lead, is_torch


def si_sdr(ref, est, sr: int, *, zero_mean: bool = False):
    """Scale-invariant SDR (Le Roux, Wisdom, Erdogan & Hershey, 2019, eq. 1).

        alpha = <est, ref> / ||ref||^2,     SI-SDR = 10 log10( ||alpha ref||^2 / ||alpha ref - est||^2 )

    ``zero_mean`` removes each signal's mean first (the paper assumes zero-mean signals; the default False
    matches torchmetrics' default). ``sr`` (the rate of both) only serves the length check. A silent reference
    or estimate raises :class:`MetricError` (the ratio is 0/0).
    """
    zero_mean = check_flag("zero_mean", zero_mean)
    r, e, lead, is_torch = _rows(ref, est, sr)
    if zero_mean:
        r = r - r.mean(-1, keepdims=True)
        e = e - e.mean(-1, keepdims=True)
    alpha = ((e * r).sum(-1, keepdims=True) + _EPS) / ((r * r).sum(-1, keepdims=True) + _EPS)
    target = alpha * r
    value = 10 * np.log10(((target**2).sum(-1) + _EPS) / (((target - e) ** 2).sum(-1) + _EPS))
    return restore(value, lead, is_torch)


def _sdr_row(ref: np.ndarray, est: np.ndarray, taps: int) -> float:
    n = ref.shape[-1]
    nfft = 1 << int(np.ceil(np.log2(n + taps - 1)))
    fr, fe = np.fft.rfft(ref, nfft), np.fft.rfft(est, nfft)
    autocorr = np.fft.irfft(np.abs(fr) ** 2, nfft)[:taps]
    cross = np.fft.irfft(np.conj(fr) * fe, nfft)[:taps]  # cross[t] = sum_n ref[n - t] est[n]
    idx = np.abs(np.arange(taps)[:, None] - np.arange(taps)[None, :])
    gram = autocorr[idx]
    try:
        coef = np.linalg.solve(gram, cross)
    except np.linalg.LinAlgError:
        coef = np.linalg.lstsq(gram, cross, rcond=None)[0]
    proj = np.fft.irfft(fr * np.fft.rfft(coef, nfft), nfft)[: n + taps - 1]
    resid = -proj
    resid[:n] += est
    return float(10 * np.log10(np.sum(proj**2) / max(np.sum(resid**2), 1e-300)))


def sdr(ref, est, sr: int, *, filter_length: int = SDR_FILTER_LENGTH):
    """BSS-eval SDR of one source (Vincent, Gribonval & Fevotte, 2006, eqs. 2-5 and 12; BSS Eval v3).

    The target is the orthogonal projection of ``est`` onto the span of ``ref`` delayed by 0 ...
    ``filter_length - 1`` samples (a time-invariant FIR distortion, 512 taps as in bss_eval_sources and
    mir_eval); everything else is error:

        s_target = P_ref(est),     SDR = 10 log10( ||s_target||^2 / ||est - s_target||^2 )

    Solved as the normal equations with the Toeplitz autocorrelation matrix of ``ref``, as mir_eval does.
    The filter length is in samples, whatever ``sr`` (the rate of both signals) is.
    """
    filter_length = check_count("filter_length", filter_length)
    r, e, lead, is_torch = _rows(ref, est, sr)
    return restore([_sdr_row(r[i], e[i], filter_length) for i in range(r.shape[0])], lead, is_torch)


def snr(ref, est, sr: int):
    """Global SNR, ``10 log10( ||ref||^2 / ||ref - est||^2 )`` (no scaling, no alignment beyond length)."""
    r, e, lead, is_torch = _rows(ref, est, sr, silent_est=False)
    value = 10 * np.log10((r**2).sum(-1) / np.maximum(((r - e) ** 2).sum(-1), 1e-300))
    return restore(value, lead, is_torch)


def scale(ref, est, sr: int):
    """Least-squares gain of the reference in the estimate, ``<est, ref> / ||ref||^2`` (SI-SDR's alpha).

    Not a quality score but a sanity check that every other metric here is blind to: 1 keeps the reference's
    level, 0.5 is 6 dB too quiet, and a negative value means an inverted polarity (the estimate is speech
    times a negative gain; a mask model can converge there, see :meth:`cspec.models.gtcrn.GTCRN.negate_mask`).
    """
    r, e, lead, is_torch = _rows(ref, est, sr, silent_est=False)
    return restore((e * r).sum(-1) / (r * r).sum(-1), lead, is_torch)


def loizou_frames(x: np.ndarray, sr: int) -> np.ndarray:
    """30 ms frames every 7.5 ms with Loizou's Hann window ``0.5 (1 - cos(2 pi n / (W + 1)))``, n = 1..W.

    The framing of Hu & Loizou's composite.m: ``floor(len / skip - W / skip)`` frames, ``W = round(0.03 sr)``
    and ``skip = floor(W / 4)``. Returns ``(..., frames, W)``.
    """
    win = int(round(0.03 * sr))
    skip = win // 4
    count = int(x.shape[-1] / skip - win / skip)
    if count < 1:
        raise MetricError(f"too short: {x.shape[-1] / sr:.3f} s, need more than one 30 ms frame")
    window = 0.5 * (1 - np.cos(2 * np.pi * np.arange(1, win + 1) / (win + 1)))
    return sliding_window_view(x, win, axis=-1)[..., : count * skip : skip, :][..., :count, :] * window


def seg_snr(ref, est, sr: int, *, min_db: float = -10.0, max_db: float = 35.0):
    """Segmental SNR (Hu & Loizou, 2008, eq. 1 / composite.m; Quackenbush, Barnwell & Clements, 1988).

        segSNR = mean_m clip( 10 log10( sum_n s_m[n]^2 / (sum_n (s_m[n] - est_m[n])^2 + eps) + eps ), -10, 35 )

    over 30 ms Hann frames with 75 % overlap (:func:`loizou_frames`), the clamp at [-10, 35] dB of the paper.
    """
    sr = check_rate(sr)
    r, e, lead, is_torch = _rows(ref, est, sr, silent_est=False)
    rf, ef = loizou_frames(r + _EPS, sr), loizou_frames(e + _EPS, sr)
    signal = (rf**2).sum(-1)
    noise = ((rf - ef) ** 2).sum(-1)
    frame_snr = np.clip(10 * np.log10(signal / (noise + _EPS) + _EPS), min_db, max_db)
    return restore(frame_snr.mean(-1), lead, is_torch)
