"""Log-spectral distance and waveform spectral convergence against a NumPy/librosa computation."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from cspec.metrics import MetricError, log_spectral_distance, spectral_convergence_wave


def _power(x, n_fft=2048, hop=512):
    return np.abs(librosa.stft(x, n_fft=n_fft, hop_length=hop, window="hann", center=True, pad_mode="constant")) ** 2


def test_lsd_equals_librosa_formula(dev_pairs):
    for name in ["dns3_0015", "vbd_train_p287_004"]:
        c, n, _ = dev_pairs[name]
        lp, ln = np.log10(np.maximum(_power(c), 1e-8)), np.log10(np.maximum(_power(n), 1e-8))
        expect = np.mean(np.sqrt(np.mean((lp - ln) ** 2, axis=0)))
        assert log_spectral_distance(c, n, 16000) == pytest.approx(expect, rel=1e-6)


def test_lsd_by_hand_for_a_gain():
    # a gain g changes every log10 power by 2 log10 g, so LSD = |2 log10 g| exactly (no floor reached)
    torch.manual_seed(0)
    x = torch.randn(2, 16000, dtype=torch.float64)
    out = log_spectral_distance(x, 0.1 * x, 16000)
    assert isinstance(out, torch.Tensor) and out.shape == (2,)
    torch.testing.assert_close(out, torch.full((2,), 2.0, dtype=torch.float64), atol=1e-9, rtol=0)
    assert log_spectral_distance(x[0].numpy(), x[0].numpy(), 16000) == pytest.approx(0.0, abs=1e-12)


def test_spectral_convergence_wave(dev_pairs):
    c, n, _ = dev_pairs["dns3_0015"]
    # mpsenet preset: n_fft 400, hop 100, Hann window 400, centred with reflect padding
    mc = np.abs(librosa.stft(c, n_fft=400, hop_length=100, window="hann", center=True, pad_mode="reflect"))
    mn = np.abs(librosa.stft(n, n_fft=400, hop_length=100, window="hann", center=True, pad_mode="reflect"))
    assert spectral_convergence_wave(c, n, 16000) == pytest.approx(np.linalg.norm(mc - mn) / np.linalg.norm(mc), rel=1e-5)
    assert spectral_convergence_wave(c, 0.5 * c, 16000) == pytest.approx(0.5, rel=1e-9)


def test_lsd_rejects_a_silent_reference():
    with pytest.raises(MetricError, match="reference is silent"):
        log_spectral_distance(np.zeros(4000), np.ones(4000), 16000)
