"""Phase features: wrapping, group delay (impulse, NumPy by hand, librosa), IF (sinusoid, chirp, librosa), BPD."""

import math
import os
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from cspec.audio import load
from cspec.errors import ConfigError
from cspec.spectral import STFTConfig, get_preset, make_window, stft
from cspec.spectral.features import (
    anti_wrap,
    baseband_phase_difference,
    group_delay,
    instantaneous_angular_frequency,
    instantaneous_frequency,
    phase_freq_derivative,
    phase_time_derivative,
    wrap,
)
from cspec.spectral.phase_features import _stft_with_window

SR = 16000
HANN = STFTConfig(512, 128, 512, "hann", sample_rate=SR)  # bins of 31.25 Hz, hop of 8 ms
DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def _speech(seconds=1.0) -> torch.Tensor:
    wave, sr = load(DATA / "dev_pairs" / "clean" / "vbd_train_p287_001.flac", mono=True)
    assert sr == SR
    return wave[0, : int(seconds * SR)].double()


def _cos(f0, seconds=1.0, chirp=0.0):
    t = torch.arange(int(seconds * SR), dtype=torch.float64) / SR
    return torch.cos(2 * math.pi * (f0 * t + 0.5 * chirp * t**2) + 0.3)


def test_wrap_and_anti_wrap():
    x = torch.linspace(-20, 20, 4001, dtype=torch.float64)
    w = wrap(x)
    assert w.min() > -math.pi and w.max() <= math.pi
    assert torch.allclose(torch.exp(1j * w), torch.exp(1j * x), atol=1e-12)  # same angle
    assert wrap(torch.tensor([math.pi, -math.pi, 3 * math.pi])).tolist() == pytest.approx([math.pi] * 3)
    inside = torch.linspace(-math.pi + 1e-9, math.pi, 1001, dtype=torch.float64)
    assert torch.allclose(anti_wrap(inside), inside.abs(), atol=1e-12)  # = |x| on (-pi, pi]
    for n in (-3, -1, 1, 2):  # 2*pi periodic
        assert torch.allclose(anti_wrap(x + 2 * math.pi * n), anti_wrap(x), atol=1e-9)
    ref = np.abs(x.numpy() - np.round(x.numpy() / (2 * np.pi)) * 2 * np.pi)  # MP-SENet's anti_wrapping_function
    assert np.allclose(anti_wrap(x).numpy(), ref, atol=1e-12)


def test_private_stft_matches_public_stft():
    x = torch.randn(2, 3000, dtype=torch.float64)
    for cfg in (HANN, get_preset("dccrn")):
        assert torch.equal(_stft_with_window(x, cfg, make_window(cfg, dtype=torch.float64)), stft(x, cfg))


@pytest.mark.parametrize("cfg", [HANN, get_preset("dccrn"), get_preset("cmgan")], ids=["hann", "dccrn", "cmgan"])
@pytest.mark.parametrize("method", ["analytic", "diff"])
def test_group_delay_of_an_impulse_is_its_offset_from_the_frame_centre(cfg, method):
    d = 1000
    x = torch.zeros(2, 4000, dtype=torch.float64)
    x[0, d] = 1.0
    x[1, d + 37] = -2.0  # batched, another delay and sign
    tau = group_delay(x, cfg, method=method)
    mag = stft(x, cfg).abs()
    hop = cfg.hop_length
    for b, delay in ((0, d), (1, d + 37)):
        frames = [m for m in range(tau.shape[-1]) if mag[b, :, m].max() > 1e-3 * mag[b].max()]
        assert len(frames) >= 3
        for m in frames:
            live = mag[b, :, m] > 1e-6 * mag[b].max()
            assert torch.allclose(tau[b, live, m], torch.full_like(tau[b, live, m], delay - m * hop), atol=1e-6)
    if method == "analytic":  # frames the impulse does not reach: 0, not NaN
        assert torch.isfinite(tau).all() and tau[0, :, 0].abs().max() == 0


