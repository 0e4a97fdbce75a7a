"""GLA and fast GLA against librosa.griffinlim, GLA's monotonicity, batching and input checks."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from cspec.errors import ConfigError
from cspec.metrics.spectral import spectral_convergence, spectral_convergence_db
from cspec.phase import fast_griffin_lim, griffin_lim, initial_phasor
from cspec.spectral.stft import STFTConfig, istft, stft

# librosa.griffinlim pads the centred frames with zeros by default
CFG = STFTConfig(512, 128, window="hann", pad_mode="constant")


def _librosa_init(shape, seed: int) -> np.ndarray:
    """The phase librosa.griffinlim draws for random_state=seed (RandomState(seed).random * 2 pi)."""
    return 2 * np.pi * np.random.RandomState(seed).random(size=shape)


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 2e-3), (torch.float64, 1e-9)])
def test_fgla_matches_librosa(speech, dtype, atol):
    x = speech.to(dtype)
    mag = stft(x, CFG).abs()
    n_iter, momentum = 32, 0.99
    ref = librosa.griffinlim(
        mag.numpy(), n_iter=n_iter, hop_length=128, n_fft=512, window="hann", length=x.shape[-1],
        momentum=momentum, random_state=0,
    )
    ours = fast_griffin_lim(
        mag, n_iter, CFG, x.shape[-1], momentum=momentum, init=torch.from_numpy(_librosa_init(mag.shape, 0))
    )
    assert ours.dtype == dtype and ours.shape == (x.shape[-1],)
    sc_ref = spectral_convergence_db(mag, torch.from_numpy(ref).to(dtype), CFG).item()
    sc_ours = spectral_convergence_db(mag, ours, CFG).item()
    assert abs(sc_ours - sc_ref) < 0.5
    assert sc_ours < -20.0  # 32 FGLA iterations on speech at 75 % overlap
    # same initial phase -> the same signal, sample by sample (up to float rounding)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=atol * float(np.abs(ref).max()))


def test_gla_spectral_convergence_never_increases(speech):
    x = speech[:12000].double()
    mag = stft(x, CFG).abs()
    history = []
    griffin_lim(mag, 40, CFG, x.shape[-1], callback=lambda n, t: history.append(spectral_convergence(mag, t).item()))
    sc = np.array(history)
    assert len(sc) == 40
    # Griffin & Lim (1984): each step is a projection, so the magnitude distance is non-increasing
    assert np.all(np.diff(sc) <= 1e-12 * sc[:-1])
    assert sc[-1] < 0.7 * sc[0]


def test_momentum_zero_is_gla_and_equals_librosa_gla(speech):
    x = speech[:16000]
    mag = stft(x, CFG).abs()
    init = torch.from_numpy(_librosa_init(mag.shape, 3))
    a = griffin_lim(mag, 10, CFG, 16000, init=init)
    b = fast_griffin_lim(mag, 10, CFG, 16000, momentum=0.0, init=init)
    assert torch.equal(a, b)
    ref = librosa.griffinlim(mag.numpy(), n_iter=10, hop_length=128, n_fft=512, length=16000, momentum=0.0,
                             random_state=3)
    np.testing.assert_allclose(a.numpy(), ref, atol=1e-4 * float(np.abs(ref).max()))


def test_zero_iterations_is_istft_of_initial_guess():
    torch.manual_seed(0)
    mag = stft(torch.randn(4000), CFG).abs()
    out = fast_griffin_lim(mag, 0, CFG, 4000, init="zeros")
    expected = istft(mag.to(torch.complex64), CFG, 4000)
    torch.testing.assert_close(out, expected)
    # a phase tensor and its phasor give the same start
    phase = torch.rand(mag.shape) * 6.0
    a = fast_griffin_lim(mag, 3, CFG, 4000, init=phase)
    b = fast_griffin_lim(mag, 3, CFG, 4000, init=torch.polar(torch.ones_like(phase), phase))
    torch.testing.assert_close(a, b)


def test_batched_equals_per_item():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 6000)
    mag = stft(x, CFG).abs()
    batched, spec = fast_griffin_lim(mag, 8, CFG, 6000, return_spec=True)
    assert batched.shape == (2, 3, 6000) and spec.shape == mag.shape and spec.is_complex()
    torch.testing.assert_close(spec.abs(), mag, rtol=1e-5, atol=1e-5)  # the returned spectrogram has |S|
    for i in range(2):
        for j in range(3):
            single = fast_griffin_lim(mag[i, j], 8, CFG, 6000)
            torch.testing.assert_close(batched[i, j], single, rtol=1e-4, atol=1e-5)


def test_random_init_is_seeded_and_uniform():
    mag = torch.ones(257, 400)
    a, b, c = initial_phasor(mag, "random", 0), initial_phasor(mag, "random", 0), initial_phasor(mag, "random", 1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.testing.assert_close(a.abs(), torch.ones_like(mag))
    # the mean phasor of a uniform phase is 0 (|mean| ~ 1/sqrt(n) = 0.003 here)
    assert a.mean().abs().item() < 0.02


def test_bad_inputs_raise_config_error():
    mag = torch.ones(257, 10)
    with pytest.raises(ConfigError, match="frequency bins"):
        griffin_lim(torch.ones(100, 10), 1, CFG)
    with pytest.raises(ConfigError, match="negative"):
        griffin_lim(-mag, 1, CFG)
    with pytest.raises(ConfigError, match="frames"):
        griffin_lim(mag, 1, CFG, length=5000)
    with pytest.raises(ConfigError, match="unknown init"):
        griffin_lim(mag, 1, CFG, init="ones")
    with pytest.raises(ConfigError, match="momentum"):
        fast_griffin_lim(mag, 1, CFG, momentum=-0.5)
    with pytest.raises(ConfigError, match="NaN"):
        griffin_lim(mag * float("nan"), 1, CFG)


def test_fgla_is_differentiable_through_the_iterations():
    torch.manual_seed(2)
    mag = stft(torch.randn(2000, dtype=torch.float64), CFG).abs().requires_grad_()
    direction = torch.randn_like(mag)

    def loss(m):
        return fast_griffin_lim(m, 3, CFG, 2000, init="zeros").square().sum()

    loss(mag).backward()
    analytic = (mag.grad * direction).sum().item()
    h = 1e-6
    numeric = (loss(mag.detach() + h * direction) - loss(mag.detach() - h * direction)).item() / (2 * h)
    assert analytic == pytest.approx(numeric, rel=1e-5)


@pytest.mark.parametrize("n_fft", [400, 401])
@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_in_place_iterations_equal_the_differentiable_ones(n_fft, pad_mode):
    """The buffered in-place loop (no gradient) and the out-of-place one (gradient) give the same signal, with
    even and odd windows; the default length is the shortest signal with the magnitude's frame count."""
    cfg = STFTConfig(n_fft, 100, n_fft, "hann", pad_mode=pad_mode)
    torch.manual_seed(3)
    mag = stft(torch.randn(2, 1700, dtype=torch.float64), cfg).abs()
    with torch.no_grad():
        fast = fast_griffin_lim(mag, 4, cfg, seed=1)
    slow = fast_griffin_lim(mag.clone().requires_grad_(), 4, cfg, seed=1)
    assert fast.shape[-1] == (1700 if n_fft % 2 == 0 else 1601)  # 17 frames of an odd window start at 1601
    assert torch.allclose(fast, slow.detach(), atol=1e-12)
    # a starting phase that needs a gradient also takes the out-of-place path
    phase = torch.zeros_like(mag).requires_grad_()
    fast_griffin_lim(mag, 2, cfg, init=phase).sum().backward()
    assert phase.grad is not None


