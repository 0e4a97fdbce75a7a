"""Initialisation: Trabelsi's Rayleigh/uniform-phase law with the right variance, and unitary weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from cspec.errors import ConfigError
from cspec.nn import ComplexConv2d, ComplexLinear, complex_glorot_, complex_he_, unitary_


def _pair(*shape):
    return torch.empty(*shape), torch.empty(*shape)


def test_glorot_variance_and_laws():
    wr, wi = _pair(256, 128)
    complex_glorot_(wr, wi, generator=torch.Generator().manual_seed(1))
    w = torch.complex(wr.double(), wi.double())
    sigma = 1 / math.sqrt(256 + 128)
    # Var(W) = E|W|^2 = 2 sigma^2 = 2 / (fan_in + fan_out)   (Trabelsi et al. 2018, Sec. 3.6)
    assert abs((w.abs() ** 2).mean().item() / (2 / (256 + 128)) - 1) < 0.02
    assert abs(w.mean().item()) < 3 * math.sqrt(2 * sigma ** 2 / w.numel())
    assert stats.kstest(w.abs().numpy().ravel(), stats.rayleigh(scale=sigma).cdf).pvalue > 0.01
    assert stats.kstest(w.angle().numpy().ravel(), stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue > 0.01


def test_he_variance_on_a_conv_weight():
    wr, wi = _pair(64, 32, 3, 3)
    complex_he_(wr, wi, generator=torch.Generator().manual_seed(2))
    fan_in = 32 * 9
    var = (wr.double() ** 2 + wi.double() ** 2).mean().item()
    assert abs(var / (2 / fan_in) - 1) < 0.03  # He: Var(W) = 2 / fan_in
    # the reference code's bug (scale 1/fan_in without the square root) would give 2/fan_in^2, ~300x smaller
    assert var > 100 * 2 / fan_in ** 2


def test_layers_use_glorot_by_default():
    lin = ComplexLinear(200, 100)
    var = (lin.weight_real.double() ** 2 + lin.weight_imag.double() ** 2).mean().item()
    assert abs(var / (2 / 300) - 1) < 0.05
    conv = ComplexConv2d(16, 32, (5, 2))
    var = (conv.weight_real.double() ** 2 + conv.weight_imag.double() ** 2).mean().item()
    assert abs(var / (2 / (16 * 10 + 32 * 10)) - 1) < 0.05


@pytest.mark.parametrize("shape", [(8, 8), (4, 3, 2), (6, 4)])
def test_unitary(shape):
    wr, wi = _pair(*shape)
    unitary_(wr, wi)
    w = torch.complex(wr.double(), wi.double()).reshape(shape[0], -1)
    gram = w @ w.mH if w.shape[0] <= w.shape[1] else w.mH @ w
    np.testing.assert_allclose(gram.numpy(), np.eye(gram.shape[0]), atol=1e-5)


def test_unknown_scheme():
    with pytest.raises(ConfigError, match="glorot"):
        ComplexLinear(3, 3, init="xavier_complex")
