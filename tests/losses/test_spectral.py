"""Spectral losses: hand-worked values, a NumPy multi-resolution STFT loss, consistency of true STFTs."""

import numpy as np
import pytest
import torch

from cspec.errors import ConfigError
from cspec.losses import (
    PWG_RESOLUTIONS,
    ComplexMSELoss,
    CompressedSpectralLoss,
    ConsistencyLoss,
    MultiResolutionSTFTLoss,
    complex_mse,
    compressed_magnitude_mse,
    compressed_spectral_loss,
    stft_consistency,
)
from cspec.spectral.features import compress
from cspec.spectral.stft import stft


def _randc(*shape, seed=0, dtype=torch.complex128):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


def test_complex_mse_hand_worked():
    ref = _randc(2, 5, 4)
    est = ref + (0.5 + 0.5j)  # |d|^2 = 0.5 in every bin
    torch.testing.assert_close(complex_mse(est, ref), torch.full((2,), 0.5, dtype=torch.float64))
    assert ComplexMSELoss()(est, ref).item() == pytest.approx(0.5)


def test_compressed_loss_hand_worked():
    ref = torch.ones(1, 3, 4, dtype=torch.complex128)
    # est = 2: compressed 2**0.3 vs 1 in magnitude and in the real part
    d = 2**0.3 - 1
    value = compressed_spectral_loss(2 * ref, ref)
    assert value.item() == pytest.approx(0.9 * d**2 + 0.1 * d**2, abs=1e-12)
    # est = -ref: same magnitude (L_Mag = 0), compressed real parts -1 vs 1 (L_RI = 4)
    assert compressed_spectral_loss(-ref, ref).item() == pytest.approx(0.1 * 4.0, abs=1e-12)
    assert compressed_magnitude_mse(-ref, ref).item() == pytest.approx(0.0, abs=1e-12)


def test_compressed_loss_matches_numpy():
    est, ref = _randc(3, 7, 6, seed=1), _randc(3, 7, 6, seed=2)
    e, r = est.numpy(), ref.numpy()
    ec, rc = np.abs(e) ** 0.3 * np.exp(1j * np.angle(e)), np.abs(r) ** 0.3 * np.exp(1j * np.angle(r))
    mag = ((np.abs(ec) - np.abs(rc)) ** 2).mean(axis=(-2, -1))
    ri = ((ec.real - rc.real) ** 2).mean(axis=(-2, -1)) + ((ec.imag - rc.imag) ** 2).mean(axis=(-2, -1))
    loss = CompressedSpectralLoss(c=0.3, weight_mag=0.7, weight_ri=0.3, reduction="none")(est, ref)
    np.testing.assert_allclose(loss.numpy(), 0.7 * mag + 0.3 * ri, rtol=1e-12)


def test_consistency_zero_for_stft_positive_for_noise():
    g = torch.Generator().manual_seed(3)
    wave = torch.randn(2, 16050, generator=g)
    spec = stft(wave[:, :16000], "mpsenet")  # 160 hops of 100: a multiple of the hop
    assert stft_consistency(spec, "mpsenet").max().item() < 1e-6
    assert ConsistencyLoss("mpsenet", relative=True)(spec).item() < 1e-6
    # compressed spectrum (MP-SENet applies the loss after |X|**0.3)
    assert stft_consistency(compress(spec, 0.3), "mpsenet", c=0.3).max().item() < 1e-6
    # a length that is not a multiple of the hop needs the length
    assert stft_consistency(stft(wave, "mpsenet"), "mpsenet", length=16050).max().item() < 1e-6
    noise = torch.randn(spec.shape, generator=g, dtype=torch.complex64)
    rel = stft_consistency(noise, "mpsenet", relative=True)
    assert torch.all(rel > 0.3)  # most of random noise is inconsistent at 75 % overlap
    assert torch.all(stft_consistency(noise, "mpsenet") > 0.3)


def _np_mag(x, n_fft, hop, win, eps=1e-7):
    """Magnitude STFT by hand: centre reflect padding, periodic Hann of ``win`` centred in ``n_fft``."""
    pad = n_fft // 2
    xp = np.pad(x, (pad, pad), mode="reflect")
    w = np.zeros(n_fft)
    off = (n_fft - win) // 2
    w[off:off + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    n_frames = 1 + (len(xp) - n_fft) // hop
    frames = np.stack([xp[m * hop:m * hop + n_fft] * w for m in range(n_frames)], axis=-1)
    spec = np.fft.rfft(frames, axis=0)
    return np.sqrt(np.maximum(np.abs(spec) ** 2, eps))


def test_multi_resolution_stft_against_numpy():
    assert PWG_RESOLUTIONS == ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
    g = torch.Generator().manual_seed(4)
    ref = torch.randn(2, 4800, generator=g, dtype=torch.float64)
    est = ref + 0.5 * torch.randn(2, 4800, generator=g, dtype=torch.float64)
    loss = MultiResolutionSTFTLoss(reduction="none")
    sc, mag = loss.terms(est, ref)
    for b in range(2):
        sc_np, mag_np = [], []
        for n_fft, hop, win in PWG_RESOLUTIONS:
            a, e = _np_mag(ref[b].numpy(), n_fft, hop, win), _np_mag(est[b].numpy(), n_fft, hop, win)
            sc_np.append(np.linalg.norm(a - e) / np.linalg.norm(a))
            mag_np.append(np.mean(np.abs(np.log(a) - np.log(e))))
        assert sc[b].item() == pytest.approx(np.mean(sc_np), rel=1e-9)
        assert mag[b].item() == pytest.approx(np.mean(mag_np), rel=1e-9)
    torch.testing.assert_close(loss(est, ref), sc + mag)


def test_multi_resolution_stft_zero_for_identical_signals():
    x = torch.randn(3, 3000)
    assert MultiResolutionSTFTLoss()(x, x.clone()).item() == 0.0
    small = MultiResolutionSTFTLoss(resolutions=[(256, 64, 256), (128, 32, 96)])
    assert small(x, x.clone()).item() == 0.0
    assert small(x, x + 0.1).item() > 0


def test_spectral_user_errors():
    with pytest.raises(ConfigError, match="complex spectrogram"):
        complex_mse(torch.randn(2, 5, 4), torch.randn(2, 5, 4))
    with pytest.raises(ConfigError, match="differ"):
        complex_mse(_randc(2, 5, 4), _randc(2, 5, 5))
    with pytest.raises(ConfigError, match="n_fft, hop, win_length"):
        MultiResolutionSTFTLoss(resolutions=[(512, 128)])
    with pytest.raises(ConfigError, match="bins"):
        stft_consistency(_randc(1, 100, 10, dtype=torch.complex64), "mpsenet")
