"""Phase Gradient Heuristic (Heap) Integration, PGHI: phase from STFT magnitude without iterations.

Prusa, Balazs & Sondergaard (2017), "A noniterative method for reconstruction of phase from STFT magnitude",
IEEE/ACM TASLP 25(5).  For a Gaussian window g(t) = exp(-pi t^2 / lambda) the STFT is, up to a factor, an
analytic function of x + j*lambda*omega, so the phase gradient follows from the log-magnitude s = log|S| by the
Cauchy-Riemann equations (time-invariant phase convention, x in samples, omega in cycles/sample):

    d phi / dx     = (1/lambda) * d s / d omega + 2 pi omega          (instantaneous frequency)
    d phi / d omega = -lambda * d s / dx                              (local group delay)

Discretised with hop a, FFT size M and centred differences (gamma = lambda in samples^2; the
same discrete relations as LTFAT/phaseret's ``pghi``):

    phase step per hop   = a*M/gamma * (s[k+1] - s[k-1]) / 2 + 2 pi a k / M
    phase step per bin   = -gamma/(a*M) * (s[m+1] - s[m-1]) / 2

and integrated by the trapezoidal rule along the ridges of the spectrogram: the heap integration takes the largest
not-yet-reached coefficient from a max-heap and spreads its phase to its four neighbours, always continuing
from the largest coefficient reached so far.  Coefficients below ``tol * max`` (tol = 1e-5 by default) are
left out of the integration and get a random phase.

Non-Gaussian windows use the Gaussian that fits them best: the paper's constants gamma = 0.25645 L^2 for a Hann
window of length L and 0.29794 L^2 for Hamming; other windows get a least-squares fit of
exp(-pi t^2 / gamma) to the window (the criterion of LTFAT's ``findbestgauss``, which reproduces the Hann value
to 0.1 %).  PGHI works best with redundancy M/a >= 4; at M/a = 2 it is a rough start for FGLA only.

The heap integration is sequential: it runs on the CPU one spectrogram at a time, compiled with numba where
installed (:mod:`cspec.phase._heap`; the same steps in Python with ``heapq`` otherwise, bit for bit equal); the
gradients are computed for the whole batch at once.  Transforms are :mod:`cspec.spectral.stft`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from cspec.errors import ConfigError
from cspec.phase._heap import heap_integrate
from cspec.phase.griffin_lim import check_magnitude, signal_length
from cspec.spectral.stft import STFTConfig, get_preset, istft, make_window

__all__ = ["pghi", "pghi_phase", "gaussian_gamma", "fit_gaussian_gamma", "phase_gradients"]

#: gamma / L^2 of the Gaussian closest to each window (Prusa et al. 2017)
PAPER_GAMMA = {"hann": 0.25645, "hamming": 0.29794}


def fit_gaussian_gamma(window: torch.Tensor) -> float:
    """gamma (samples^2) of the peak-normalised Gaussian exp(-pi t^2/gamma) closest in L2 to ``window``.

    The window is centred on its peak and compared on the whole line (the criterion of LTFAT ``findbestgauss``).
    """
    w = np.asarray(window, dtype=np.float64)
    n = w.size
    if n < 2 or not np.isfinite(w).all() or w.max() <= 0:
        raise ConfigError("the window must have at least 2 finite samples and a positive peak")
    w = w / w.max()
    t = np.arange(n, dtype=np.float64) - n // 2  # periodic windows peak at n // 2

    def err(c: float) -> float:
        gamma = c * n * n
        g = np.exp(-np.pi * t * t / gamma)
        # outside the window the error is the Gaussian's own energy: its integral of g^2 is sqrt(gamma / 2)
        tail = max(math.sqrt(gamma / 2.0) - float(np.sum(g * g)), 0.0)
        return float(np.sum((w - g) ** 2)) + tail

    res = minimize_scalar(err, bounds=(1e-3, 5.0), method="bounded", options={"xatol": 1e-7})
    return float(res.x) * n * n


def gaussian_gamma(cfg: STFTConfig) -> float:
    """gamma (samples^2) of the Gaussian equivalent to ``cfg``'s window (paper constant when it has one)."""
    if cfg.window in PAPER_GAMMA:
        return PAPER_GAMMA[cfg.window] * cfg.win * cfg.win
    return fit_gaussian_gamma(make_window(cfg, dtype=torch.float64).numpy())


