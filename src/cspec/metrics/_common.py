"""Shared plumbing of the metrics: input conversion, batching and the checks that turn bad clips into reasons.

Every metric accepts PyTorch tensors or NumPy arrays of shape ``(..., samples)``. Internally it works in
NumPy float64 on rows of a ``(batch, samples)`` matrix; the result has the leading shape of the input and the
input's kind (a float64 tensor for tensor input, a NumPy array or a Python float for array input).

A clip on which a metric cannot be computed (silent, too short, NaN, no speech detected, reference and estimate
of clearly different lengths) raises :class:`MetricError` whose message is the reason;
:func:`cspec.metrics.evaluate` turns it into NaN plus that reason in its table, so a batch of files never stops on
one bad clip.

Every public metric follows one call convention: ``metric(ref, est, sr, *, options)`` -- the sample rate third
(positional or keyword), every option keyword-only. A value that cannot be meant (a rate that is not a positive
integer, a flag that is not a bool, a filter length that is not a positive integer) raises
:class:`cspec.errors.ConfigError` (a ``ValueError``) instead of being read as something else.
"""

from __future__ import annotations

import numpy as np
import torch

from cspec.errors import ConfigError, CspecError

__all__ = [
    "MetricError", "as_rows", "restore", "pair_rows", "check_clip", "at_rate", "check_rate", "check_flag",
    "check_count", "check_lengths", "LENGTH_TOLERANCE_SECONDS",
]

#: below this peak amplitude a signal counts as silent (-160 dBFS: nothing a 16/24-bit file can hold as speech)
SILENCE = 1e-8
#: reference and estimate may differ in length by this much and are then cut to the shorter one; beyond it the
#: pair gets NaN and a reason. Every legitimate cause of a difference is a constant number of samples, not a
#: fraction of the file: a resampling round trip rounds to one sample (< 0.1 ms), an STFT model pads or cuts to a
#: frame (<= 64 ms for a 1024-point frame at 16 kHz), codecs add priming and padding (MP3 <= ~50 ms at 44.1 kHz,
#: AAC 2048 samples = 46 ms, Opus pre-skip 6.5 ms + a 20 ms frame). 0.1 s covers all of them; a relative
#: tolerance would only let real mistakes through on long files (1 % of 30 minutes is 18 s).
LENGTH_TOLERANCE_SECONDS = 0.1


class MetricError(CspecError, ValueError):
    """A metric cannot be computed on this clip; the message says why (and :func:`evaluate` records it)."""


def as_rows(x, name: str = "signal", dtype=np.float64) -> tuple[np.ndarray, tuple[int, ...], bool]:
    """``x`` as a ``(batch, samples)`` NumPy matrix, its leading shape, and whether it was a tensor.

    ``dtype=None`` keeps float32 or float64 input as it is (no copy of a long file; PESQ works in float32
    anyway); anything else is converted to ``dtype``.
    """
    is_torch = isinstance(x, torch.Tensor)
    if is_torch:
        if x.is_complex():
            raise MetricError(f"{name}: expected a real waveform (..., samples), got a complex tensor")
        keep = dtype is None and x.dtype in (torch.float32, torch.float64)
        arr = x.detach().to("cpu").numpy() if keep else x.detach().to("cpu", torch.float64).numpy()
    else:
        arr = np.asarray(x)
        if not (dtype is None and arr.dtype in (np.float32, np.float64)):
            arr = arr.astype(np.float64 if dtype is None else dtype, copy=False)
    if arr.ndim == 0:
        raise MetricError(f"{name}: expected a waveform of shape (..., samples), got a scalar")
    return arr.reshape(-1, arr.shape[-1]), arr.shape[:-1], is_torch


def restore(values: np.ndarray, lead: tuple[int, ...], is_torch: bool):
    """Shape a flat vector of per-row results back to ``lead``, as a tensor, an array or a float."""
    values = np.asarray(values, dtype=np.float64).reshape(lead)
    if is_torch:
        return torch.from_numpy(values.copy())
    return float(values) if values.ndim == 0 else values


