"""Phase features of the complex spectrogram: wrapping, phase derivatives, group delay, IF, BPD.

Phase convention (that of :func:`cspec.spectral.stft.stft`): ``X[k, m] = sum_n x[m*hop + n] w[n] e^{-j w_k n}``
with ``w_k = 2*pi*k / n_fft``, so the raw phase is measured from the *start* of each frame. The physical
quantities below (:func:`group_delay`, :func:`instantaneous_frequency`) are given in physical units and have
the spectrogram's shape ``(..., freq, frames)``; the raw difference features (:func:`phase_time_derivative`,
:func:`phase_freq_derivative`, :func:`instantaneous_angular_frequency`, :func:`baseband_phase_difference`)
are forward differences like ``torch.diff`` and have one entry fewer along the differenced axis.

Functions that take ``signal`` accept a real waveform ``(..., samples)`` or a complex spectrogram
``(..., freq, frames)``. The ``"analytic"`` methods need the waveform (they compute extra STFTs with a
modified window); the ``"diff"`` methods work on either.
"""

from __future__ import annotations

import math

import torch

from cspec.errors import ConfigError
from cspec.spectral.stft import STFTConfig, get_preset, make_window, stft

__all__ = [
    "wrap", "anti_wrap", "phase_time_derivative", "phase_freq_derivative", "instantaneous_angular_frequency",
    "baseband_phase_difference", "group_delay", "instantaneous_frequency",
]

_TWO_PI = 2.0 * math.pi


def wrap(phase: torch.Tensor) -> torch.Tensor:
    """Wrap angles (radians) to ``(-pi, pi]``: ``pi - ((pi - x) mod 2*pi)``. Differentiable (slope 1)."""
    return math.pi - torch.remainder(math.pi - phase, _TWO_PI)


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """Anti-wrapping function ``f_AW(x) = |x - 2*pi*round(x / (2*pi))|`` (Ai & Ling 2023; Lu et al. 2023, MP-SENet).

    The distance of an angle difference to the nearest multiple of ``2*pi``: ``2*pi``-periodic and equal to
    ``|x|`` on ``(-pi, pi]``. Phase losses take its mean over instantaneous phase, group delay and IAF errors.
    """
    return torch.abs(x - _TWO_PI * torch.round(x / _TWO_PI))


def _complex(X: torch.Tensor, what: str) -> torch.Tensor:
    if not torch.is_tensor(X) or not X.is_complex():
        raise ConfigError(f"{what} expects a complex spectrogram (..., freq, frames); see cspec.spectral.stft")
    if X.dim() < 2:
        raise ConfigError(f"{what} expects a spectrogram of shape (..., freq, frames), got {tuple(X.shape)}")
    return X


def phase_time_derivative(X: torch.Tensor, wrapped: bool = True) -> torch.Tensor:
    """Phase difference between consecutive frames, ``phi[k, m+1] - phi[k, m]`` in radians per frame.

    ``wrapped=True`` maps it to ``(-pi, pi]``. Shape ``(..., freq, frames - 1)``; entry ``m`` belongs to the time
    between frames ``m`` and ``m + 1``.
    """
    d = torch.diff(torch.angle(_complex(X, "phase_time_derivative")), dim=-1)
    return wrap(d) if wrapped else d


def phase_freq_derivative(X: torch.Tensor, wrapped: bool = True) -> torch.Tensor:
    """Phase difference between neighbouring bins, ``phi[k+1, m] - phi[k, m]`` in radians per bin.

    The raw phase is referred to the frame start, so a component at the frame centre already advances by
    ``-pi`` per bin; :func:`group_delay` removes that. Shape ``(..., freq - 1, frames)``.
    """
    d = torch.diff(torch.angle(_complex(X, "phase_freq_derivative")), dim=-2)
    return wrap(d) if wrapped else d


def instantaneous_angular_frequency(X: torch.Tensor) -> torch.Tensor:
    """IAF as in MP-SENet's phase loss (Lu et al. 2023, eq. 9): the plain, unwrapped frame difference of phase.

    ``IAF[k, m] = phi[k, m+1] - phi[k, m]`` in radians per frame, shape ``(..., freq, frames - 1)``; compare two
    IAFs through :func:`anti_wrap`, which makes the missing wrap irrelevant.
    """
    return phase_time_derivative(X, wrapped=False)


