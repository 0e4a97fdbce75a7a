"""The composite measures CSIG, CBAK and COVL of Hu & Loizou (2008) and their parts, LLR and WSS.

Y. Hu and P. C. Loizou, "Evaluation of objective quality measures for speech enhancement", IEEE TASLP 16(1),
2008, eqs. (9)-(11), regressions of listener ratings (ITU-T P.835) on objective measures:

    CSIG = 3.093 - 1.029 LLR + 0.603 PESQ - 0.009 WSS
    CBAK = 1.634 + 0.478 PESQ - 0.007 WSS + 0.063 segSNR
    COVL = 1.594 + 0.805 PESQ - 0.512 LLR - 0.007 WSS

each clipped to the MOS scale [1, 5]. The parts follow Loizou's composite.m: 30 ms Hann frames every 7.5 ms
(:func:`cspec.metrics.sdr.loizou_frames`), LLR and WSS averaged over the best 95 % of frames, segSNR clamped to
[-10, 35] dB. PESQ is wide-band PESQ at 16 kHz, as in the composite script used by the VoiceBank+DEMAND
literature (SEGAN, MetricGAN, CMGAN, MP-SENet); everything is computed at 16 kHz (soxr VHQ resampling).
"""

from __future__ import annotations

import numpy as np

from cspec.metrics._common import at_rate, check_clip, pair_rows, restore
from cspec.metrics.intrusive import PESQ_MIN_SECONDS, pesq
from cspec.metrics.sdr import loizou_frames, seg_snr

__all__ = ["llr", "wss", "composite", "csig", "cbak", "covl", "COMPOSITE_RATE"]

_EPS = np.finfo(np.float64).eps
#: the rate the composite measures are computed at
COMPOSITE_RATE = 16000
_ALPHA = 0.95  # fraction of frames kept (the best ones)

# Klatt's (1982) 25 critical bands as tabulated in composite.m: centre frequency and bandwidth in Hz
_CENTRE = np.array([
    50.0, 120.0, 190.0, 260.0, 330.0, 400.0, 470.0, 540.0, 617.372, 703.378, 798.717, 904.128, 1020.38,
    1148.30, 1288.72, 1442.54, 1610.70, 1794.16, 1993.93, 2211.08, 2446.71, 2701.97, 2978.04, 3276.17, 3597.63,
])
_BANDWIDTH = np.array([
    70.0, 70.0, 70.0, 70.0, 70.0, 70.0, 70.0, 77.3724, 86.0056, 95.3398, 105.411, 116.256, 127.914, 140.423,
    153.823, 168.154, 183.457, 199.776, 217.153, 235.631, 255.255, 276.072, 298.126, 321.465, 346.136,
])


def _best_mean(frames: np.ndarray) -> float:
    kept = np.sort(frames)[: int(round(len(frames) * _ALPHA))]
    return float(np.mean(kept))


def _levinson(acorr: np.ndarray) -> np.ndarray:
    """LPC polynomials ``[1, -a_1, ..., -a_P]`` from autocorrelations ``(..., P + 1)`` (Levinson-Durbin)."""
    order = acorr.shape[-1] - 1
    a = np.zeros(acorr.shape[:-1] + (order,))
    err = acorr[..., 0].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(order):
            k = (acorr[..., i + 1] - np.sum(a[..., :i] * acorr[..., i:0:-1], -1)) / err
            prev = a[..., :i].copy()
            a[..., i] = k
            a[..., :i] = prev - k[..., None] * prev[..., ::-1]
            err = (1 - k * k) * err
    return np.concatenate([np.ones(acorr.shape[:-1] + (1,)), -a], -1)


