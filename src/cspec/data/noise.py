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
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cspec.errors import DataError

__all__ = ["COLOURS", "coloured_noise", "babble", "unit_rms"]

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