def phase_gradients(
    magnitude: torch.Tensor, cfg: STFTConfig, gamma: float, floor_db: float = -200.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-hop (time) and per-bin (frequency) phase increments from the log-magnitude (the discrete relations above).

    Returns ``(tstep, fstep)`` of the magnitude's shape, in radians, in the time-invariant convention with the
    phase referred to the frame centre.  Log-magnitudes are floored ``floor_db`` below each item's maximum.
    """
    a, m_fft = cfg.hop_length, cfg.n_fft
    mag = magnitude.to(torch.float64)
    peak = mag.flatten(-2).amax(-1).clamp_min(1e-300)[..., None, None]
    s = torch.log(torch.maximum(mag, peak * 10 ** (floor_db / 20)).clamp_min(1e-300))
    ds_dk = torch.zeros_like(s)
    ds_dk[..., 1:-1, :] = 0.5 * (s[..., 2:, :] - s[..., :-2, :])  # 0 at DC and Nyquist: |S| is even there
    ds_dm = torch.zeros_like(s)
    if s.shape[-1] > 2:
        ds_dm[..., 1:-1] = 0.5 * (s[..., 2:] - s[..., :-2])
    if s.shape[-1] > 1:
        ds_dm[..., 0] = s[..., 1] - s[..., 0]
        ds_dm[..., -1] = s[..., -1] - s[..., -2]
    k = torch.arange(s.shape[-2], dtype=torch.float64, device=s.device)[:, None]
    tstep = (a * m_fft / gamma) * ds_dk + 2 * math.pi * a * k / m_fft
    fstep = (-gamma / (a * m_fft)) * ds_dm
    return tstep, fstep


def _heap_integrate(mag: np.ndarray, tstep: np.ndarray, fstep: np.ndarray, tol: float, rng,
                    known: np.ndarray | None = None, compiled: bool | None = None) -> np.ndarray:
    """The heap integration of Prusa et al. (2017) on one ``(freq, frames)`` spectrogram; returns the phase.

    ``known`` ``(freq, k)``: phases of the first ``k`` frames, kept as they are; the integration starts from the
    large coefficients of the last known frame, as the real-time variant starts from the previous frame
    (Prusa & Holighaus 2017, "Toward high-quality real-time signal reconstruction from STFT magnitude", IEEE
    SPL 24(6), Alg. 1), and only then opens new islands at the largest coefficients not yet reached. The steps
    run in :func:`cspec.phase._heap.heap_integrate` (compiled with numba where installed).
    """
    n_freq, n_frm = mag.shape
    phase = rng.uniform(0.0, 2 * np.pi, size=mag.shape)
    k = 0 if known is None else known.shape[1]
    if k:
        phase[:, :k] = known
    peak = float(mag.max())
    if peak <= 0:
        return phase
    flat = mag.ravel()
    large = flat > tol * peak
    done = ~large
    if k:
        done.reshape(mag.shape)[:, :k] = True
    edge = np.arange(n_freq) * n_frm + (k - 1) if k else np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(large)
    starts = starts[np.argsort(-flat[starts], kind="stable")]
    out = heap_integrate(phase.ravel(), done, -flat, tstep.ravel(), fstep.ravel(), n_frm, edge[large[edge]], starts,
                         compiled)
    return out.reshape(mag.shape)


def pghi_phase(
    magnitude: torch.Tensor,
    config: STFTConfig | str = "mpsenet",
    tol: float = 1e-5,
    gamma: float | None = None,
    seed: int = 0,
    fixed: torch.Tensor | None = None,
) -> torch.Tensor:
    """PGHI phase (radians) of ``magnitude`` ``(..., freq, frames)`` in :func:`cspec.spectral.stft.stft`'s
    convention (frames referenced to their first sample), same shape, dtype and device as the magnitude.

    ``tol``: relative threshold of the integration (default 1e-5); ``gamma``: the Gaussian's
    ``lambda`` in samples^2 (default :func:`gaussian_gamma` of the window); ``seed``: of the random phase given
    to coefficients below ``tol * max``; ``fixed``: complex frames (or phases in radians) ``(..., freq, k)``
    whose phase the first ``k`` frames keep, the integration continuing from them (block-wise reconstruction).
    """
    cfg = get_preset(config)
    mag = check_magnitude(magnitude, cfg)
    if not 0 < tol < 1:
        raise ConfigError(f"tol is a relative magnitude threshold in (0, 1) (default 1e-5), got {tol}")
    gamma = gaussian_gamma(cfg) if gamma is None else float(gamma)
    if gamma <= 0:
        raise ConfigError(f"gamma must be > 0 (0.25645 * win_length^2 for Hann), got {gamma}")
    tstep, fstep = phase_gradients(mag.detach(), cfg, gamma, floor_db=20 * math.log10(tol) - 20)
    flat_mag = mag.detach().reshape(-1, *mag.shape[-2:]).to("cpu", torch.float64).numpy()
    flat_t = tstep.reshape(flat_mag.shape).cpu().numpy()
    flat_f = fstep.reshape(flat_mag.shape).cpu().numpy()
    # centre-referenced time-invariant phase <-> torch.stft's frame-start reference: + 2 pi k c / n_fft, where
    # c is the window centre inside the frame (the window of length win is zero-padded to n_fft in the middle)
    centre = (cfg.n_fft - cfg.win) // 2 + cfg.win // 2
    k = np.arange(mag.shape[-2], dtype=np.float64)[:, None]
    known = [None] * flat_mag.shape[0]
    if fixed is not None:
        if not isinstance(fixed, torch.Tensor) or fixed.dim() < 2 or fixed.shape[:-1] != mag.shape[:-1] \
                or fixed.shape[-1] > mag.shape[-1]:
            raise ConfigError(f"fixed frames must be a tensor (..., freq, k <= frames) matching the magnitude "
                              f"{tuple(mag.shape)}, got {getattr(fixed, 'shape', type(fixed).__name__)}")
        held = (fixed.angle() if fixed.is_complex() else fixed).detach().to("cpu", torch.float64).numpy()
        known = list(held.reshape(-1, *held.shape[-2:]) - 2 * np.pi * k * centre / cfg.n_fft)
    out = np.stack([  # one generator per item: a batched call equals per-item calls
        _heap_integrate(flat_mag[b], flat_t[b], flat_f[b], tol, np.random.default_rng(seed), known[b])
        for b in range(flat_mag.shape[0])
    ])
    out = out + 2 * np.pi * k * centre / cfg.n_fft
    out = np.mod(out, 2 * np.pi)
    return torch.from_numpy(out).reshape(mag.shape).to(device=mag.device, dtype=mag.dtype)


def pghi(
    magnitude: torch.Tensor,
    config: STFTConfig | str = "mpsenet",
    length: int | None = None,
    tol: float = 1e-5,
    gamma: float | None = None,
    seed: int = 0,
    return_spec: bool = False,
):
    """Waveform ``(..., samples)`` from ``magnitude`` by PGHI (Prusa, Balazs & Sondergaard 2017).

    See :func:`pghi_phase` for the arguments; ``length`` as in :func:`cspec.phase.fast_griffin_lim`.  With
    ``return_spec`` also returns the complex spectrogram ``|S| exp(j phase)`` that was inverted.
    """
    cfg = get_preset(config)
    mag = check_magnitude(magnitude, cfg)
    n_samples = signal_length(mag.shape[-1], cfg, length)
    spec = torch.polar(mag, pghi_phase(mag, cfg, tol, gamma, seed))
    wave = istft(spec, cfg, n_samples)
    return (wave, spec) if return_spec else wave