def _llr_frames(ref: np.ndarray, est: np.ndarray, sr: int) -> np.ndarray:
    order = 10 if sr < 10000 else 16
    rf, ef = loizou_frames(ref + _EPS, sr), loizou_frames(est + _EPS, sr)
    win = rf.shape[-1]

    def autocorr(x):
        return np.stack([np.sum(x[..., : win - k] * x[..., k:], -1) for k in range(order + 1)], -1)

    r_ref, r_est = autocorr(rf), autocorr(ef)
    a_ref, a_est = _levinson(r_ref), _levinson(r_est)
    toe = r_ref[:, np.abs(np.arange(order + 1)[:, None] - np.arange(order + 1)[None, :])]
    num = np.einsum("fi,fij,fj->f", a_est, toe, a_est)
    den = np.einsum("fi,fij,fj->f", a_ref, toe, a_ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = num / den
    frac[np.isnan(frac)] = np.inf
    frac[frac <= 0] = 1000.0
    return np.log(frac)


def _wss_frames(ref: np.ndarray, est: np.ndarray, sr: int) -> np.ndarray:
    kmax, klocmax = 20.0, 1.0  # Klatt (1982), p. 1280
    rf, ef = loizou_frames(ref + _EPS, sr), loizou_frames(est + _EPS, sr)
    win = rf.shape[-1]
    n_fft = int(2 ** np.ceil(np.log2(2 * win)))
    half = n_fft // 2
    j = np.arange(half)
    f0 = np.floor(_CENTRE / (sr / 2) * half)
    bw = _BANDWIDTH / (sr / 2) * half
    crit = np.exp(-11 * ((j[None] - f0[:, None]) / bw[:, None]) ** 2 + np.log(_BANDWIDTH[0] / _BANDWIDTH)[:, None])
    crit = crit * (crit > np.exp(-30.0 / (2.0 * 2.303)))  # the -30 dB point of each filter

    def band_db(frames):
        power = np.abs(np.fft.rfft(frames, n_fft, axis=-1)[..., :half]) ** 2
        return 10 * np.log10(np.maximum(power @ crit.T, 1e-10))

    def weights(energy):
        slope = np.diff(energy, axis=-1)
        nb = slope.shape[-1]
        nxt = np.empty(slope.shape, dtype=int)  # first index >= i with slope <= 0 (nb if none)
        prv = np.empty(slope.shape, dtype=int)  # last index <= i with slope > 0 (-1 if none)
        cur = np.full(slope.shape[0], nb)
        for i in range(nb - 1, -1, -1):
            cur = np.where(slope[:, i] <= 0, i, cur)
            nxt[:, i] = cur
        cur = np.full(slope.shape[0], -1)
        for i in range(nb):
            cur = np.where(slope[:, i] > 0, i, cur)
            prv[:, i] = cur
        idx = np.where(slope > 0, nxt - 1, prv + 1)  # composite.m's local peak (its index quirk included)
        peak = np.take_along_axis(energy, idx, -1)
        w_max = kmax / (kmax + energy.max(-1, keepdims=True) - energy[:, :-1])
        w_loc = klocmax / (klocmax + peak - energy[:, :-1])
        return slope, w_max * w_loc

    slope_ref, w_ref = weights(band_db(rf))
    slope_est, w_est = weights(band_db(ef))
    w = (w_ref + w_est) / 2
    return np.sum(w * (slope_ref - slope_est) ** 2, -1) / np.sum(w, -1)


def _pair16(ref, est, sr):
    r, e, lead, is_torch = pair_rows(ref, est, sr)
    out = []
    for i in range(r.shape[0]):
        check_clip(r[i], e[i], sr)
        a, b = at_rate(r[i], sr, COMPOSITE_RATE), at_rate(e[i], sr, COMPOSITE_RATE)
        n = min(a.shape[-1], b.shape[-1])
        out.append((a[:n], b[:n]))
    return out, lead, is_torch


def llr(ref, est, sr: int):
    """Log-likelihood ratio (Quackenbush et al. 1988; Hu & Loizou 2008, eq. 2), mean of the best 95 % frames.

        d_LLR = log( a_est R_ref a_est^T / (a_ref R_ref a_ref^T) )

    with LPC vectors ``a`` of order 16 (10 below 10 kHz) and the autocorrelation matrix ``R_ref`` of the clean
    frame. Computed at 16 kHz. Lower is better; 0 for identical signals.
    """
    rows, lead, is_torch = _pair16(ref, est, sr)
    return restore([_best_mean(_llr_frames(a, b, COMPOSITE_RATE)) for a, b in rows], lead, is_torch)


def wss(ref, est, sr: int):
    """Weighted spectral slope (Klatt 1982; Hu & Loizou 2008, eq. 3), mean of the best 95 % frames.

        d_WSS = sum_j W(j) (S_ref(j) - S_est(j))^2 / sum_j W(j)

    over the slopes ``S`` of 25 critical-band log energies, with Klatt's weights (K_max = 20, K_locmax = 1).
    Computed at 16 kHz. Lower is better; 0 for identical signals.
    """
    rows, lead, is_torch = _pair16(ref, est, sr)
    return restore([_best_mean(_wss_frames(a, b, COMPOSITE_RATE)) for a, b in rows], lead, is_torch)


def _composite_row(ref: np.ndarray, est: np.ndarray, pesq_value: float | None) -> tuple[float, float, float]:
    check_clip(ref, est, COMPOSITE_RATE, min_seconds=PESQ_MIN_SECONDS)
    llr_v = _best_mean(_llr_frames(ref, est, COMPOSITE_RATE))
    wss_v = _best_mean(_wss_frames(ref, est, COMPOSITE_RATE))
    snr_v = float(seg_snr(ref, est, COMPOSITE_RATE))
    p = float(pesq(ref, est, COMPOSITE_RATE, mode="wb")) if pesq_value is None else float(pesq_value)
    sig = 3.093 - 1.029 * llr_v + 0.603 * p - 0.009 * wss_v
    bak = 1.634 + 0.478 * p - 0.007 * wss_v + 0.063 * snr_v
    ovl = 1.594 + 0.805 * p - 0.512 * llr_v - 0.007 * wss_v
    return tuple(float(np.clip(v, 1.0, 5.0)) for v in (sig, bak, ovl))


def composite(ref, est, sr: int, *, pesq_value=None) -> dict:
    """CSIG, CBAK and COVL (Hu & Loizou 2008, eqs. 9-11) as a dict of per-clip values.

    ``pesq_value`` (per clip) reuses an already computed wide-band PESQ (:func:`cspec.metrics.pesq_wb`, scored
    in segments beyond 10 s) instead of computing it again.
    """
    rows, lead, is_torch = _pair16(ref, est, sr)
    pv = np.broadcast_to(np.asarray(pesq_value, dtype=float), (len(rows),)) if pesq_value is not None else None
    vals = np.array([_composite_row(a, b, None if pv is None else pv[i]) for i, (a, b) in enumerate(rows)])
    vals = vals.reshape(len(rows), 3)
    return {k: restore(vals[:, i], lead, is_torch) for i, k in enumerate(("csig", "cbak", "covl"))}


def csig(ref, est, sr: int):
    """Predicted signal distortion rating, CSIG (Hu & Loizou 2008, eq. 9): see :func:`composite`."""
    return composite(ref, est, sr)["csig"]


def cbak(ref, est, sr: int):
    """Predicted background intrusiveness rating, CBAK (Hu & Loizou 2008, eq. 10): see :func:`composite`."""
    return composite(ref, est, sr)["cbak"]


def covl(ref, est, sr: int):
    """Predicted overall quality rating, COVL (Hu & Loizou 2008, eq. 11): see :func:`composite`."""
    return composite(ref, est, sr)["covl"]
