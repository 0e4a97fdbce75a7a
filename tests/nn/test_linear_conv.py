"""Linear and (transposed) convolutions against references written from the definition in complex arithmetic."""

from __future__ import annotations

import pytest
import torch

from cspec.errors import ConfigError
from cspec.nn import (ComplexConv1d, ComplexConv2d, ComplexConvTranspose1d, ComplexConvTranspose2d,
                      ComplexLinear)


def cw(layer):
    return torch.complex(layer.weight_real, layer.weight_imag)


def cb(layer):
    return torch.complex(layer.bias_real, layer.bias_imag)


def randomise_bias(layer):
    with torch.no_grad():
        layer.bias_real.normal_()
        layer.bias_imag.normal_()
    return layer


def zpad(x, left, right, dim):
    shape = list(x.shape)
    shape[dim] = left
    a = x.new_zeros(shape)
    shape[dim] = right
    return torch.cat([a, x, x.new_zeros(shape)], dim=dim)


def conv1d_ref(layer, x, pad_left, pad_right):
    """y[b,o,t] = sum_{c,k} W[o,c,k] x[b,c,t*s + k*d] + b[o] on the zero-padded input (groups=1)."""
    w, (s,), (d,) = cw(layer), layer.stride, layer.dilation
    x = zpad(x, pad_left, pad_right, -1)
    k = w.shape[-1]
    t_out = (x.shape[-1] - d * (k - 1) - 1) // s + 1
    y = sum(torch.einsum("oc,bct->bot", w[:, :, j], x[..., j * d: j * d + s * (t_out - 1) + 1: s]) for j in range(k))
    return y + cb(layer)[:, None]


def conv2d_ref(layer, x, pads):
    w, s, d = cw(layer), layer.stride, layer.dilation
    x = zpad(zpad(x, pads[0], pads[1], -2), pads[2], pads[3], -1)
    kf, kt = w.shape[-2:]
    f_out = (x.shape[-2] - d[0] * (kf - 1) - 1) // s[0] + 1
    t_out = (x.shape[-1] - d[1] * (kt - 1) - 1) // s[1] + 1
    y = 0
    for i in range(kf):
        for j in range(kt):
            xs = x[..., i * d[0]: i * d[0] + s[0] * (f_out - 1) + 1: s[0], j * d[1]: j * d[1] + s[1] * (t_out - 1) + 1: s[1]]
            y = y + torch.einsum("oc,bcft->boft", w[:, :, i, j], xs)
    return y + cb(layer)[:, None, None]


def convT1d_ref(layer, x):
    """y[b,o,t*s + k*d - p] += sum_c W[c,o,k] x[b,c,t]."""
    w, (s,), (d,), (p,), (op,) = cw(layer), layer.stride, layer.dilation, layer.padding, layer.output_padding
    k, t = w.shape[-1], x.shape[-1]
    full = torch.zeros(x.shape[0], w.shape[1], (t - 1) * s + d * (k - 1) + 1 + op, dtype=x.dtype)
    for j in range(k):
        full[..., j * d: j * d + s * (t - 1) + 1: s] += torch.einsum("co,bct->bot", w[:, :, j], x)
    return full[..., p: full.shape[-1] - p] + cb(layer)[:, None]


def convT2d_ref(layer, x):
    w, s, d, p = cw(layer), layer.stride, layer.dilation, layer.padding
    kf, kt = w.shape[-2:]
    f, t = x.shape[-2:]
    full = torch.zeros(x.shape[0], w.shape[1], (f - 1) * s[0] + d[0] * (kf - 1) + 1,
                       (t - 1) * s[1] + d[1] * (kt - 1) + 1, dtype=x.dtype)
    for i in range(kf):
        for j in range(kt):
            full[..., i * d[0]: i * d[0] + s[0] * (f - 1) + 1: s[0], j * d[1]: j * d[1] + s[1] * (t - 1) + 1: s[1]] += \
                torch.einsum("co,bcft->boft", w[:, :, i, j], x)
    return full[..., p[0]: full.shape[-2] - p[0], p[1]: full.shape[-1] - p[1]] + cb(layer)[:, None, None]


@pytest.mark.parametrize("method", ["block", "gauss"])
def test_linear_matches_definition(h, method):
    layer = randomise_bias(ComplexLinear(5, 3, method=method))
    z = h.crandn(2, 4, 5)
    h.compare(layer, lambda x: x @ cw(layer).T + cb(layer), [z])


@pytest.mark.parametrize("method", ["block", "gauss"])
def test_conv1d_matches_definition(h, method):
    layer = randomise_bias(ComplexConv1d(3, 4, 3, stride=2, padding=2, dilation=2, method=method))
    z = h.crandn(2, 3, 11)
    h.compare(layer, lambda x: conv1d_ref(layer, x, 2, 2), [z])


