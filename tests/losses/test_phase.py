"""Anti-wrapping phase losses: the anti-wrapping function, invariances and hand-worked values."""

import math

import pytest
import torch

from cspec.errors import ConfigError
from cspec.losses import AntiWrappingPhaseLoss, anti_wrapping_phase_loss, phase_terms
from cspec.losses.phase import anti_wrap
from cspec.losses.phase import _as_phase as _phase_of

TWO_PI = 2 * math.pi


def _phase(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * math.pi


def test_anti_wrap_is_abs_on_principal_interval_and_periodic():
    x = torch.linspace(-math.pi + 1e-6, math.pi, 2001, dtype=torch.float64)
    torch.testing.assert_close(anti_wrap(x), x.abs(), atol=1e-12, rtol=0)
    for k in (-3, -1, 1, 2, 5):
        torch.testing.assert_close(anti_wrap(x + k * TWO_PI), x.abs(), atol=1e-11, rtol=0)
    # a few values by hand: 3*pi/2 is pi/2 away from 2*pi; -5*pi/4 is 3*pi/4 away from -2*pi
    vals = anti_wrap(torch.tensor([1.5 * math.pi, -1.25 * math.pi, 4 * math.pi], dtype=torch.float64))
    torch.testing.assert_close(vals, torch.tensor([0.5 * math.pi, 0.75 * math.pi, 0.0], dtype=torch.float64))


def test_zero_for_identical_and_invariant_to_two_pi():
    ref = _phase(2, 9, 7)
    for term in phase_terms(ref.clone(), ref):
        assert torch.all(term == 0)
    est = _phase(2, 9, 7, seed=1)
    base = anti_wrapping_phase_loss(est, ref)
    assert torch.all(base > 0)
    torch.testing.assert_close(anti_wrapping_phase_loss(est + TWO_PI, ref), base, atol=1e-12, rtol=0)
    # any whole number of turns in any bin
    g = torch.Generator().manual_seed(2)
    turns = torch.randint(-4, 5, est.shape, generator=g).double()
    torch.testing.assert_close(anti_wrapping_phase_loss(est + TWO_PI * turns, ref), base, atol=1e-11, rtol=0)


def test_hand_worked_terms():
    ref = _phase(1, 6, 5)
    # constant offset 0.5: IP = 0.5, and the differences along frequency and time cancel
    ip, gd, iaf = phase_terms(ref + 0.5, ref)
    assert ip.item() == pytest.approx(0.5)
    assert gd.item() == pytest.approx(0.0, abs=1e-12)
    assert iaf.item() == pytest.approx(0.0, abs=1e-12)
    # offset 3*pi/2 is pi/2 away once wrapped
    assert phase_terms(ref + 1.5 * math.pi, ref)[0].item() == pytest.approx(0.5 * math.pi)
    # a ramp of a per frame: IAF = a everywhere, GD = 0, IP = mean over frames m = 0..4 of |wrap(a m)|
    a = 1.0
    m = torch.arange(5, dtype=torch.float64)
    ip, gd, iaf = phase_terms(ref + a * m, ref)
    assert iaf.item() == pytest.approx(a)
    assert gd.item() == pytest.approx(0.0, abs=1e-12)
    wrapped = [0.0, 1.0, 2.0, 3.0, 2 * math.pi - 4.0]  # |wrap(m)| for m = 0..4 (only 4 > pi wraps)
    assert ip.item() == pytest.approx(sum(wrapped) / 5)
    # a ramp of b per bin: GD = b, IAF = 0
    k = torch.arange(6, dtype=torch.float64)[:, None]
    ip, gd, iaf = phase_terms(ref + 0.25 * k, ref)
    assert gd.item() == pytest.approx(0.25)
    assert iaf.item() == pytest.approx(0.0, abs=1e-12)


def test_complex_input_and_module():
    ref, est = _phase(2, 8, 6), _phase(2, 8, 6, seed=3)
    mag = torch.rand(2, 8, 6, dtype=torch.float64) + 0.5
    X, Y = torch.polar(mag, est), torch.polar(2 * mag, ref)
    torch.testing.assert_close(anti_wrapping_phase_loss(X, Y), anti_wrapping_phase_loss(est, ref), atol=1e-12, rtol=0)
    loss = AntiWrappingPhaseLoss(weights=(1.0, 2.0, 3.0))(est, ref)
    ip, gd, iaf = phase_terms(est, ref)
    torch.testing.assert_close(loss, (ip + 2 * gd + 3 * iaf).mean())


def test_phase_user_errors():
    with pytest.raises(ConfigError, match="one shape"):
        anti_wrapping_phase_loss(_phase(2, 8, 6), _phase(2, 8, 5))
    with pytest.raises(ConfigError, match="at least 2"):
        anti_wrapping_phase_loss(_phase(2, 8, 1), _phase(2, 8, 1))
    with pytest.raises(ConfigError, match="three numbers"):
        AntiWrappingPhaseLoss(weights=(1.0, 1.0))


def test_digital_silence_gives_finite_gradients():
    """A spectrogram with exact zeros (silent gaps in clean speech) once made every step's gradient NaN (torch.angle
    near 0), and the training engine skipped those steps; such bins now count with angle 0 and no gradient."""
    est = torch.randn(1, 6, 5, dtype=torch.complex64)
    est[..., 2:] = 0
    est[..., 3] = 1e-24  # the rounding around silence: |z|^2 underflows, torch.angle's gradient is NaN
    est.requires_grad_(True)
    ref = torch.randn(1, 6, 5, dtype=torch.complex64)
    loss = AntiWrappingPhaseLoss()(est, ref)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(torch.view_as_real(est.grad)).all()
    assert torch.view_as_real(est.grad)[..., 2:, :].abs().max() == 0
    nonzero = est.detach()[..., :2]
    torch.testing.assert_close(_phase_of(est.detach())[..., :2], torch.angle(nonzero))


def test_compressed_loss_has_finite_gradients_near_silence():
    """|X|**(c-1)'s gradient overflowed float32 on bins of ~1e-30 (rounding around digital silence): NaN steps."""
    from cspec.losses import build

    est = torch.randn(1, 6, 5, dtype=torch.complex64)
    est[..., 2] = 1e-30
    est[..., 3] = 0
    est.requires_grad_(True)
    loss = build("compressed_spectral")(est, torch.randn(1, 6, 5, dtype=torch.complex64))
    loss.backward()
    assert torch.isfinite(torch.view_as_real(est.grad)).all()
