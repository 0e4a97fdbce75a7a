"""Ideal masks on a real noisy/clean pair: formulas against NumPy, recovery of the target, bounds and optimality."""

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from cspec.audio import load
from cspec.errors import ConfigError
from cspec.spectral import get_preset, stft
from cspec.spectral.masks import (
    apply_mag_phase_mask,
    apply_mask,
    bounded_mask,
    cirm,
    cirm_compress,
    cirm_decompress,
    fft_mask,
    iam,
    ibm,
    ideal_bounded_mask,
    irm,
    mag_phase_mask,
    psm,
)

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


@pytest.fixture(scope="module")
def pair():
    """Clean S, noisy Y and noise N = Y - S of a VoiceBank+DEMAND pair (first second), MP-SENet STFT, float64."""
    name = "vbd_train_p287_001.flac"
    s, _ = load(DATA / "dev_pairs" / "clean" / name, mono=True)
    y, _ = load(DATA / "dev_pairs" / "noisy" / name, mono=True)
    cfg = get_preset("mpsenet")
    S, Y = stft(s[0, :16000].double(), cfg), stft(y[0, :16000].double(), cfg)
    return S, Y, Y - S


def test_ibm_and_irm_against_numpy(pair):
    S, _, N = pair
    s, n = S.numpy(), N.numpy()
    snr = 20 * np.log10(np.abs(s) / np.abs(n))
    for lc in (-5.0, 0.0, 3.0):
        m = ibm(S, N, threshold_db=lc)
        assert set(torch.unique(m).tolist()) <= {0.0, 1.0}
        assert np.array_equal(m.numpy(), (snr > lc).astype(float))
    ref = (np.abs(s) ** 2 / (np.abs(s) ** 2 + np.abs(n) ** 2)) ** 0.5
    assert np.allclose(irm(S, N).numpy(), ref, atol=1e-12)
    total = irm(S, N) ** 2 + irm(N, S) ** 2  # with beta = 0.5 the speech and noise IRMs' squares sum to 1
    assert torch.allclose(total, torch.ones_like(total))
    assert torch.allclose(irm(S, N, beta=1.0), irm(S, N) ** 2)


def test_iam_restores_the_clean_magnitude_exactly(pair):
    S, Y, _ = pair
    m = iam(S, Y)
    assert fft_mask is iam
    assert np.allclose(m.numpy(), np.abs(S.numpy()) / np.abs(Y.numpy()), rtol=1e-12)
    assert torch.allclose(apply_mask(Y, m).abs(), S.abs(), rtol=1e-12, atol=1e-12)
    assert torch.allclose(apply_mask(Y, m).angle(), Y.angle())  # noisy phase kept
    assert iam(S, Y, max_value=2.0).max() <= 2.0


def test_psm_is_the_best_real_mask_within_its_truncation(pair):
    S, Y, _ = pair
    s, y = S.numpy(), Y.numpy()
    ref = np.abs(s) / np.abs(y) * np.cos(np.angle(s) - np.angle(y))  # Erdogan et al. 2015, eq. 9
    raw = psm(S, Y, truncate=None)
    assert np.allclose(raw.numpy(), ref, atol=1e-10)
    err = (S - apply_mask(Y, raw)).abs()  # the orthogonal residual |S| |sin(theta_S - theta_Y)|
    assert np.allclose(err.numpy(), np.abs(s) * np.abs(np.sin(np.angle(s) - np.angle(y))), atol=1e-9)
    m = psm(S, Y)
    assert m.min() >= 0 and m.max() <= 1
    grid = torch.linspace(0, 1, 1001, dtype=torch.float64)  # brute force over real masks in [0, 1], 500 bins
    Sf, Yf, mf = S.flatten()[:500], Y.flatten()[:500], m.flatten()[:500]
    best = (Sf[:, None] - grid[None] * Yf[:, None]).abs().min(dim=1).values
    ours = (Sf - mf * Yf).abs()
    assert (ours <= best + 1e-12).all()


def test_cirm_formula_compression_and_exact_recovery(pair):
    S, Y, _ = pair
    K, C = 10.0, 0.1
    M = cirm(S, Y, compress=False)
    assert np.allclose(M.numpy(), S.numpy() / Y.numpy(), rtol=1e-10)
    Mc = cirm(S, Y)
    x = M.real.numpy()
    assert np.allclose(Mc.real.numpy(), K * (1 - np.exp(-C * x)) / (1 + np.exp(-C * x)), atol=1e-12)  # eq. 9
    assert Mc.real.abs().max() < K and Mc.imag.abs().max() < K
    back = cirm_decompress(Mc, K, C)
    xc = Mc.imag.numpy()
    assert np.allclose(back.imag.numpy(), -(1 / C) * np.log((K - xc) / (K + xc)), atol=1e-9)  # stated inverse
    ok = (M.real.abs() < 100) & (M.imag.abs() < 100)  # decompression is clipped at |part| ~ 145 (K bound)
    assert ok.float().mean() > 0.999
    assert torch.allclose(apply_mask(Y, back)[ok], S[ok], rtol=1e-12, atol=1e-14)
    # float32, as a network would use it: ~1e-5 of the bin where the compressed mask is below 0.9 K
    S32, Y32 = S.to(torch.complex64), Y.to(torch.complex64)
    Mc32 = cirm(S32, Y32)
    ok32 = (Mc32.real.abs() < 0.9 * K) & (Mc32.imag.abs() < 0.9 * K)
    rec = apply_mask(Y32, cirm_decompress(Mc32))
    rel = ((rec - S32).abs() / S32.abs().clamp_min(1e-6))[ok32 & (S32.abs() > 1e-4)]
    assert rel.max() < 1e-5  # measured 3.3e-7