def baseband_phase_difference(X: torch.Tensor, config: STFTConfig | str = "mpsenet") -> torch.Tensor:
    """Baseband phase difference (Krawczyk & Gerkmann 2014, baseband phase ``phi[k,m] - w_k * m * hop``).

        BPD[k, m] = wrap(phi[k, m+1] - phi[k, m] - 2*pi*k*hop / n_fft)

    The phase advance a sinusoid at the bin's centre frequency would make over one hop is removed, so a stationary
    sinusoid of frequency ``f`` gives the constant ``wrap(2*pi*(f - k*sr/n_fft)*hop/sr)`` in every frame.
    Radians, shape ``(..., freq, frames - 1)``.
    """
    cfg = get_preset(config)
    X = _complex(X, "baseband_phase_difference")
    _check_bins(X, cfg)
    k = torch.arange(X.shape[-2], device=X.device, dtype=X.real.dtype)
    advance = (_TWO_PI * cfg.hop_length / cfg.n_fft) * k
    return wrap(phase_time_derivative(X, wrapped=False) - advance[:, None])


# ---------------------------------------------------------------------------------------------------- helpers


def _check_bins(X: torch.Tensor, cfg: STFTConfig) -> None:
    if X.shape[-2] != cfg.n_freqs:
        raise ConfigError(f"spectrogram has {X.shape[-2]} bins but n_fft={cfg.n_fft} has {cfg.n_freqs}; pass its config")


def _spectrogram(signal: torch.Tensor, cfg: STFTConfig, what: str) -> torch.Tensor:
    if not torch.is_tensor(signal):
        raise ConfigError(f"{what} expects a torch tensor (waveform or complex spectrogram)")
    X = signal if signal.is_complex() else stft(signal, cfg)
    _check_bins(_complex(X, what), cfg)
    return X


def _waveform(signal: torch.Tensor, what: str, method: str) -> torch.Tensor:
    if not torch.is_tensor(signal) or signal.is_complex():
        raise ConfigError(
            f"{what}(method='{method}') needs the real waveform (..., samples), not a spectrogram; "
            "pass the waveform or use method='diff'"
        )
    return signal if signal.is_floating_point() else signal.float()