def test_group_delay_diff_equals_a_numpy_computation_by_hand():
    cfg = HANN
    x = np.random.default_rng(1).standard_normal(2000)
    w = np.hanning(cfg.n_fft + 1)[:-1]  # periodic Hann
    xp = np.pad(x, cfg.n_fft // 2, mode="reflect")
    n_fr = 1 + (len(xp) - cfg.n_fft) // cfg.hop_length
    frames = np.stack([xp[m * cfg.hop_length : m * cfg.hop_length + cfg.n_fft] * w for m in range(n_fr)], 1)
    X = np.fft.rfft(frames, axis=0)  # phase from the frame start
    k = np.arange(X.shape[0])[:, None]
    Xc = X * np.exp(2j * np.pi * k * (cfg.n_fft // 2) / cfg.n_fft)  # phase from the frame centre
    dphi = np.angle(Xc[1:] * np.conj(Xc[:-1]))  # wrapped phase step between bins
    tau_half = -dphi * cfg.n_fft / (2 * np.pi)  # at bins k + 1/2
    ref = np.concatenate([tau_half[:1], 0.5 * (tau_half[1:] + tau_half[:-1]), tau_half[-1:]], 0)
    ours = group_delay(torch.from_numpy(x), cfg, method="diff").numpy()
    assert ours.shape == ref.shape
    # frame 0 of a reflect-padded signal is even about its centre: its centre-referred spectrum is real and its
    # phase steps are exactly 0 or +-pi, where rounding picks either sign; compare the other frames
    assert np.abs(ours - ref)[:, 1:].max() < 1e-8
    r = ours[:, 0] / 128  # frame 0: steps of 0 or +-pi (0 or +-256 samples), averaged: multiples of 128
    assert np.abs(r - np.round(r)).max() < 1e-9
    step = phase_freq_derivative(stft(torch.from_numpy(x), cfg)).numpy()
    assert np.allclose(np.exp(1j * step), np.exp(1j * np.angle(X[1:] * np.conj(X[:-1]))), atol=1e-9)


@pytest.mark.parametrize("f0", [1000.0, 1234.567])
def test_if_of_a_stationary_sinusoid(f0):
    x = _cos(f0)
    kb = round(f0 * HANN.n_fft / SR)
    inner = slice(5, -5)  # frames away from the reflect-padded ends
    err_a = (instantaneous_frequency(x, HANN)[kb - 1 : kb + 2, inner] - f0).abs().max().item()
    err_d = (instantaneous_frequency(x, HANN, method="diff")[kb - 1 : kb + 2, inner] - f0).abs().max().item()
    if f0 == 1000.0:  # bin-centred: both exact
        assert err_a < 1e-8 and err_d < 1e-8
    else:  # the diff form is exact for a stationary sinusoid; the analytic one errs by ~1e-5 of a bin
        assert err_d < 1e-3
        assert err_a < 0.05
    # the spectrogram path of "diff" equals the waveform path
    assert torch.equal(instantaneous_frequency(stft(x, HANN), HANN, "diff"), instantaneous_frequency(x, HANN, "diff"))


def test_if_analytic_holds_in_the_whole_main_lobe_where_diff_aliases():
    cfg = get_preset("fullsubnet")  # Hann 512, hop 256: diff only resolves |f - f_k| < sr / (2 hop) = 31.25 Hz
    f0 = 1234.567
    x = _cos(f0)
    kb = round(f0 * cfg.n_fft / SR)
    side = slice(kb - 2, kb + 3, 4)  # bins kb-2 and kb+2 (about 2 bins away, still in Hann's main lobe)
    err_a = (instantaneous_frequency(x, cfg)[side, 5:-5] - f0).abs()
    err_d = (instantaneous_frequency(x, cfg, method="diff")[side, 5:-5] - f0).abs()
    assert err_a.max() < 0.1  # Hz (measured 0.065): 2e-3 of a bin
    assert torch.allclose(err_d, torch.full_like(err_d, SR / cfg.hop_length), atol=1e-3)  # off by sr/hop = 62.5 Hz


@pytest.mark.parametrize("method", ["analytic", "diff"])
def test_if_of_a_linear_chirp_follows_f0_plus_kt(method):
    f0, rate = 300.0, 2000.0  # 300 -> 2300 Hz in 1 s
    x = _cos(f0, chirp=rate)
    X = stft(x, HANN)
    inst = instantaneous_frequency(x, HANN, method=method)
    peak = X.abs().argmax(dim=-2)  # strongest bin per frame
    est = inst.gather(-2, peak[None]).squeeze(0)
    t = torch.arange(X.shape[-1], dtype=torch.float64) * HANN.hop_length / SR  # frame centres
    err = (est - (f0 + rate * t))[5:-5].abs()
    assert err.max() < 3.5  # Hz, a tenth of a bin; a stationary-frequency fit would lag by up to rate*hop/sr = 16 Hz


def test_bpd_of_a_stationary_sinusoid_is_constant_and_known():
    f0 = 1234.567
    X = stft(_cos(f0), HANN)
    bpd = baseband_phase_difference(X, HANN)
    assert bpd.shape == (X.shape[0], X.shape[1] - 1)
    kb = round(f0 * HANN.n_fft / SR)
    expected = math.remainder(2 * math.pi * (f0 - kb * SR / HANN.n_fft) * HANN.hop_length / SR, 2 * math.pi)
    for k in (kb - 1, kb, kb + 1):
        expected_k = math.remainder(2 * math.pi * (f0 - k * SR / HANN.n_fft) * HANN.hop_length / SR, 2 * math.pi)
        assert bpd[k, 5:-5].std() < 1e-5
        assert torch.allclose(bpd[k, 5:-5], torch.full_like(bpd[k, 5:-5], expected_k), atol=1e-5)
    assert expected == pytest.approx(-0.7757472, abs=1e-6)  # worked by hand: 2*pi*(1234.567 - 1250)*128/16000


def test_raw_phase_derivatives_are_torch_diff_of_the_angle():
    X = torch.randn(2, 5, 257, 20, dtype=torch.complex64)
    ang = X.angle()
    assert torch.equal(instantaneous_angular_frequency(X), torch.diff(ang, dim=-1))  # MP-SENet's IAF
    assert phase_time_derivative(X).shape == (2, 5, 257, 19)
    assert phase_freq_derivative(X).shape == (2, 5, 256, 20)
    assert torch.allclose(phase_time_derivative(X), wrap(torch.diff(ang, dim=-1)))
    assert phase_time_derivative(X).abs().max() <= math.pi


@pytest.mark.filterwarnings("ignore:'where' used without 'out'")  # inside librosa's reassignment
def test_cross_check_against_librosa_reassignment_on_speech():
    x = _speech(1.0)
    cfg = HANN
    y = x.numpy()
    freqs, times, mags = librosa.reassigned_spectrogram(
        y, sr=SR, n_fft=cfg.n_fft, hop_length=cfg.hop_length, window="hann", center=True, pad_mode="reflect",
        ref_power=0.0, clip=False, fill_nan=True,
    )
    X = stft(x, cfg)
    assert np.allclose(mags, X.abs().numpy(), atol=1e-10)  # same STFT magnitudes
    live = (X.abs() > 1e-3 * X.abs().max()).numpy()
    # librosa differentiates the window by central differences, which scales Hann's derivative by sin(a)/a
    a = 2 * math.pi / cfg.n_fft
    f_k = np.arange(cfg.n_freqs)[:, None] * SR / cfg.n_fft
    ours = instantaneous_frequency(x, cfg).numpy()
    scaled = f_k + (freqs - f_k) * a / math.sin(a)
    assert np.abs(ours - scaled)[live].max() < 1e-6
    assert np.abs(ours - freqs)[live].max() < 0.05  # Hz
    # librosa's time-weighted window is (n - n_fft/2 + 0.5) w[n]: its times are ours shifted by half a sample
    tau = group_delay(x, cfg).numpy()
    m = np.arange(X.shape[-1])[None, :]
    assert np.abs(tau - (times * SR - m * cfg.hop_length - 0.5))[live].max() < 1e-6


def test_errors_say_what_to_do():
    X = stft(torch.randn(4000), HANN)
    with pytest.raises(ConfigError, match="waveform"):
        group_delay(X, HANN, method="analytic")
    with pytest.raises(ConfigError, match="hann"):
        instantaneous_frequency(torch.randn(4000), get_preset("cmgan"))
    with pytest.raises(ConfigError, match="analytic"):
        group_delay(torch.randn(4000), HANN, method="magic")
    with pytest.raises(ConfigError, match="bins"):
        baseband_phase_difference(X, get_preset("mpsenet"))
    with pytest.raises(ConfigError, match="complex"):
        phase_time_derivative(torch.randn(257, 10))
    with pytest.raises(ConfigError, match="too short"):
        group_delay(torch.randn(100), HANN)
