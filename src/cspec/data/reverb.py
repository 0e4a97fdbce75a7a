"""Simulated reverberation: shoebox rooms and their impulse responses with pyroomacoustics.

The image-source method of Allen & Berkley (1979), "Image method for efficiently simulating small-room
acoustics", JASA 65(4), as implemented by pyroomacoustics (Scheibler, Bezzam & Dokmanic, 2018, ICASSP).
A room's wall absorption and the image order are derived from a sampled RT60 with Sabine's formula
(``pyroomacoustics.inverse_sabine``).

The training target under reverberation is either the dry source (``"dry"``), or the direct path plus the
early reflections (``"early"``): the RIR cut 50 ms after the direct-path arrival, as in the DNS Challenge
(Reddy et al., 2021, "ICASSP 2021 Deep Noise Suppression Challenge") and in most dereverberation work
(e.g. Zhao, Wang & Wang, 2020, "Monaural speech dereverberation using temporal convolutional networks with
self attention", IEEE TASLP 28). All outputs are aligned with the dry signal: the propagation delay of the
direct path is removed, so the three signals can be compared sample by sample.

Note: shoebox ISM rooms with uniform absorption decay somewhat slower than Sabine predicts in flat rooms;
with the full image order the RT60 measured on the RIR (T30) is typically 0.85 .. 1.45 times the requested
one. Capping the order at 30 (the default of :class:`cspec.data.simulate.SimConfig`) is 10-30 times faster
and gives 0.85 .. 1.4 times; lower caps cut the tail (order 12: 0.45 .. 1.0 times).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from cspec.errors import DataError

__all__ = ["Room", "sample_room", "room_rirs", "reverberate", "direct_delay"]


def _pra():
    """pyroomacoustics, an optional dependency (the ``data`` extra)."""
    try:
        import pyroomacoustics
    except ImportError:
        raise DataError("reverberation needs pyroomacoustics: pip install 'cspec[data]' "
                        "(or set p_reverb=0)") from None
    return pyroomacoustics


@dataclass(frozen=True)
class Room:
    """A shoebox room: dimensions (m), target RT60 (s), source positions and one microphone position."""

    dims: tuple[float, float, float]
    rt60: float
    sources: tuple[tuple[float, float, float], ...]
    mic: tuple[float, float, float]


def sample_room(rng: np.random.Generator, n_sources: int = 1, rt60: tuple[float, float] = (0.2, 0.8),
                dims_low: tuple[float, float, float] = (3.0, 3.0, 2.5),
                dims_high: tuple[float, float, float] = (10.0, 8.0, 4.0),
                margin: float = 0.5, min_distance: float = 0.5) -> Room:
    """Draw a room: dimensions uniform in ``[dims_low, dims_high]``, RT60 uniform in ``rt60``, sources and
    microphone uniform inside the room at least ``margin`` from each wall and ``min_distance`` apart.

    A draw whose RT60 is too short for its size (Sabine would need an absorption above 1) is redrawn.
    """
    lo, hi = np.asarray(dims_low, float), np.asarray(dims_high, float)
    if lo.shape != (3,) or hi.shape != (3,) or np.any(lo > hi) or np.any(lo <= 2 * margin):
        raise DataError(f"room dimensions: need 3 values with {2 * margin} < low <= high, got {lo} .. {hi}")
    if not 0 < rt60[0] <= rt60[1]:
        raise DataError(f"rt60 range must satisfy 0 < low <= high (seconds), got {rt60}")
    pra = _pra()
    for _ in range(100):
        dims = rng.uniform(lo, hi)
        t60 = float(rng.uniform(*rt60))
        try:
            pra.inverse_sabine(t60, dims)
        except ValueError:
            continue
        pts = []
        for _ in range(1000):
            p = rng.uniform(margin, dims - margin)
            if all(np.linalg.norm(p - q) >= min_distance for q in pts):
                pts.append(p)
                if len(pts) == n_sources + 1:
                    break
        if len(pts) == n_sources + 1:
            t = lambda v: tuple(float(c) for c in v)  # noqa: E731
            return Room(t(dims), t60, tuple(t(p) for p in pts[:-1]), t(pts[-1]))
    raise DataError(f"cannot draw a room with RT60 in {rt60} s within {lo} .. {hi} m; "
                    "allow longer RT60s or smaller rooms")


def direct_delay(room: Room, source: int, sr: int) -> float:
    """Arrival of the direct path in the RIR of ``source`` (samples, fractional), including pyroomacoustics'
    fractional-delay filter offset."""
    pra = _pra()
    dist = float(np.linalg.norm(np.subtract(room.sources[source], room.mic)))
    return dist / pra.constants.get("c") * sr + pra.constants.get("frac_delay_length") // 2


def room_rirs(room: Room, sr: int, max_order: int | None = None) -> list[np.ndarray]:
    """Impulse response from each source to the microphone (float64), by the image-source method.

    ``max_order`` caps the image order that Sabine's formula asks for (a cap shortens the tail and the
    computation; ``None`` keeps pyroomacoustics' order).
    """
    pra = _pra()
    absorption, order = pra.inverse_sabine(room.rt60, room.dims)
    if max_order is not None:
        order = min(order, int(max_order))
    sim = pra.ShoeBox(list(room.dims), fs=sr, materials=pra.Material(absorption), max_order=order)
    for s in room.sources:
        sim.add_source(list(s))
    sim.add_microphone(list(room.mic))
    sim.compute_rir()
    return [np.asarray(sim.rir[0][i], dtype=np.float64) for i in range(len(room.sources))]


def reverberate(x: np.ndarray, rir: np.ndarray, delay: float, sr: int, target: str = "early",
                early_ms: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """``(reverberant, target)`` of the dry signal ``x``, both of ``len(x)`` samples and aligned with ``x``.

    ``delay`` is the direct-path arrival (:func:`direct_delay`). ``target`` is ``"early"`` (the RIR up to
    ``early_ms`` after the direct path) or ``"dry"`` (``x`` scaled by the direct-path gain, so that its level
    relative to the reverberant signal is that of the direct sound).
    """
    if target not in ("early", "dry"):
        raise DataError(f"unknown reverberation target '{target}'; use 'early' or 'dry'")
    pra = _pra()
    n, d = len(x), int(np.floor(delay))
    wet = fftconvolve(x, rir)[d:d + n]
    if target == "early":
        cut = min(len(rir), int(np.ceil(delay + early_ms * 1e-3 * sr)))
        tgt = fftconvolve(x, rir[:cut])[d:d + n]
    else:
        dist = (delay - pra.constants.get("frac_delay_length") // 2) * pra.constants.get("c") / sr
        tgt = x / max(dist, 1e-3)  # the direct path's gain in pyroomacoustics' RIRs: 1/r (energy 1/r**2)
    return _fit(wet, n), _fit(tgt, n)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    return y if len(y) == n else np.pad(y, (0, n - len(y)))