def _stft_with_window(wave: torch.Tensor, cfg: STFTConfig, window: torch.Tensor) -> torch.Tensor:
    """``cspec.spectral.stft`` with another analysis window of the same length (same frames, padding, phase)."""
    n = wave.shape[-1] if wave.dim() else 0
    short = (cfg.center and cfg.pad_mode == "reflect" and n <= cfg.n_fft // 2) or (not cfg.center and n < cfg.n_fft)
    if n == 0 or short:
        raise ConfigError(f"signal of shape {tuple(wave.shape)} is too short for n_fft={cfg.n_fft}; pass (..., samples)")
    lead = wave.shape[:-1]
    flat = wave.reshape(-1, wave.shape[-1])
    spec = torch.stft(
        flat, cfg.n_fft, cfg.hop_length, cfg.win, window.to(flat.device, flat.dtype),
        center=cfg.center, pad_mode=cfg.pad_mode, normalized=False, onesided=True, return_complex=True,
    )
    return spec.reshape(*lead, *spec.shape[-2:])


def _safe_ratio(num: torch.Tensor, power: torch.Tensor, eps: float) -> torch.Tensor:
    """``num / power`` where ``power`` exceeds ``eps`` times the item's peak power, else 0 (no NaN, no inf)."""
    peak = power.detach().flatten(-2).amax(-1)[..., None, None]
    ok = power > eps * peak
    return torch.where(ok, num / torch.where(ok, power, torch.ones_like(power)), torch.zeros_like(num))


def _centred_mean(d: torch.Tensor, dim: int) -> torch.Tensor:
    """Average of the backward and forward differences ``d`` (length n - 1) at n points; one-sided at the ends."""
    if d.shape[dim] == 0:
        raise ConfigError("a finite-difference feature needs at least 2 frames (or bins); use a longer signal")
    first, last = d.narrow(dim, 0, 1), d.narrow(dim, d.shape[dim] - 1, 1)
    inner = 0.5 * (d.narrow(dim, 0, d.shape[dim] - 1) + d.narrow(dim, 1, d.shape[dim] - 1))
    return torch.cat([first, inner, last], dim=dim)


# ---------------------------------------------------------------------------------------------------- physical


def group_delay(
    signal: torch.Tensor, config: STFTConfig | str = "mpsenet", method: str = "analytic", eps: float = 1e-10
) -> torch.Tensor:
    """Group delay ``tau[k, m] = -d phi / d omega`` in samples, relative to the centre of frame ``m``.

    The centre of a frame is its sample ``n_fft // 2``; with ``config.center`` (the default) that is sample
    ``m * hop`` of the input, so an impulse at input sample ``d`` has ``tau = d - m * hop`` in every bin of
    frame ``m`` that it reaches (positive: later than the frame centre). Shape ``(..., freq, frames)``.

    Methods:
        ``"analytic"`` (needs the waveform): Auger & Flandrin 1995, time reassignment, eq. for ``t_hat``:
        ``tau = Re(X_tw * conj(X)) / |X|^2`` where ``X_tw`` uses the time-weighted window ``(n - n_fft//2) w[n]``.
        Exact for an impulse, any window.
        ``"diff"`` (waveform or spectrogram): wrapped phase difference between neighbouring bins of the
        centre-referred phase, ``tau = -wrap(dphi) * n_fft / (2*pi)``, averaged over the bins on either side.
        Exact for an impulse within ``n_fft/2`` samples of the centre.

    Bins whose power is below ``eps`` times the item's peak power get 0 from ``"analytic"``; ``"diff"`` returns
    finite but meaningless values there.
    """
    cfg = get_preset(config)
    centre = cfg.n_fft // 2
    if method == "analytic":
        wave = _waveform(signal, "group_delay", method)
        w = make_window(cfg, wave.device, wave.dtype)
        n = torch.arange(cfg.win, device=wave.device, dtype=wave.dtype) + (cfg.n_fft - cfg.win) // 2 - centre
        X = _stft_with_window(wave, cfg, w)
        X_tw = _stft_with_window(wave, cfg, n * w)
        return _safe_ratio((X_tw * X.conj()).real, X.real.square() + X.imag.square(), eps)
    if method == "diff":
        X = _spectrogram(signal, cfg, "group_delay")
        d = wrap(phase_freq_derivative(X, wrapped=False) + _TWO_PI * centre / cfg.n_fft)  # centre-referred
        return _centred_mean(-d * (cfg.n_fft / _TWO_PI), dim=-2)
    raise ConfigError(f"unknown group_delay method '{method}'; choose 'analytic' or 'diff'")


def instantaneous_frequency(
    signal: torch.Tensor, config: STFTConfig | str = "mpsenet", method: str = "analytic", eps: float = 1e-10
) -> torch.Tensor:
    """Instantaneous frequency (Boashash 1992: the derivative of the phase over time) in Hz, at the frame centres.

    Shape ``(..., freq, frames)``; uses ``config.sample_rate``.

    Methods:
        ``"analytic"`` (needs the waveform, Hann window only): Auger & Flandrin 1995, frequency reassignment,
        ``IF = (w_k - Im(X_dw * conj(X)) / |X|^2) * sr / (2*pi)`` where ``X_dw`` uses the derivative of the window
        (per sample). Needs no neighbouring frame, so it holds for every bin of a component's main lobe whatever
        the hop. In discrete time it is exact at bin-centred frequencies; off-centre it errs by up to about 2e-3
        of a bin (0.01 Hz next to a 1234.567 Hz tone, 0.07 Hz two bins away, with 31.25 Hz bins), because a sum
        over samples stands in for the integral of the continuous derivation. Windows that do not go to zero
        smoothly (hamming, rect, sqrt_hann's kinks) break it: they raise ConfigError.
        ``"diff"`` (waveform or spectrogram): phase vocoder estimate,
        ``IF = k*sr/n_fft + wrap(dphi - 2*pi*k*hop/n_fft) * sr / (2*pi*hop)``, i.e. the bin frequency plus the
        :func:`baseband_phase_difference`, averaged over the hops before and after the frame (a central
        difference, so it belongs to the frame centre). Exact for a stationary sinusoid.
        Aliases when ``|f - k*sr/n_fft| > sr / (2*hop)``: with ``hop = n_fft/2`` only the bin nearest ``f`` is right.

    Bins whose power is below ``eps`` times the item's peak power get their bin frequency from ``"analytic"``.
    """
    cfg = get_preset(config)
    sr = float(cfg.sample_rate)
    if method == "analytic":
        wave = _waveform(signal, "instantaneous_frequency", method)
        if cfg.window != "hann":
            raise ConfigError(
                f"the analytic IF needs a window with a continuous derivative (hann), not '{cfg.window}'; "
                "use method='diff' or a Hann config"
            )
        i = torch.arange(cfg.win, device=wave.device, dtype=wave.dtype)
        dw = (math.pi / cfg.win) * torch.sin(_TWO_PI * i / cfg.win)  # d/dn of 0.5 - 0.5 cos(2 pi n / W)
        X = _stft_with_window(wave, cfg, make_window(cfg, wave.device, wave.dtype))
        X_dw = _stft_with_window(wave, cfg, dw)
        correction = _safe_ratio((X_dw * X.conj()).imag, X.real.square() + X.imag.square(), eps)
        omega = (_TWO_PI / cfg.n_fft) * torch.arange(X.shape[-2], device=X.device, dtype=correction.dtype)
        return (omega[:, None] - correction) * (sr / _TWO_PI)
    if method == "diff":
        X = _spectrogram(signal, cfg, "instantaneous_frequency")
        bpd = _centred_mean(baseband_phase_difference(X, cfg), dim=-1)
        k = torch.arange(X.shape[-2], device=X.device, dtype=bpd.dtype)
        return (k * (sr / cfg.n_fft))[:, None] + bpd * (sr / (_TWO_PI * cfg.hop_length))
    raise ConfigError(f"unknown instantaneous_frequency method '{method}'; choose 'analytic' or 'diff'")
