"""PESQ and STOI: the perceptual intrusive measures, computed by the reference packages themselves.

cspec does not reimplement these; it calls ``pesq`` (the ITU-T C code) and ``pystoi`` and fixes what makes
published numbers disagree: the resampling. Both signals are brought to the metric's own rate with soxr VHQ
(:data:`cspec.audio.RESAMPLER`) *before* the package sees them, so the package never resamples internally,
and both are cut to the shorter length (after the length check of :func:`cspec.metrics._common.pair_rows`).

* PESQ, ITU-T P.862 (Rix, Beerends, Hollier & Hekstra, 2001), narrow-band, mapped to MOS-LQO by P.862.1;
  wide-band by P.862.2 (2007). Both at 16 kHz (P.862 also accepts 8 kHz; 16 kHz is what speech-enhancement
  papers report as "PESQ-NB"). Range about 1.04 ... 4.64 (wide-band) / 4.55 (narrow-band). Signals longer than
  :data:`PESQ_MAX_SECONDS` are scored in segments (:func:`pesq_segments`).
* STOI (Taal, Hendriks, Heusdens & Jensen, 2011, eq. 5: mean over bands and frames of the correlation of
  clipped, normalised 1/3-octave envelopes over N = 30 frames of 25.6 ms at 10 kHz, beta = -15 dB, silent
  frames 40 dB below the loudest removed) and extended STOI (Jensen & Taal, 2016, eq. 8: row- and
  column-normalised envelope matrices, no clipping). Range 0 ... 1.
"""

from __future__ import annotations

import warnings

import numpy as np

from cspec.metrics._common import SILENCE, MetricError, at_rate, check_clip, check_flag, check_rate, pair_rows, restore

__all__ = [
    "pesq", "pesq_wb", "pesq_nb", "stoi", "estoi", "pesq_segments", "PESQ_RATE", "STOI_RATE", "PESQ_MAX_SECONDS",
]

#: the rate PESQ is computed at (both modes)
PESQ_RATE = 16000
#: the rate STOI works at internally (Taal et al. 2011); cspec resamples to it with soxr, never pystoi
STOI_RATE = 10000
#: the ITU-T P.862 C code refuses less than a quarter of a second
PESQ_MIN_SECONDS = 0.25
#: the longest signal given to the P.862 C code in one call; longer ones are scored in segments of 5 ... 10 s.
#: P.862.3 (2005, clause 7.1) asks for speech files of 8-12 s, and the C code keeps at most 50 utterances
#: (MAXNUTTERANCES) in fixed arrays that it fills without a bound check: a 51st speech run overwrites other
#: state (silently wrong scores) and more runs crash the process (SIGSEGV; a few minutes of speech with pauses).
#: After its VAD a run lasts >= 9 frames of 4 ms and runs are >= 47 frames apart (MINSPEECHLGTH, JOINSPEECHLGTH
#: and the edge smoothing of apply_VAD), so 51 runs need >= 11.2 s: 10 s cannot overflow.
PESQ_MAX_SECONDS = 10.0
#: the shortest segment of a long signal (segments are cut at the quietest point of [5 s, 10 s] after a start)
PESQ_MIN_SEGMENT_SECONDS = 5.0
#: STOI's dynamic range (Taal et al. 2011, sec. II): frames this far below the loudest reference frame are silence
STOI_DYN_RANGE_DB = 40.0


