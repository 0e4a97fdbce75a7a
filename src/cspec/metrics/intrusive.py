"""PESQ and STOI: the perceptual intrusive measures, computed by the reference packages themselves.

cspec does not reimplement these; it calls ``pesq`` (the ITU-T C code) and ``pystoi`` and fixes what makes
published numbers disagree: the resampling. Both signals are brought to the metric's own rate with soxr VHQ
(:data:`cspec.audio.RESAMPLER`) *before* the package sees them, so the package never resamples internally,
and both are cut to the shorter length.

* PESQ, ITU-T P.862 (Rix, Beerends, Hollier & Hekstra, 2001), narrow-band, mapped to MOS-LQO by P.862.1;
  wide-band by P.862.2 (2007). Both at 16 kHz (P.862 also accepts 8 kHz; 16 kHz is what speech-enhancement
  papers report as "PESQ-NB"). Range about 1.04 ... 4.64 (wide-band) / 4.55 (narrow-band).
* STOI (Taal, Hendriks, Heusdens & Jensen, 2011, eq. 5: mean over bands and frames of the correlation of
  clipped, normalised 1/3-octave envelopes over N = 30 frames of 25.6 ms at 10 kHz, beta = -15 dB, silent
  frames 40 dB below the loudest removed) and extended STOI (Jensen & Taal, 2016, eq. 8: row- and
  column-normalised envelope matrices, no clipping). Range 0 ... 1.
"""

from __future__ import annotations

import warnings

import numpy as np

from cspec.metrics._common import MetricError, at_rate, check_clip, pair_rows, restore

__all__ = ["pesq", "pesq_wb", "pesq_nb", "stoi", "estoi", "PESQ_RATE", "STOI_RATE"]

#: the rate PESQ is computed at (both modes)
PESQ_RATE = 16000
#: the rate STOI works at internally (Taal et al. 2011); cspec resamples to it with soxr, never pystoi
STOI_RATE = 10000
#: the ITU-T P.862 C code refuses less than a quarter of a second
PESQ_MIN_SECONDS = 0.25


def _pesq_row(ref: np.ndarray, est: np.ndarray, sr: int, mode: str) -> float:
    from pesq import pesq as _pesq

    check_clip(ref, est, sr, min_seconds=PESQ_MIN_SECONDS)
    r, e = at_rate(ref, sr, PESQ_RATE), at_rate(est, sr, PESQ_RATE)
    n = min(r.shape[-1], e.shape[-1])
    try:
        return float(_pesq(PESQ_RATE, r[:n], e[:n], mode))
    except Exception as exc:  # NoUtterancesError, BufferTooShortError, ValueError on degenerate input
        msg = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise MetricError(f"PESQ failed: {msg.strip() or type(exc).__name__}") from None


def pesq(ref, est, sr: int, mode: str = "wb"):
    """PESQ of ``est`` against ``ref`` (ITU-T P.862 with P.862.1 mapping for ``nb``, P.862.2 for ``wb``).

    Args:
        ref, est: waveforms ``(..., samples)``, tensors or arrays (leading shapes broadcast).
        sr: their sample rate; both are resampled to 16 kHz with soxr VHQ and cut to the shorter length.
        mode: ``"wb"`` (wide-band, P.862.2) or ``"nb"`` (narrow-band, P.862 + P.862.1).

    Returns:
        MOS-LQO per clip. Raises :class:`MetricError` naming the reason when a clip cannot be scored
        (silent, shorter than 0.25 s, no utterance detected).
    """
    if mode not in ("wb", "nb"):
        raise MetricError(f"PESQ mode must be 'wb' or 'nb', got '{mode}'")
    r, e, lead, is_torch = pair_rows(ref, est, align=True)
    return restore([_pesq_row(r[i], e[i], sr, mode) for i in range(r.shape[0])], lead, is_torch)


def pesq_wb(ref, est, sr: int):
    """Wide-band PESQ (ITU-T P.862.2, 2007) at 16 kHz: :func:`pesq` with ``mode="wb"``."""
    return pesq(ref, est, sr, "wb")


def pesq_nb(ref, est, sr: int):
    """Narrow-band PESQ (ITU-T P.862, 2001, MOS-LQO by P.862.1) at 16 kHz: :func:`pesq` with ``mode="nb"``."""
    return pesq(ref, est, sr, "nb")


def _stoi_row(ref: np.ndarray, est: np.ndarray, sr: int, extended: bool) -> float:
    from pystoi import stoi as _stoi

    check_clip(ref, est, sr, silent_est=False)
    r, e = at_rate(ref, sr, STOI_RATE), at_rate(est, sr, STOI_RATE)
    n = min(r.shape[-1], e.shape[-1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(_stoi(r[:n], e[:n], STOI_RATE, extended=extended))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise MetricError(
            "too little speech: fewer than 30 frames (0.4 s) remain after removing silent frames"
        )
    if not np.isfinite(value):
        raise MetricError("STOI is undefined for this clip (non-finite correlation)")
    return value


def stoi(ref, est, sr: int, extended: bool = False):
    """STOI (Taal et al. 2011) or, with ``extended``, ESTOI (Jensen & Taal 2016), computed by ``pystoi``.

    Both signals are resampled to 10 kHz with soxr VHQ before pystoi sees them (so pystoi's own resampler is
    never used) and cut to the shorter length. A silent estimate scores about 0; a silent reference or less
    than 30 frames of speech raises :class:`MetricError`.
    """
    r, e, lead, is_torch = pair_rows(ref, est, align=True)
    return restore([_stoi_row(r[i], e[i], sr, extended) for i in range(r.shape[0])], lead, is_torch)


def estoi(ref, est, sr: int):
    """Extended STOI (Jensen & Taal 2016, eq. 8): :func:`stoi` with ``extended=True``."""
    return stoi(ref, est, sr, extended=True)
