"""Shared pieces of the generative tests: a tiny backbone, a call counter, and Gaussian data with known scores.

Gaussian data: for a fixed noisy ``y``, clean ``x0 ~ CN(mu, s^2)``. Every process is linear-Gaussian in ``x0``, so
the score of SGMSE+'s marginal, the bridge's posterior mean ``E[x0 | x_t]`` and the flow's marginal velocity
``E[u_t | x_t]`` are known in closed form; driven by them, a correct sampler returns ``CN(mu, s^2)``.
"""

import math
import types

import pytest
import torch
from torch import nn

MU, S, Y = 0.8 - 0.3j, 0.4, 0.1 + 0.5j


class TinyBackbone(nn.Module):
    """Two 3x3 convolutions with an additive time embedding; ``multiple = 4`` to exercise the padding."""

    multiple = 4

    def __init__(self, in_channels: int = 4, out_channels: int = 2, hidden: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, hidden, 3, padding=1)
        self.temb = nn.Linear(1, hidden)
        self.conv2 = nn.Conv2d(hidden, out_channels, 3, padding=1)

    def forward(self, x, t):
        assert x.shape[-2] % self.multiple == 0 and x.shape[-1] % self.multiple == 0, x.shape
        assert t.shape == (x.shape[0],), t.shape
        h = self.conv1(x) + self.temb(t.reshape(-1, 1).to(x.dtype))[..., None, None]
        return self.conv2(nn.functional.silu(h))


class Counting(nn.Module):
    """Wraps a backbone and counts its forward calls."""

    def __init__(self, net):
        super().__init__()
        self.net, self.calls, self.multiple = net, 0, net.multiple

    def forward(self, x, t):
        self.calls += 1
        return self.net(x, t)


@pytest.fixture
def tiny():
    return TinyBackbone


@pytest.fixture
def counting():
    return Counting


def _stats(x):
    """Complex sample mean and ``E|x - mean|^2`` of a tensor of samples."""
    m = x.mean()
    return complex(m), float((x - m).abs().pow(2).mean())


def _check_gaussian(x, mu=MU, s=S, k=4.0, bias=0.0):
    """Mean within ``k`` standard errors (``s / sqrt(n)`` for the complex mean) and ``E|x - m|^2 / s^2`` within
    ``k / sqrt(n)`` of 1 (``|z|^2`` of ``CN(0, 1)`` has variance 1), plus a stated discretisation allowance."""
    n = x.numel()
    m, v = _stats(x)
    assert abs(m - mu) < k * s / math.sqrt(n) + bias * s, (m, mu)
    assert abs(v / s ** 2 - 1) < k / math.sqrt(n) + bias, (v / s ** 2)


@pytest.fixture
def gauss():
    return types.SimpleNamespace(MU=MU, S=S, Y=Y, stats=_stats, check=_check_gaussian,
                                 y=lambda n: torch.full((1, n), Y, dtype=torch.complex64))
