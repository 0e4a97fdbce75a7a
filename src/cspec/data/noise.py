"""Generated noise: coloured (power-law) noise by spectral shaping, and babble from several talkers.

Coloured noise: a power spectral density ``S(f) ~ 1 / f**beta`` with ``beta`` 0 (white), 1 (pink, -3 dB per
octave), 2 (brown/red, -6 dB per octave), -1 (blue), -2 (violet). It is made by shaping the spectrum of white
Gaussian noise: the real FFT of ``n`` Gaussian samples is multiplied by ``f**(-beta/2)`` and transformed back,
the frequency-domain construction of Timmer & Koenig (1995), "On generating power law noise", Astron.
Astrophys. 300, 707-710 (their method draws the amplitude as Gaussian real and imaginary parts of each bin,
which is what the FFT of white Gaussian noise gives). The DC bin is set to zero.

Babble: the sum of several talkers at equal level, the model of babble studied by Krishnamurthy & Hansen
(2009), "Babble noise: modeling, analysis, and applications", IEEE TASLP 17(7): with few talkers single words
stay intelligible, with many the babble approaches stationary speech-shaped noise. The simulation draws
3 to 6 talkers by default.

Shaped noise (:func:`shaped_noise`): white Gaussian noise given a random smooth spectral envelope (gains in dB
drawn at log-spaced frequencies and interpolated on a log-frequency axis, as Timmer & Koenig shape a power
law) and a random slow amplitude modulation, so that a small pool of recorded noise is widened by stationary
and fluctuating noises of every colour.

Random equalisation (:func:`random_eq`), the augmentation of Valin (2018), "A hybrid DSP/deep learning
approach to real-time full-band speech enhancement" (RNNoise), Sec. 4: speech and noise are filtered
independently by ``H(z) = (1 + r1 z^-1 + r2 z^-2) / (1 + r3 z^-1 + r4 z^-2)`` with every ``r_i`` uniform in
``[-3/8, 3/8]``, so that the model does not learn one microphone's or one room's frequency response. With
``|r_i| <= 3/8`` both poles lie inside the unit circle (``|z| <= 0.83``), so the filter is always stable.

Tonal noise (:func:`tonal_noise`): stationary or slowly drifting tones and harmonic complexes (hum, whine,
fans, engines, alarms) over a shaped noise floor, the narrow-band noises that recorded pools of a few minutes
miss and that the DNS Challenge test sets contain.

Speed change (:func:`change_speed`): the signal played ``factor`` times faster, so that every frequency is
multiplied by ``factor`` and the duration divided by it, by resampling (soxr) without changing the rate, the
speed perturbation of Ko et al. (2015), "Audio augmentation for speech recognition", applied here to noise:
a small pool of recorded noise is shifted up and down the spectrum.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import soxr
from scipy.signal import lfilter

from cspec.errors import DataError

__all__ = ["COLOURS", "coloured_noise", "babble", "unit_rms", "shaped_noise", "random_eq", "change_speed",
           "tonal_noise"]

#: Spectral exponents ``beta`` of the named colours (PSD ~ 1/f**beta).
COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0, "red": 2.0, "blue": -1.0, "violet": -2.0}


def unit_rms(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """``x`` scaled to a root-mean-square of 1 (all-zero input raises :class:`DataError`)."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    if rms < eps:
        raise DataError("cannot normalise a silent signal (RMS 0); check that the audio is not all zeros")
    return x / rms


