"""PGHI: window constants, the phase-gradient relations worked by hand, quality on synthetic and real signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cspec.errors import ConfigError
from cspec.metrics.spectral import spectral_convergence_db
from cspec.phase import fast_griffin_lim, pghi, pghi_phase
from cspec.phase.pghi import fit_gaussian_gamma, gaussian_gamma, phase_gradients
from cspec.spectral.stft import STFTConfig, make_window, stft

CFG = STFTConfig(512, 128, window="hann")


@pytest.mark.parametrize("window, paper", [("hann", 0.25645), ("hamming", 0.29794)])
def test_least_squares_gaussian_fit_reproduces_paper_constants(window, paper):
    cfg = STFTConfig(1024, 256, window=window)
    fitted = fit_gaussian_gamma(make_window(cfg, dtype=torch.float64).numpy()) / 1024**2
    assert fitted == pytest.approx(paper, rel=2e-3)  # Prusa et al. 2017
    assert gaussian_gamma(cfg) == pytest.approx(paper * 1024**2)  # the paper's constant is used as is
    assert gaussian_gamma(STFTConfig(512, 128, 400, "hann")) == pytest.approx(0.25645 * 400**2)


def test_phase_gradients_match_gaussian_relations_by_hand():
    """An impulse at t0 seen through a Gaussian window: |S(m, k)| = exp(-pi (t0 - m a)^2 / gamma) for all k.

    Its time-invariant STFT phase, referred to the frame centre, is -2 pi k (t0 - m a) / M, so the phase
    step per bin is -2 pi (t0 - m a) / M; a sinusoid's bin-centred peak advances 2 pi k0 a / M per hop.
    """
    a, m_fft, gamma = 128, 512, 0.25645 * 512**2
    cfg = STFTConfig(m_fft, a)
    frames, t0 = 12, 700.0
    m = torch.arange(frames, dtype=torch.float64)
    mag = torch.exp(-math.pi * (t0 - m * a) ** 2 / gamma).expand(cfg.n_freqs, frames)
    tstep, fstep = phase_gradients(mag, cfg, gamma, floor_db=-400.0)  # the last frame is 203 dB down
    expected = -2 * math.pi * (t0 - m * a) / m_fft
    torch.testing.assert_close(fstep[:, 1:-1], expected[1:-1].expand(cfg.n_freqs, frames - 2))
    k = torch.arange(cfg.n_freqs, dtype=torch.float64)
    torch.testing.assert_close(tstep, (2 * math.pi * a * k / m_fft)[:, None].expand(-1, frames))
    # a Gaussian ridge along frequency, centred on bin k0: the instantaneous frequency of the peak bin is k0
    k0 = 40
    ridge = torch.exp(-math.pi * gamma * ((k - k0) / m_fft) ** 2)[:, None].expand(-1, frames)
    tstep, _ = phase_gradients(ridge, cfg, gamma, floor_db=-3000.0)
    # the time relation on the exact log-magnitude: a M / gamma * d s/dk = -2 pi a (k - k0) / M, so every bin follows k0
    near = slice(k0 - 19, k0 + 20)  # their neighbours 20 bins away are 2800 dB down, above the -3000 dB floor
    expected = torch.full((39, frames), 2 * math.pi * a * k0 / m_fft, dtype=torch.float64)
    torch.testing.assert_close(tstep[near], expected)


def _sc(sig: torch.Tensor, cfg: STFTConfig = CFG, **kw) -> tuple[float, torch.Tensor]:
    mag = stft(sig, cfg).abs()
    out = pghi(mag, cfg, sig.shape[-1], **kw)
    return spectral_convergence_db(mag, out, cfg).item(), mag


def test_pghi_on_chirp_and_sinusoid():
    n = torch.arange(32000, dtype=torch.float64)
    chirp = (0.5 * torch.sin(2 * math.pi * torch.cumsum(200 + 1500 * n / 32000, 0) / 16000)).float()
    sine = (0.5 * torch.sin(2 * math.pi * 440.3 * n / 16000)).float()
    sc_chirp, mag = _sc(chirp)
    sc_sine, _ = _sc(sine)
    assert sc_chirp < -22.0 and sc_sine < -22.0  # measured -24.9 and -24.3 dB
    random_start = fast_griffin_lim(mag, 0, CFG, 32000, init="random")
    assert sc_chirp < spectral_convergence_db(mag, random_start, CFG).item() - 15.0
    # more redundancy, better gradients: hop 64 beats hop 128 on the chirp
    assert _sc(chirp, STFTConfig(512, 64))[0] < sc_chirp - 3.0


def test_pghi_beats_random_and_zero_phase_on_speech(speech):
    sc, mag = _sc(speech)
    rand = spectral_convergence_db(mag, fast_griffin_lim(mag, 0, CFG, speech.shape[-1], init="random"), CFG).item()
    zero = spectral_convergence_db(mag, fast_griffin_lim(mag, 0, CFG, speech.shape[-1], init="zeros"), CFG).item()
    assert sc < -20.0  # measured -23.8 dB
    assert sc < rand - 15.0 and sc < zero - 15.0
    # 50 % overlap is harder but still far better than a random phase
    sc256, mag256 = _sc(speech, STFTConfig(512, 256))
    assert sc256 < -15.0


def test_pghi_batched_equals_per_item_and_keeps_magnitude(speech):
    x = torch.stack([speech[:8000], speech[8000:16000] * 0.3, speech[16000:24000]])
    mag = stft(x, CFG).abs()
    phase = pghi_phase(mag, CFG)
    assert phase.shape == mag.shape and phase.dtype == mag.dtype
    assert float(phase.min()) >= 0.0 and float(phase.max()) < 2 * math.pi + 1e-6
    for i in range(3):
        torch.testing.assert_close(phase[i], pghi_phase(mag[i], CFG))
    wave, spec = pghi(mag, CFG, 8000, return_spec=True)
    assert wave.shape == (3, 8000)
    torch.testing.assert_close(spec.abs(), mag)


def test_pghi_float64_and_silence():
    mag = torch.zeros(257, 20, dtype=torch.float64)
    out = pghi(mag, CFG)
    assert out.dtype == torch.float64 and torch.count_nonzero(out) == 0
    np.testing.assert_equal(out.shape, (128 * 19,))


def test_pghi_bad_options():
    mag = torch.ones(257, 10)
    with pytest.raises(ConfigError, match="tol"):
        pghi(mag, CFG, tol=2.0)
    with pytest.raises(ConfigError, match="gamma"):
        pghi(mag, CFG, gamma=-1.0)