def _type(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_rate(sr) -> int:
    """``sr`` as an int; :class:`ConfigError` unless it is a positive integer (a bool or a float is refused)."""
    if isinstance(sr, (bool, np.bool_)) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ConfigError(f"sr must be the sample rate in Hz, a positive integer; got {_type(sr)}")
    return int(sr)


def check_flag(name: str, value) -> bool:
    """``value`` as a bool; :class:`ConfigError` for anything else (``zero_mean=16000`` is not a flag)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be True or False; got {_type(value)}")
    return bool(value)


def check_count(name: str, value) -> int:
    """``value`` as an int; :class:`ConfigError` unless it is a positive integer."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer; got {_type(value)}")
    return int(value)


def check_lengths(n_ref: int, n_est: int, sr: int) -> int:
    """The common length of a pair; :class:`MetricError` naming both lengths when they differ by more than
    :data:`LENGTH_TOLERANCE_SECONDS`."""
    if abs(n_ref - n_est) > LENGTH_TOLERANCE_SECONDS * sr:
        raise MetricError(
            f"reference and estimate lengths differ: {n_ref / sr:.3f} s vs {n_est / sr:.3f} s "
            f"({n_ref} vs {n_est} samples at {sr} Hz), more than the {LENGTH_TOLERANCE_SECONDS:g} s tolerance"
        )
    return min(n_ref, n_est)


def pair_rows(ref, est, sr: int, dtype=np.float64) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], bool]:
    """Convert a reference/estimate pair to matching row matrices (leading shapes must broadcast).

    Lengths within :data:`LENGTH_TOLERANCE_SECONDS` of each other are cut to the shorter one; a larger
    difference raises :class:`MetricError` (a 1-sample estimate must not be scored against its first sample).
    ``dtype`` as in :func:`as_rows`.
    """
    sr = check_rate(sr)
    r, lead_r, t_r = as_rows(ref, "reference", dtype)
    e, lead_e, t_e = as_rows(est, "estimate", dtype)
    if r.shape[-1] != e.shape[-1]:
        n = check_lengths(r.shape[-1], e.shape[-1], sr)
        r, e = r[:, :n], e[:, :n]
    try:
        lead = np.broadcast_shapes(lead_r, lead_e)
    except ValueError:
        raise MetricError(f"reference shape {lead_r} and estimate shape {lead_e} do not broadcast") from None
    n = r.shape[-1]
    r = np.broadcast_to(r.reshape(*lead_r, n), (*lead, n)).reshape(-1, n)
    e = np.broadcast_to(e.reshape(*lead_e, n), (*lead, n)).reshape(-1, n)
    return r, e, tuple(lead), t_r or t_e


def check_clip(
    ref: np.ndarray | None,
    est: np.ndarray,
    sr: int,
    min_seconds: float = 0.0,
    silent_ref: bool = True,
    silent_est: bool = True,
) -> None:
    """Raise :class:`MetricError` with a reason if one row pair is unusable for a metric."""
    for name, x, check_silence in (("reference", ref, silent_ref), ("estimate", est, silent_est)):
        if x is None:
            continue
        if x.shape[-1] == 0:
            raise MetricError(f"{name} is empty")
        if not np.isfinite(x).all():
            raise MetricError(f"{name} holds {int((~np.isfinite(x)).sum())} NaN/Inf samples")
        if check_silence and max(x.max(), -x.min()) < SILENCE:
            raise MetricError(f"{name} is silent")
    n = est.shape[-1]
    if n < min_seconds * sr:
        raise MetricError(f"too short: {n / sr:.3f} s, the metric needs at least {min_seconds:g} s")


def at_rate(x: np.ndarray, sr: int, rate: int | None) -> np.ndarray:
    """Resample one row (or rows) from ``sr`` to ``rate`` with cspec's one resampler (soxr VHQ)."""
    if rate is None or int(sr) == int(rate):
        return x
    from cspec.audio import resample

    return resample(torch.from_numpy(np.array(x, dtype=np.float64)), int(sr), int(rate)).numpy()
