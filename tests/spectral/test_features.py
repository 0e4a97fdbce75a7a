"""Magnitude, log, power-law compression, real/imag channels and STFT consistency, checked against NumPy and theory."""

import math
import os
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from cspec.audio import load
from cspec.errors import ConfigError
from cspec.spectral import get_preset, stft
from cspec.spectral.features import (
    compress,
    compress_magnitude,
    consistency_projection,
    decompress,
    decompress_magnitude,
    from_real_imag,
    group_delay,
    inconsistency,
    instantaneous_frequency,
    log_magnitude,
    mag_phase_to_complex,
    magnitude,
    phase,
    to_real_imag,
)

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def _spec(*shape, dtype=torch.complex128, seed=0):
    torch.manual_seed(seed)
    return torch.randn(*shape, dtype=dtype)


def test_magnitude_phase_log_against_numpy():
    X = _spec(2, 3, 65, 7)
    X[0, 0, 0, 0] = 0
    x = X.numpy()
    assert np.allclose(magnitude(X).numpy(), np.abs(x), atol=1e-14)
    assert np.allclose(phase(X).numpy(), np.angle(x), atol=1e-14)
    assert np.allclose(log_magnitude(X, eps=1e-8).numpy(), np.log(np.abs(x) + 1e-8), atol=1e-14)  # natural log
    assert log_magnitude(X)[0, 0, 0, 0].item() == pytest.approx(math.log(1e-8))


def test_magnitude_equals_librosa_stft_on_speech():
    wave, sr = load(DATA / "dev_pairs" / "noisy" / "vbd_train_p287_001.flac", mono=True)
    cfg = get_preset("mpsenet")
    ours = magnitude(stft(wave[0], cfg)).numpy()
    ref = np.abs(librosa.stft(wave[0].numpy(), n_fft=400, hop_length=100, win_length=400, window="hann",
                              center=True, pad_mode="reflect"))
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-5 * ref.max()


@pytest.mark.parametrize("c,beta", [(0.3, 1.0), (0.5, 0.15)])  # MP-SENet / CMGAN and SGMSE+
def test_compression_formula_and_round_trip(c, beta):
    X = _spec(4, 129, 20)
    Xc = compress(X, c, beta)
    x = X.numpy()
    ref = beta * np.abs(x) ** c * np.exp(1j * np.angle(x))
    assert np.allclose(Xc.numpy(), ref, rtol=1e-12, atol=0)
    assert torch.allclose(decompress(Xc, c, beta), X, rtol=1e-12, atol=0)
    X32 = X.to(torch.complex64)
    rel = ((decompress(compress(X32, c, beta), c, beta) - X32).abs() / X32.abs()).max()
    assert rel < 1e-6
    mag = X.abs()
    assert torch.allclose(compress_magnitude(mag, c, beta), Xc.abs(), rtol=1e-12)
    assert torch.allclose(decompress_magnitude(compress_magnitude(mag, c, beta), c, beta), mag, rtol=1e-12)


def test_compression_is_safe_on_zero_bins():
    X = torch.zeros(3, 5, dtype=torch.complex64, requires_grad=True)
    Xc = compress(X)
    Xc.abs().sum().backward()
    assert torch.equal(Xc.detach(), torch.zeros_like(Xc)) and torch.isfinite(torch.view_as_real(X.grad)).all()
    m = torch.zeros(4, requires_grad=True)
    compress_magnitude(m).sum().backward()
    assert torch.isfinite(m.grad).all()
    assert torch.isfinite(decompress(torch.zeros(3, dtype=torch.complex64)).abs()).all()


def test_real_imag_channels():
    X = _spec(2, 65, 9, dtype=torch.complex64)
    ri = to_real_imag(X)
    assert ri.shape == (2, 2, 65, 9)
    assert torch.equal(ri[:, 0], X.real) and torch.equal(ri[:, 1], X.imag)
    assert torch.equal(from_real_imag(ri), X)
    assert torch.equal(to_real_imag(X, dim=-1), torch.view_as_real(X))
    assert torch.equal(from_real_imag(to_real_imag(X, dim=1), dim=1), X)
    with pytest.raises(ConfigError, match="size 2"):
        from_real_imag(torch.randn(2, 3, 65, 9))


def test_mag_phase_to_complex():
    mag, ph = torch.rand(3, 65, 9, dtype=torch.float64), (torch.rand(3, 65, 9, dtype=torch.float64) - 0.5) * 7
    assert torch.allclose(mag_phase_to_complex(mag, ph), torch.polar(mag, ph), atol=1e-15)
    X = _spec(3, 65, 9)
    assert torch.allclose(mag_phase_to_complex(magnitude(X), phase(X)), X, atol=1e-14)


def test_consistency_of_a_real_signal_and_of_noise():
    cfg = get_preset("mpsenet")  # hop / n_fft = 1/4
    torch.manual_seed(0)
    x = torch.randn(2, 16000)
    X = stft(x, cfg)
    assert (inconsistency(X, cfg, length=16000) < 1e-6).all()
    # noise: a tight frame projects onto a subspace of hop/n_fft of the real dimensions, so
    # ||X - P X|| / ||X|| -> sqrt(1 - hop / n_fft) = sqrt(3/4) = 0.866
    noise = torch.randn(2, cfg.n_freqs, 200, dtype=torch.complex64)
    inc = inconsistency(noise, cfg)
    assert inc.shape == (2,)
    assert torch.allclose(inc, torch.full_like(inc, math.sqrt(1 - cfg.hop_length / cfg.n_fft)), atol=0.01)
    P = consistency_projection(noise, cfg)
    assert P.shape == noise.shape
    assert ((consistency_projection(P, cfg) - P).norm() / P.norm()) < 1e-6  # idempotent
    assert (inconsistency(P, cfg) < 1e-6).all()


def test_consistency_of_speech_needs_the_length():
    wave, _ = load(DATA / "dev_pairs" / "clean" / "vbd_train_p287_001.flac", mono=True)
    cfg = get_preset("dccrn")
    X = stft(wave, cfg)
    n = wave.shape[-1]
    assert inconsistency(X, cfg, length=n).item() < 1e-6
    assert n % cfg.hop_length != 0  # without the length the last frames see a trimmed signal
    assert inconsistency(X, cfg).item() > 1e-4


def test_bad_inputs_raise_config_errors():
    with pytest.raises(ConfigError, match="complex"):
        magnitude(torch.randn(3, 4))
    with pytest.raises(ConfigError, match="c > 0"):
        compress(_spec(3, 4), c=0.0)
    with pytest.raises(ConfigError, match="eps > 0"):
        log_magnitude(_spec(3, 4), eps=0.0)
    with pytest.raises(ConfigError, match="complex"):
        consistency_projection(torch.randn(201, 10), "mpsenet")


def test_features_are_differentiable():
    X = _spec(3, 4).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: compress(z, 0.3, 0.5), (X,))
    assert torch.autograd.gradcheck(lambda z: log_magnitude(z), (X,))
    torch.manual_seed(0)
    x = torch.randn(2, 2000, dtype=torch.float64, requires_grad=True)
    cfg = get_preset("fullsubnet")
    (group_delay(x, cfg).square().mean() + instantaneous_frequency(x, cfg).mean()).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