@pytest.mark.parametrize("cfg", [CFG, STFTConfig(401, 100, 401, "hann"), STFTConfig(400, 160, 320, "hann")],
                         ids=["512-128-zeros", "odd-reflect", "short-window-partial-hops"])
@pytest.mark.parametrize("dtype, atol", [(torch.float32, 2e-5), (torch.float64, 1e-12)])
def test_fused_iterations_equal_the_torch_kernels(cfg, dtype, atol, monkeypatch):
    """The compiled one-thread loop (cspec.phase._fused) computes what the torch kernels compute: equal to
    rounding over a few iterations (FGLA amplifies rounding over many), batched, every padding and window,
    with the same consistent spectrograms passed to the callback."""
    from cspec.phase import _fused

    assert _fused.AVAILABLE  # numba is a core dependency
    torch.manual_seed(4)
    mag = stft(torch.randn(3, 4000, dtype=dtype), cfg).abs()
    seen = {True: [], False: []}
    out = {}
    for flag in (True, False):
        monkeypatch.setattr(_fused, "AVAILABLE", flag)
        out[flag] = fast_griffin_lim(mag, 5, cfg, seed=2, callback=lambda n, t, f=flag: seen[f].append(t))
    scale = mag.max().item()
    assert out[True].dtype == dtype
    assert torch.allclose(out[True], out[False], atol=atol * scale)
    assert len(seen[True]) == len(seen[False]) == 5
    assert all(torch.allclose(a, b, atol=atol * scale * 10) for a, b in zip(seen[True], seen[False]))


def test_fused_loop_keeps_zero_bins_at_zero(monkeypatch):
    """Digital silence: sgn(0) = 0 as torch.sgn, never NaN, in the compiled projection."""
    mag = torch.zeros(1, 257, 20)
    mag[0, 10:20, 5:15] = 1.0
    y = fast_griffin_lim(mag, 10, CFG, init="zeros")
    assert torch.isfinite(y).all()
    assert y.abs().max() > 0
