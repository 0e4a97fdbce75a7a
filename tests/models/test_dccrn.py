"""DCCRN-E/R/C/CL (Hu et al. 2020): shared checks, the paper's 3.7 M parameters, masks, exact look-ahead."""

import pytest
import torch

from cspec.models import build
from cspec.spectral.stft import stft

NAMES = ["dccrn-e", "dccrn-r", "dccrn-c", "dccrn-cl"]
SMALL = dict(channels=(4, 8, 8, 8, 8, 8), rnn_units=32)


@pytest.mark.parametrize("name", NAMES)
def test_paper_config(model_checks, name):
    model = build(name)
    n = model_checks.param_count_close(model, 3.7)  # Table 1: 3.7 M for every DCCRN
    assert n == pytest.approx(3.672 if name == "dccrn-cl" else 3.743, abs=1e-3)
    assert model.causal and model.lookahead() == 398
    model_checks.causal(model)


# E and CL at the paper's configuration; R and C are E's network with another mask, checked at a reduced one
@pytest.mark.parametrize("name, config", [("dccrn-e", {}), ("dccrn-cl", {}), ("dccrn-r", SMALL), ("dccrn-c", SMALL)])
def test_forward_backward(model_checks, name, config):
    out = model_checks.forward_backward(build(name, **config))
    assert out["spec"].shape == out["mask"].shape == (2, 257, 161)


@pytest.mark.parametrize("name", NAMES)
def test_overfit(model_checks, name):
    torch.manual_seed(0)
    model_checks.overfit(build(name, **SMALL), steps=60)


def test_lookahead_is_exact():
    """Worked by hand: a 400-sample periodic sqrt-Hann (w[0] = 0, w[1..399] > 0) centred on frame m spans samples
    m*100 - 199 ... m*100 + 199, so an input sample at m*100 + 199 (the last one frame m sees) reaches back to
    output m*100 - 199: 398 samples earlier, and never further."""
    torch.manual_seed(0)
    model = build("dccrn-cl", **SMALL).eval()
    x = 0.1 * torch.randn(1, 4000)
    for t0, first in ((2099, 1701), (2000, 1701), (2100, 1801)):
        y = x.clone()
        y[0, t0] += 10.0
        with torch.no_grad():
            d = (model(x)["wave"] - model(y)["wave"]).abs()[0]
        assert d[:first].max() == 0.0 and d[first] > 0.0, t0
    assert 2099 - 1701 == model.lookahead()


@pytest.mark.parametrize("mode", ["E", "R", "C"])
def test_masks_follow_the_paper(mode):
    """E: X = tanh(|O|) |Y| exp(j(angle(Y) + angle(O))), i.e. |M| < 1 scales |Y| and M rotates the phase;
    R: real and imaginary parts masked separately; C: X = M Y."""
    torch.manual_seed(2)
    model = build("dccrn-e", mask=mode, **SMALL).eval()
    wave = 0.3 * torch.randn(2, 3000)
    with torch.no_grad():
        out = model(wave)
    Y, M, X = stft(wave, model.stft_config), out["mask"], out["spec"]
    assert M.shape == Y.shape == X.shape and (M[:, 0] == 0).all()  # the DC bin is not estimated
    if mode == "E":
        assert M.abs().max() <= 1.0 + 1e-6
        torch.testing.assert_close(X.abs(), M.abs() * Y.abs(), rtol=1e-5, atol=1e-6)
        ok = (Y.abs() > 1e-3) & (M.abs() > 1e-3)
        rot = torch.polar(torch.ones_like(Y.abs()), Y.angle() + M.angle())
        torch.testing.assert_close(X[ok] / X[ok].abs(), rot[ok], rtol=1e-4, atol=1e-4)
    elif mode == "R":
        torch.testing.assert_close(X, torch.complex(Y.real * M.real, Y.imag * M.imag))
    else:
        torch.testing.assert_close(X, M * Y)
