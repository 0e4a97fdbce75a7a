"""Generated noise: power-law slopes measured with Welch's method, babble's equal talker levels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from cspec.data import DataError, babble, coloured_noise


@pytest.mark.parametrize("colour,beta", [("white", 0.0), ("pink", 1.0), ("brown", 2.0), ("blue", -1.0)])
def test_coloured_noise_slope_from_a_welch_log_log_fit(colour, beta):
    sr = 16000
    x = coloured_noise(1 << 17, colour, np.random.default_rng(3))
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0, rel=1e-9)
    f, psd = welch(x, fs=sr, nperseg=4096)
    band = (f >= 50) & (f <= 5000)
    slope = np.polyfit(np.log10(f[band]), np.log10(psd[band]), 1)[0]
    assert slope == pytest.approx(-beta, abs=0.1)
    # the same slope in dB per octave: -3 dB (pink) and -6 dB (brown) per doubling of frequency
    per_octave = 10 * slope * np.log10(2)
    assert per_octave == pytest.approx(-3.01 * beta, abs=0.35)


def test_coloured_noise_is_seeded_and_validated():
    a = coloured_noise(1000, "pink", np.random.default_rng(1))
    assert np.array_equal(a, coloured_noise(1000, 1.0, np.random.default_rng(1)))
    assert not np.array_equal(a, coloured_noise(1000, "pink", np.random.default_rng(2)))
    with pytest.raises(DataError, match="unknown noise colour"):
        coloured_noise(1000, "purple", np.random.default_rng(1))


def test_babble_gives_every_talker_the_same_level():
    n, sr = 16000, 16000
    t = np.arange(n) / sr
    talkers = [a * np.sin(2 * np.pi * f * t) for a, f in ((0.01, 300), (0.5, 700), (3.0, 1100), (0.2, 1900))]
    b = babble(talkers)
    assert np.sqrt(np.mean(b ** 2)) == pytest.approx(1.0, rel=1e-9)
    # the sines are orthogonal over whole periods: each one's share of the energy is 1/4
    shares = [np.dot(b, s / np.linalg.norm(s)) ** 2 / np.dot(b, b) for s in talkers]
    assert shares == pytest.approx([0.25] * 4, abs=1e-9)
    with pytest.raises(DataError, match="at least 2"):
        babble(talkers[:1])