def _frame_power(x: np.ndarray, hop: int) -> np.ndarray:
    """Mean power of consecutive ``hop``-sample frames, computed in blocks (no full-length temporary)."""
    frames = x.shape[-1] // hop
    out = np.empty(frames)
    block = hop * 65536
    for a in range(0, frames * hop, block):
        chunk = np.asarray(x[a : min(a + block, frames * hop)], dtype=np.float64).reshape(-1, hop)
        out[a // hop : a // hop + chunk.shape[0]] = np.einsum("ij,ij->i", chunk, chunk) / hop
    return out


def pesq_segments(ref: np.ndarray, sr: int = PESQ_RATE) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` sample ranges covering ``ref``, each at most :data:`PESQ_MAX_SECONDS` long.

    A signal of at most that length is one segment. A longer one is cut, from its start on, at the quietest
    point of the reference (minimum of its power averaged over 0.3 s, in the middle of the quietest stretch, on
    a 10 ms grid) between 5 and 10 s after the segment's start, and never less than 5 s before the end, so that
    every segment lasts 5 ... 10 s and a cut falls in a pause of the speech where there is one (P.862.3, clause
    7.8: leading and trailing silence around the speech of each file).
    """
    n = ref.shape[-1]
    longest, shortest = int(PESQ_MAX_SECONDS * sr), int(PESQ_MIN_SEGMENT_SECONDS * sr)
    if n <= longest:
        return [(0, n)]
    hop = max(1, sr // 100)
    power = _frame_power(ref, hop)
    half = 15  # frames each side: a 0.3 s average
    cuts, start = [], 0
    while n - start > longest:
        lo, hi = -(-(start + shortest) // hop), min(start + longest, n - shortest) // hop
        if lo > hi:
            start += shortest
            cuts.append(start)
            continue
        a, b = max(lo - half, 0), min(hi + half + 1, len(power))
        cum = np.concatenate([[0.0], np.cumsum(power[a:b])])
        centre = np.arange(lo, hi + 1)
        left, right = np.maximum(centre - half, a) - a, np.minimum(centre + half + 1, b) - a
        smooth = (cum[right] - cum[left]) / (right - left)
        quiet = smooth <= smooth.min() * (1 + 1e-6) + 1e-30
        first = int(np.argmax(quiet))
        loud_after = np.flatnonzero(~quiet[first:])
        end = first + (int(loud_after[0]) if loud_after.size else len(quiet) - first)  # the quietest stretch
        start = (lo + (first + end - 1) // 2) * hop
        cuts.append(start)
    edges = [0, *cuts, n]
    return list(zip(edges[:-1], edges[1:]))


def _pesq_call(ref: np.ndarray, est: np.ndarray, mode: str, pause_ok: bool = False) -> float | None:
    """One call of the C code; ``None`` if ``pause_ok`` and its VAD finds no utterance in ``ref``."""
    from pesq import NoUtterancesError
    from pesq import pesq as _pesq

    try:
        return float(_pesq(PESQ_RATE, ref, est, mode))
    except Exception as exc:  # NoUtterancesError, BufferTooShortError, ValueError on degenerate input
        if pause_ok and isinstance(exc, NoUtterancesError):
            return None
        msg = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise MetricError(f"PESQ failed: {msg.strip() or type(exc).__name__}") from None


def _pesq_row(ref: np.ndarray, est: np.ndarray, sr: int, mode: str) -> float:
    check_clip(ref, est, sr, min_seconds=PESQ_MIN_SECONDS)
    r, e = at_rate(ref, sr, PESQ_RATE), at_rate(est, sr, PESQ_RATE)
    n = min(r.shape[-1], e.shape[-1])
    r, e = r[:n], e[:n]
    segments = pesq_segments(r)
    if len(segments) == 1:
        return _pesq_call(r, e, mode)
    scores, weights = [], []
    for a, b in segments:
        if max(r[a:b].max(), -r[a:b].min()) < SILENCE:
            continue  # a pause of the reference: nothing to score
        if max(e[a:b].max(), -e[a:b].min()) < SILENCE:
            raise MetricError(f"estimate is silent from {a / PESQ_RATE:.1f} s to {b / PESQ_RATE:.1f} s")
        value = _pesq_call(r[a:b], e[a:b], mode, pause_ok=True)
        if value is not None:
            scores.append(value)
            weights.append(b - a)
    if not scores:
        raise MetricError("PESQ failed: no utterances detected in any segment of the reference")
    return float(np.average(scores, weights=weights))


def pesq(ref, est, sr: int, *, mode: str = "wb"):
    """PESQ of ``est`` against ``ref`` (ITU-T P.862 with P.862.1 mapping for ``nb``, P.862.2 for ``wb``).

    Args:
        ref, est: waveforms ``(..., samples)``, tensors or arrays (leading shapes broadcast).
        sr: their sample rate; both are resampled to 16 kHz with soxr VHQ and cut to the shorter length.
        mode: ``"wb"`` (wide-band, P.862.2) or ``"nb"`` (narrow-band, P.862 + P.862.1).

    Returns:
        MOS-LQO per clip. A clip longer than :data:`PESQ_MAX_SECONDS` (10 s) is scored in consecutive segments
        of 5 ... 10 s cut in pauses (:func:`pesq_segments`), as P.862.3 (clauses 7.1 and 10.1) has long material
        scored: short files, results averaged; the score is the mean of the segments' MOS-LQO weighted by their
        duration, and segments without speech in the reference are left out. The C code then never sees more
        than 50 utterances, which crashes it (SIGSEGV) on a few minutes of speech. Clips of at most 10 s get
        exactly the ``pesq`` package's number. Raises :class:`MetricError` naming the reason when a clip cannot
        be scored (silent, shorter than 0.25 s, no utterance detected, lengths that differ).
    """
    if mode not in ("wb", "nb"):
        raise MetricError(f"PESQ mode must be 'wb' or 'nb', got {mode!r}")
    r, e, lead, is_torch = pair_rows(ref, est, sr, dtype=None)  # float32 stays float32: the C code's precision
    return restore([_pesq_row(r[i], e[i], sr, mode) for i in range(r.shape[0])], lead, is_torch)


def pesq_wb(ref, est, sr: int):
    """Wide-band PESQ (ITU-T P.862.2, 2007) at 16 kHz: :func:`pesq` with ``mode="wb"``."""
    return pesq(ref, est, sr, mode="wb")


def pesq_nb(ref, est, sr: int):
    """Narrow-band PESQ (ITU-T P.862, 2001, MOS-LQO by P.862.1) at 16 kHz: :func:`pesq` with ``mode="nb"``."""
    return pesq(ref, est, sr, mode="nb")


def _frame_db(x: np.ndarray) -> np.ndarray:
    """Energies in dB of pystoi's frames (256-point Hann, hop 128 at 10 kHz), as its silent-frame removal uses."""
    frame, hop = 256, 128
    w = np.hanning(frame + 2)[1:-1]
    starts = range(0, max(len(x) - frame, 0), hop)
    return np.array([20 * np.log10(np.linalg.norm(w * x[i : i + frame]) + 1e-300) for i in starts])


def _stoi_row(ref: np.ndarray, est: np.ndarray, sr: int, extended: bool) -> float:
    from pystoi import stoi as _stoi

    check_clip(ref, est, sr)
    r, e = at_rate(ref, sr, STOI_RATE), at_rate(est, sr, STOI_RATE)
    n = min(r.shape[-1], e.shape[-1])
    r, e = r[:n], e[:n]
    ref_db, est_db = _frame_db(r), _frame_db(e)
    if ref_db.size and est_db.max() < ref_db.max() - STOI_DYN_RANGE_DB:
        raise MetricError(
            f"estimate is silent for STOI: every frame is more than {STOI_DYN_RANGE_DB:g} dB below the "
            "reference's loudest frame"
        )
    state = np.random.get_state()  # pystoi adds 2e-16 * N(0, 1) noise when normalising (ESTOI): seed it
    np.random.seed(0)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = float(_stoi(r, e, STOI_RATE, extended=extended))
    finally:
        np.random.set_state(state)
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise MetricError(
            "too little speech: fewer than 30 frames (0.4 s) remain after removing silent frames"
        )
    if not np.isfinite(value):
        raise MetricError("STOI is undefined for this clip (non-finite correlation)")
    return value


def stoi(ref, est, sr: int, *, extended: bool = False):
    """STOI (Taal et al. 2011) or, with ``extended``, ESTOI (Jensen & Taal 2016), computed by ``pystoi``.

    Both signals are resampled to 10 kHz with soxr VHQ before pystoi sees them (so pystoi's own resampler is
    never used) and cut to the shorter length. A silent reference, less than 30 frames of speech, and an
    estimate that is silent in STOI's own sense (every frame more than 40 dB below the reference's loudest
    frame, the dynamic range below which Taal et al. 2011, sec. II, discard frames as silence) raise
    :class:`MetricError`: pystoi's value there is noise (ESTOI of a silent estimate changed on every call).
    pystoi's tiny normalisation noise is drawn from a fixed seed, so equal inputs give equal numbers.
    """
    extended = check_flag("extended", extended)
    r, e, lead, is_torch = pair_rows(ref, est, sr)
    return restore([_stoi_row(r[i], e[i], sr, extended) for i in range(r.shape[0])], lead, is_torch)


def estoi(ref, est, sr: int):
    """Extended STOI (Jensen & Taal 2016, eq. 8): :func:`stoi` with ``extended=True``."""
    return stoi(ref, est, sr, extended=True)