def test_cirm_compression_round_trip_and_saturation():
    torch.manual_seed(0)
    M = torch.randn(1000, dtype=torch.complex128) * 20
    assert torch.allclose(cirm_decompress(cirm_compress(M)), M, atol=1e-9)
    sat = cirm_decompress(torch.tensor([10.0 + 12.0j, -10.0 + 0j], dtype=torch.complex64))
    assert torch.isfinite(torch.view_as_real(sat)).all()
    assert sat[0].real == pytest.approx(20 * math.atanh(1 - 2**-20), rel=1e-3)


def test_bounded_masks_formulas_and_bounds():
    torch.manual_seed(0)
    O = torch.randn(4, 33, 10, dtype=torch.complex128) * 3
    o = O.numpy()
    assert torch.equal(bounded_mask(O, "UBD"), O)
    bdss = bounded_mask(O, "bdss")
    assert np.allclose(bdss.numpy(), 1 / (1 + np.exp(-o.real)) + 1j / (1 + np.exp(-o.imag)), atol=1e-14)
    assert bdss.real.min() >= 0 and bdss.real.max() <= 1 and bdss.imag.min() >= 0 and bdss.imag.max() <= 1
    bdt = bounded_mask(O, "BDT")
    assert np.allclose(bdt.numpy(), np.tanh(np.abs(o)) * o / np.abs(o), atol=1e-14)
    assert bdt.abs().max() <= 1 and torch.allclose(bdt.angle(), O.angle())
    tiny = torch.tensor([0j, 1e-6 + 1e-6j, 1e-3j], dtype=torch.complex128, requires_grad=True)
    out = bounded_mask(tiny, "BDT")
    assert torch.allclose(out, torch.tanh(tiny.abs()) * tiny / tiny.abs().clamp_min(1e-300), atol=1e-15)
    out.abs().sum().backward()
    assert torch.isfinite(torch.view_as_real(tiny.grad)).all()
    with pytest.raises(ConfigError, match="BDT"):
        bounded_mask(O, "tanh")


@pytest.mark.parametrize("kind", ["BDT", "BDSS", "UBD"])
def test_ideal_bounded_mask_is_the_best_achievable(pair, kind):
    S, Y, _ = pair
    m = ideal_bounded_mask(S, Y, kind)
    M = cirm(S, Y, compress=False)
    if kind == "BDT":
        assert m.abs().max() <= 1 + 1e-12
        inside = M.abs() < 1
    elif kind == "BDSS":
        assert m.real.min() >= 0 and m.real.max() <= 1 and m.imag.min() >= 0 and m.imag.max() <= 1
        inside = (M.real >= 0) & (M.real <= 1) & (M.imag >= 0) & (M.imag <= 1)
    else:
        inside = torch.ones_like(M.real, dtype=torch.bool)
    assert torch.allclose(m[inside], M[inside])  # the unbounded optimum where it is reachable
    err = (S - apply_mask(Y, m)).abs()
    torch.manual_seed(1)
    for _ in range(20):  # no mask the family can output does better in any bin
        cand = bounded_mask(torch.randn_like(S) * 2, kind)
        assert (err <= (S - apply_mask(Y, cand)).abs() + 1e-12).all()
    if kind == "BDT":  # and the family reaches it: the raw output atanh(|m|) m/|m| gives m back
        r = m.abs().clamp(max=1 - 1e-9)
        raw = torch.atanh(r) * torch.exp(1j * m.angle())
        assert torch.allclose(bounded_mask(raw, "BDT"), m, atol=1e-8)


def test_mag_phase_mask_recovers_the_target(pair):
    S, Y, _ = pair
    mag, ph = mag_phase_mask(S, Y)
    assert ph.abs().max() <= math.pi
    assert torch.allclose(apply_mag_phase_mask(Y, mag, ph), S, rtol=1e-9, atol=1e-12)


def test_zero_bins_give_zero_masks_and_finite_gradients():
    S = torch.zeros(2, 5, 3, dtype=torch.complex64, requires_grad=True)
    Y = torch.zeros(2, 5, 3, dtype=torch.complex64, requires_grad=True)
    masks = [irm(S, Y - S), iam(S, Y), psm(S, Y), cirm(S, Y).abs(), ideal_bounded_mask(S, Y).abs(), ibm(S, Y - S)]
    masks += list(mag_phase_mask(S, Y))
    total = sum(m.sum() for m in masks)
    assert all(torch.equal(m, torch.zeros_like(m)) for m in masks)
    total.backward()
    assert torch.isfinite(torch.view_as_real(S.grad)).all() and torch.isfinite(torch.view_as_real(Y.grad)).all()


def test_apply_mask_broadcasts_and_checks_shapes():
    torch.manual_seed(0)
    Y = torch.randn(2, 3, 33, 10, dtype=torch.complex64)
    m = torch.rand(33, 10)
    assert torch.equal(apply_mask(Y, m), Y * m)
    cm = torch.randn(2, 1, 33, 10, dtype=torch.complex64)
    assert torch.allclose(apply_mask(Y, cm)[:, 2], Y[:, 2] * cm[:, 0])
    with pytest.raises(ConfigError, match="broadcast"):
        apply_mask(Y, torch.rand(32, 10))
    with pytest.raises(ConfigError, match="complex"):
        apply_mask(Y.abs(), m)
