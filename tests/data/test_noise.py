"""Generated noise: power-law slopes measured with Welch's method, babble's equal talker levels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from cspec.data import DataError, babble, change_speed, coloured_noise, tonal_noise


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


def test_random_eq_response_at_dc_and_nyquist_is_the_hand_worked_biquad():
    # H(z) = (1 + r1 z^-1 + r2 z^-2) / (1 + r3 z^-1 + r4 z^-2): at z = 1 (DC) the gain is
    # (1 + r1 + r2) / (1 + r3 + r4), at z = -1 (Nyquist) (1 - r1 + r2) / (1 - r3 + r4).
    from cspec.data import random_eq
    rng = np.random.default_rng(11)
    r1, r2, r3, r4 = np.random.default_rng(5).uniform(-0.375, 0.375, 4)
    x = rng.standard_normal(1 << 18)
    y = random_eq(x, np.random.default_rng(5))
    f, pxx = welch(x, nperseg=1024)
    _, pyy = welch(y, nperseg=1024)
    ratio = pyy / pxx
    dc = ((1 + r1 + r2) / (1 + r3 + r4)) ** 2
    nyq = ((1 - r1 + r2) / (1 - r3 + r4)) ** 2
    assert np.mean(ratio[1:4]) == pytest.approx(dc, rel=0.05)
    assert np.mean(ratio[-4:-1]) == pytest.approx(nyq, rel=0.05)
    with pytest.raises(DataError, match="stability"):
        random_eq(x, rng, r=0.5)


def test_random_eq_is_stable_at_the_corners_of_its_range():
    from scipy.signal import tf2zpk
    for r3 in (-0.375, 0.375):
        for r4 in (-0.375, 0.375):
            _, poles, _ = tf2zpk([1, 0, 0], [1, r3, r4])
            assert np.max(np.abs(poles)) < 0.84


def test_shaped_noise_is_unit_rms_seeded_and_varied():
    from cspec.data import shaped_noise
    a = shaped_noise(32000, np.random.default_rng(1))
    assert np.sqrt(np.mean(a ** 2)) == pytest.approx(1.0, rel=1e-9)
    assert np.array_equal(a, shaped_noise(32000, np.random.default_rng(1)))
    # different draws have different spectral envelopes: the low/high band power ratio varies by > 10 dB
    tilts = []
    for s in range(8):
        f, p = welch(shaped_noise(32000, np.random.default_rng(s)), fs=16000, nperseg=512)
        tilts.append(10 * np.log10(p[(f > 100) & (f < 500)].mean() / p[(f > 3000) & (f < 7000)].mean()))
    assert np.ptp(tilts) > 10
    with pytest.raises(DataError):
        shaped_noise(1, np.random.default_rng(0))


def test_shaped_noise_is_amplitude_modulated():
    from cspec.data import shaped_noise
    # with full modulation depth the short-time RMS fluctuates; with depth 0 it is flat (stationary)
    def frame_rms_spread(x):
        fr = x[: len(x) // 800 * 800].reshape(-1, 800)
        return np.std(np.sqrt(np.mean(fr ** 2, axis=1)))
    flat = shaped_noise(64000, np.random.default_rng(2), max_depth=0.0)
    spreads = [frame_rms_spread(shaped_noise(64000, np.random.default_rng(s), max_depth=0.9)) for s in range(6)]
    assert frame_rms_spread(flat) < 0.15 < max(spreads)


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.5, 2.0])
def test_change_speed_moves_a_tone_and_shortens_by_the_factor(factor):
    sr, n = 16000, 16000
    x = np.sin(2 * np.pi * 1000.0 * np.arange(n) / sr)
    y = change_speed(x, factor)
    assert len(y) == round(n / factor)
    f, p = welch(y[200:-200], sr, nperseg=4096)
    assert f[np.argmax(p)] == pytest.approx(1000.0 * factor, abs=sr / 4096)
    # the tone keeps its amplitude (RMS 1/sqrt(2)) away from the resampler's edges
    assert np.sqrt(np.mean(y[200:-200] ** 2)) == pytest.approx(np.sqrt(0.5), rel=0.01)


def test_change_speed_identity_and_range():
    x = np.random.default_rng(0).standard_normal(100)
    y = change_speed(x, 1.0)
    assert np.array_equal(x, y) and y is not x
    with pytest.raises(DataError, match="factor"):
        change_speed(x, 0.0)


def test_tonal_noise_is_unit_rms_seeded_and_tonal():
    for seed in range(6):
        x = tonal_noise(32000, np.random.default_rng(seed))
        assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0, rel=1e-9)
        assert np.array_equal(x, tonal_noise(32000, np.random.default_rng(seed)))
        f, p = welch(x, 16000, nperseg=2048)
        assert 10 * np.log10(p.max() / np.median(p)) > 12.0  # lines above the floor
        assert 40.0 <= f[np.argmax(p)] <= 8000.0
    # without the floor: steady tones never stop, events (bursts of 30 .. 300 ms) leave silent 10 ms frames
    silent = []
    for seed in range(12):
        x = tonal_noise(32000, np.random.default_rng(seed), max_tones=1, floor_db=(-200.0, -199.0))
        frames = np.sqrt(np.mean(x.reshape(-1, 160) ** 2, axis=1))
        silent.append(np.mean(frames < 1e-6))
    assert min(silent) == 0.0 and max(silent) > 0.3
    with pytest.raises(DataError, match="tonal"):
        tonal_noise(1, np.random.default_rng(0))
