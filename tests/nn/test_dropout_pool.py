"""Dropout with one mask, average and magnitude max pooling, and the representation conversions."""

from __future__ import annotations

import pytest
import torch

from cspec.errors import ConfigError
from cspec.nn import (ComplexAvgPool1d, ComplexAvgPool2d, ComplexDropout, ComplexMaxPool1d, ComplexMaxPool2d,
                      from_channels, from_real_pair, to_channels, to_real_pair)


def test_dropout_one_mask_for_both_parts():
    d = ComplexDropout(0.3).train()
    z = torch.randn(64, 8, 32, dtype=torch.complex64)
    y = d(z)
    dropped = y == 0
    assert torch.equal(y.real == 0, dropped) and torch.equal(y.imag == 0, dropped)
    assert abs(dropped.float().mean().item() - 0.3) < 0.02
    torch.testing.assert_close(y[~dropped], z[~dropped] / 0.7)
    # phase of kept units unchanged
    torch.testing.assert_close(y[~dropped].angle(), z[~dropped].angle())
    assert torch.equal(d.eval()(z), z)


def test_channelwise_dropout_drops_whole_channels():
    d = ComplexDropout(0.5, channelwise=True).train()
    y = d(torch.randn(16, 8, 4, 4, dtype=torch.complex64) + 3)
    per_channel = (y == 0).flatten(2)
    assert torch.equal(per_channel.all(-1), per_channel.any(-1))
    assert per_channel.all(-1).any() and not per_channel.all(-1).all()


def test_avg_pool_matches_windows(h):
    z = h.crandn(2, 3, 9)
    h.compare(ComplexAvgPool1d(3, 2), lambda x: x.unfold(-1, 3, 2).mean(-1), [z])
    z2 = h.crandn(1, 2, 6, 8)
    h.compare(ComplexAvgPool2d((2, 4), (2, 4)), lambda x: x.unfold(-2, 2, 2).unfold(-2, 4, 4).mean((-1, -2)), [z2])


def _max_by_modulus(windows):
    idx = windows.abs().argmax(-1, keepdim=True)
    return windows.gather(-1, idx).squeeze(-1)


def test_max_pool_keeps_largest_modulus(h):
    z = h.crandn(2, 3, 10)
    h.compare(ComplexMaxPool1d(3, 2), lambda x: _max_by_modulus(x.unfold(-1, 3, 2)), [z])
    z2 = h.crandn(1, 2, 4, 6)
    ref2 = lambda x: _max_by_modulus(x.unfold(-2, 2, 2).unfold(-2, 3, 3).flatten(-2))  # noqa: E731
    h.compare(ComplexMaxPool2d((2, 3)), ref2, [z2])
    # a small-real-part, large-modulus entry wins over a large-real-part one
    x = torch.tensor([[[3 + 0j, 0.5 + 4j]]])
    assert ComplexMaxPool1d(2)(x).item() == 0.5 + 4j


@pytest.mark.parametrize("make,shape", [(lambda: ComplexAvgPool2d(2), (1, 1, 4, 4)),
                                        (lambda: ComplexMaxPool1d(2), (1, 2, 4))])
def test_gradcheck(h, make, shape):
    h.gradcheck(make(), h.crandn(*shape, dtype=torch.complex128))


def test_conversions_round_trip():
    z = torch.randn(2, 3, 5, dtype=torch.complex64)
    pair = to_real_pair(z)
    assert pair.shape == (2, 3, 5, 2) and torch.equal(pair[..., 1], z.imag)
    assert torch.equal(from_real_pair(pair), z)
    ch = to_channels(z, dim=1)
    assert ch.shape == (2, 6, 5) and torch.equal(ch[:, 3:], z.imag) and torch.equal(ch[:, :3], z.real)
    assert torch.equal(from_channels(ch, dim=1), z)
    with pytest.raises(ConfigError, match="even"):
        from_channels(torch.randn(2, 5, 3))
    with pytest.raises(ConfigError, match="size 2"):
        from_real_pair(torch.randn(2, 3))
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        ComplexDropout(1.0)
