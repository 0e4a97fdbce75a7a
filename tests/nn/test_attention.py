"""Complex attention against a reference with native complex matmuls and the Hermitian product."""

from __future__ import annotations

import cmath

import pytest
import torch

from cspec.errors import ConfigError
from cspec.nn import ComplexMultiheadAttention, ComplexTransformerEncoderLayer


def lin(layer, x):
    return x @ torch.complex(layer.weight_real, layer.weight_imag).T + torch.complex(layer.bias_real, layer.bias_imag)


def mha_ref(m, q, k, v, key_padding_mask=None):
    b, n, e = q.shape
    hd = m.head_dim

    def heads(x):
        return x.view(b, x.shape[1], m.num_heads, hd).transpose(1, 2)

    qh, kh, vh = heads(lin(m.q_proj, q)), heads(lin(m.k_proj, k)), heads(lin(m.v_proj, v))
    s = torch.einsum("bhld,bhsd->bhls", qh, kh.conj()) / hd ** 0.5  # Hermitian inner product
    logits = s.real if m.score == "real" else s.abs()
    if key_padding_mask is not None:
        logits = logits.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
    a = torch.softmax(logits, -1).to(vh.dtype)
    out = (a @ vh).transpose(1, 2).reshape(b, n, e)
    return lin(m.out_proj, out)


def _random_bias(m):
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "bias" in name:
                p.normal_(0, 0.3)
    return m


@pytest.mark.parametrize("score", ["real", "abs"])
def test_self_attention_matches_reference(h, score):
    m = _random_bias(ComplexMultiheadAttention(8, 2, score=score))
    x = h.crandn(2, 5, 8)
    h.compare(m, lambda z: mha_ref(m, z, z, z), [x])


@pytest.mark.parametrize("score", ["real", "abs"])
def test_cross_attention_with_padding_mask(h, score):
    m = _random_bias(ComplexMultiheadAttention(6, 3, score=score))
    q, kv = h.crandn(2, 4, 6), h.crandn(2, 7, 6)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[0, 5:] = True
    h.compare(lambda a, b: m(a, b, b, key_padding_mask=pad), lambda a, b: mha_ref(m, a, b, b, pad), [q, kv],
              params=m.parameters())
    # padded keys have no influence
    kv2 = kv.detach().clone()
    kv2[0, 5:] = 100.0
    torch.testing.assert_close(m(q, kv2, kv2, key_padding_mask=pad)[0], m(q, kv, kv, key_padding_mask=pad)[0])


def test_global_phase_equivariance():
    """Re(Q K^H) is unchanged by a common phase, so without biases MHA(e^{j a} x) = e^{j a} MHA(x)."""
    m = ComplexMultiheadAttention(8, 2, bias=False)
    x = torch.randn(2, 5, 8, dtype=torch.complex64)
    rot = cmath.exp(0.7j)
    torch.testing.assert_close(m(x * rot), m(x) * rot, atol=1e-5, rtol=1e-5)


def test_encoder_layer_matches_composition(h):
    layer = ComplexTransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0).eval()
    _random_bias(layer)
    x = h.crandn(2, 5, 8)

    def ref(z):
        a = z + mha_ref(layer.self_attn, z, z, z)
        a = layer.norm1(a)
        f = lin(layer.linear1, a)
        f = torch.complex(torch.relu(f.real), torch.relu(f.imag))
        return layer.norm2(a + lin(layer.linear2, f))

    h.compare(layer, ref, [x], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("make", [
    lambda: ComplexMultiheadAttention(4, 2, score="real"),
    lambda: ComplexMultiheadAttention(4, 2, score="abs"),
    lambda: ComplexTransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, norm_first=True),
])
def test_gradcheck(h, make):
    h.gradcheck(_random_bias(make()), h.crandn(1, 3, 4, dtype=torch.complex128), fast=True)


def test_errors():
    with pytest.raises(ConfigError, match="multiple"):
        ComplexMultiheadAttention(6, 4)
    with pytest.raises(ConfigError, match="score"):
        ComplexMultiheadAttention(8, 2, score="phase")