def coloured_noise(n: int, colour: str | float, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples (float64, RMS 1) of noise with PSD ~ ``1/f**beta``; ``colour`` a name of :data:`COLOURS`
    or the exponent ``beta`` itself. The slope does not depend on the sample rate."""
    if isinstance(colour, str):
        if colour not in COLOURS:
            raise DataError(f"unknown noise colour '{colour}'; use one of {', '.join(COLOURS)} or a number")
        beta = COLOURS[colour]
    else:
        beta = float(colour)
    if n < 2:
        raise DataError(f"coloured noise needs at least 2 samples, got {n}")
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    spec *= f ** (-beta / 2.0)
    spec[0] = 0.0
    return unit_rms(np.fft.irfft(spec, n))


def babble(talkers: Sequence[np.ndarray]) -> np.ndarray:
    """Sum of the talkers' signals, each at RMS 1 (equal level), then scaled to RMS 1.

    All signals must have the same length (cut or loop them to the length wanted before).
    """
    if len(talkers) < 2:
        raise DataError(f"babble needs at least 2 talkers, got {len(talkers)}")
    if len({len(t) for t in talkers}) != 1:
        raise DataError("babble: the talkers' signals must have the same length")
    return unit_rms(np.sum([unit_rms(np.asarray(t, np.float64)) for t in talkers], axis=0))


def shaped_noise(n: int, rng: np.random.Generator, sr: int = 16000, n_bands: int = 8,
                 gain_db: float = 15.0, max_depth: float = 0.9) -> np.ndarray:
    """``n`` samples (float64, RMS 1) of Gaussian noise with a random spectral envelope and a random slow
    amplitude modulation.

    The envelope: ``n_bands`` gains uniform in ``[-gain_db, gain_db]`` dB at log-spaced frequencies from
    50 Hz to ``sr / 2``, plus a power-law tilt ``beta`` uniform in ``[-1, 2]``, interpolated linearly over
    ``log f``. The modulation: ``1 + d * m(t)`` with ``m`` a random walk of gains at 2 .. 16 Hz, linearly
    interpolated and scaled to ``[-1, 1]``, and ``d`` uniform in ``[0, max_depth]``.
    """
    if n < 2:
        raise DataError(f"shaped noise needs at least 2 samples, got {n}")
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    f[0] = f[1] if f.size > 1 else 1.0
    knots = np.geomspace(50.0, sr / 2, n_bands)
    gains = rng.uniform(-gain_db, gain_db, n_bands)
    beta = rng.uniform(-1.0, 2.0)
    env_db = np.interp(np.log(f), np.log(knots), gains) - 10.0 * beta * np.log10(f / 1000.0)
    spec *= 10.0 ** (env_db / 20.0)
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    walk = _slow_walk(n, rng, sr, rng.uniform(2.0, 16.0))
    return unit_rms(x * (1.0 + rng.uniform(0.0, max_depth) * walk))


def random_eq(x: np.ndarray, rng: np.random.Generator, r: float = 0.375) -> np.ndarray:
    """``x`` through Valin's random second-order filter (coefficients uniform in ``[-r, r]``, ``r <= 3/8``
    keeps it stable)."""
    if not 0.0 <= r <= 0.375:
        raise DataError(f"random_eq: r must lie in [0, 0.375] (stability), got {r}")
    r1, r2, r3, r4 = rng.uniform(-r, r, 4)
    return lfilter([1.0, r1, r2], [1.0, r3, r4], np.asarray(x, dtype=np.float64))


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """``x`` played ``factor`` times faster: ``round(len(x) / factor)`` samples, every frequency times ``factor``
    (soxr resampling of the samples as if their rate were ``factor`` times the output rate)."""
    if not 0.1 <= factor <= 10.0:
        raise DataError(f"change_speed: factor must lie in [0.1, 10], got {factor}")
    x = np.asarray(x, dtype=np.float64)
    if factor == 1.0:
        return x.copy()
    n_out = max(1, int(round(len(x) / factor)))
    y = soxr.resample(x, 1000.0 * factor, 1000.0, quality="HQ")
    return y[:n_out] if len(y) >= n_out else np.pad(y, (0, n_out - len(y)))


def _slow_walk(n: int, rng: np.random.Generator, sr: int, rate: float) -> np.ndarray:
    """A random walk with ``rate`` knots per second, linearly interpolated to ``n`` samples, scaled to [-1, 1]."""
    n_knots = max(2, int(np.ceil(n / sr * rate)) + 1)
    walk = np.cumsum(rng.standard_normal(n_knots))
    span = np.ptp(walk)
    walk = (2.0 * (walk - walk.min()) / span - 1.0) if span > 0 else np.zeros(n_knots)
    return np.interp(np.linspace(0, n_knots - 1, n), np.arange(n_knots), walk)


def _events(n: int, rng: np.random.Generator, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Gate (0 .. 1) and log-frequency sweep of bursts of 30 .. 300 ms every 0.05 .. 1 s (at least 10 ms
    apart), each sweeping by up to an octave over its length, with 5 ms raised-cosine edges."""
    length = int(rng.uniform(0.03, 0.3) * sr)
    period = max(length + int(0.01 * sr), int(rng.uniform(0.05, 1.0) * sr))
    sweep = rng.uniform(-1.0, 1.0) * np.log(2.0)
    edge = max(1, min(int(0.005 * sr), length // 2))
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(edge) / edge)
    burst = np.ones(length)
    burst[:edge], burst[length - edge:] = ramp, ramp[::-1]
    gate, glide = np.zeros(n), np.zeros(n)
    start = int(rng.integers(0, period))
    while start < n:
        stop = min(n, start + length)
        gate[start:stop] = burst[: stop - start]
        glide[start:stop] = sweep * np.arange(stop - start) / length
        start += period + int(rng.integers(-period // 10, period // 10 + 1))
    return gate, glide


def tonal_noise(n: int, rng: np.random.Generator, sr: int = 16000, max_tones: int = 4,
                floor_db: tuple[float, float] = (-30.0, 0.0)) -> np.ndarray:
    """``n`` samples (float64, RMS 1) of 1 .. ``max_tones`` tones over a noise floor.

    Each tone has a fundamental log-uniform in 50 .. 4000 Hz and is a pure tone or (half of the time) a
    harmonic complex of 2 .. 12 partials falling by 0 .. 12 dB per partial (partials above ``sr / 2`` are left
    out); its frequency drifts by up to 5 % along a slow random walk and glides by up to +-30 % over the
    segment; its level is uniform in -10 .. 0 dB. Half of the tones are events rather than steady: bursts of
    30 .. 300 ms repeated every 0.05 .. 1 s (beeps, rings, bird chirps), each sweeping by up to an octave up or
    down over its length, with 5 ms raised-cosine edges. The floor is :func:`shaped_noise` at ``floor_db``
    relative to the tones.
    """
    if n < 2 or max_tones < 1:
        raise DataError(f"tonal noise needs n >= 2 samples and max_tones >= 1, got {n}, {max_tones}")
    t = np.arange(n) / sr
    tones = np.zeros(n)
    for _ in range(int(rng.integers(1, max_tones + 1))):
        f0 = float(np.exp(rng.uniform(np.log(50.0), np.log(4000.0))))
        drift = rng.uniform(0.0, 0.05) * _slow_walk(n, rng, sr, rng.uniform(0.5, 4.0))
        glide = rng.uniform(-0.3, 0.3) * t / max(t[-1], 1.0 / sr)
        gate = None
        if rng.random() < 0.5:  # events: repeated short sweeps
            gate, glide = _events(n, rng, sr)
        freq = f0 * np.exp(drift + glide)
        phase = 2.0 * np.pi * np.cumsum(freq) / sr
        partials = 1 if rng.random() < 0.5 else int(rng.integers(2, 13))
        fall = rng.uniform(0.0, 12.0)
        tone = np.zeros(n)
        for h in range(1, partials + 1):
            if h * freq.max() >= sr / 2:
                break
            tone += 10.0 ** (-fall * (h - 1) / 20.0) * np.sin(h * phase + rng.uniform(0.0, 2.0 * np.pi))
        if gate is not None:
            tone = tone * gate
        if np.any(tone):
            tones += 10.0 ** (rng.uniform(-10.0, 0.0) / 20.0) * unit_rms(tone)
    if not np.any(tones):  # every partial of every tone above Nyquist (a very low sr)
        tones = np.sin(2.0 * np.pi * min(100.0, sr / 4) * t)
    floor = shaped_noise(n, rng, sr) * 10.0 ** (rng.uniform(*floor_db) / 20.0)
    return unit_rms(unit_rms(tones) + floor)