@pytest.mark.parametrize("method", ["block", "gauss"])
def test_conv2d_matches_definition(h, method):
    layer = randomise_bias(ComplexConv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 1), method=method))
    z = h.crandn(2, 2, 7, 6)
    h.compare(layer, lambda x: conv2d_ref(layer, x, (1, 1, 1, 1)), [z])


def test_conv2d_causal_pads_only_the_past(h):
    layer = randomise_bias(ComplexConv2d(2, 3, (5, 2), stride=(2, 1), padding=(2, 7), causal=True))
    z = h.crandn(1, 2, 8, 6)
    h.compare(layer, lambda x: conv2d_ref(layer, x, (2, 2, 1, 0)), [z])
    y = layer(z)
    z2 = z.detach().clone()
    z2[..., 4:] = 100.0
    y2 = layer(z2)
    assert y.shape[-1] == z.shape[-1]
    torch.testing.assert_close(y[..., :4], y2[..., :4])
    assert (y[..., 4:] - y2[..., 4:]).abs().min() > 0


def test_conv_groups_use_gauss_and_match_per_group(h):
    layer = randomise_bias(ComplexConv1d(4, 6, 3, groups=2, padding=1))
    assert layer.method == "gauss"
    z = h.crandn(2, 4, 9)

    def ref(x):
        w = cw(layer)
        outs = [torch.nn.functional.conv1d(x[:, 2 * g: 2 * g + 2], w[3 * g: 3 * g + 3], padding=1) for g in range(2)]
        return torch.cat(outs, 1) + cb(layer)[:, None]

    h.compare(layer, ref, [z])


@pytest.mark.parametrize("method", ["block", "gauss"])
def test_conv_transpose1d_matches_definition(h, method):
    layer = randomise_bias(ComplexConvTranspose1d(3, 2, 4, stride=2, padding=1, output_padding=1, dilation=1,
                                                  method=method))
    z = h.crandn(2, 3, 5)
    h.compare(layer, lambda x: convT1d_ref(layer, x), [z])


@pytest.mark.parametrize("method", ["block", "gauss"])
def test_conv_transpose2d_matches_definition(h, method):
    layer = randomise_bias(ComplexConvTranspose2d(3, 2, (3, 2), stride=(2, 1), padding=(1, 0), method=method))
    z = h.crandn(2, 3, 4, 5)
    h.compare(layer, lambda x: convT2d_ref(layer, x), [z])


def test_conv_transpose2d_causal_drops_future_frames(h):
    layer = randomise_bias(ComplexConvTranspose2d(2, 2, (3, 3), stride=(2, 1), padding=(1, 0), causal=True))
    z = h.crandn(1, 2, 4, 6)
    y = layer(z)
    full = convT2d_ref(layer, z)
    assert y.shape[-1] == 6 and full.shape[-1] == 8
    torch.testing.assert_close(y, full[..., :6], atol=1e-5, rtol=1e-5)
    z2 = z.detach().clone()
    z2[..., 3:] = 50.0
    torch.testing.assert_close(layer(z2)[..., :3], y[..., :3])


def test_block_and_gauss_agree(h):
    a = ComplexConv2d(3, 4, 3, padding=1, method="block")
    b = ComplexConv2d(3, 4, 3, padding=1, method="gauss")
    b.load_state_dict(a.state_dict())
    z = h.crandn(2, 3, 6, 6, requires_grad=False)
    torch.testing.assert_close(a(z), b(z), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("make,shape", [
    (lambda: ComplexLinear(3, 2), (2, 3)),
    (lambda: ComplexLinear(3, 2, method="gauss"), (2, 3)),
    (lambda: ComplexConv1d(2, 2, 3, stride=2, padding=1, causal=True), (1, 2, 5)),
    (lambda: ComplexConv2d(2, 2, (2, 2), padding=(1, 0), method="gauss"), (1, 2, 3, 3)),
    (lambda: ComplexConvTranspose1d(2, 2, 3, stride=2), (1, 2, 3)),
    (lambda: ComplexConvTranspose2d(2, 1, (2, 2), stride=(2, 1), causal=True), (1, 2, 2, 3)),
])
def test_gradcheck(h, make, shape):
    layer = make()
    h.gradcheck(layer, h.crandn(*shape, dtype=torch.complex128))


def test_errors_say_what_to_do():
    with pytest.raises(ConfigError, match="complex tensor"):
        ComplexLinear(3, 2)(torch.randn(2, 3))
    with pytest.raises(ConfigError, match="method"):
        ComplexLinear(3, 2, method="karatsuba")
    with pytest.raises(ConfigError, match="frames"):
        ComplexConv2d(1, 1, 3)(torch.randn(1, 4, 4, dtype=torch.cfloat))
