"""Complex LSTM/GRU against step-by-step references written from the equations."""

from __future__ import annotations

import pytest
import torch

from cspec.errors import ConfigError
from cspec.nn import ComplexGRU, ComplexLSTM


def csig(a):
    return torch.complex(torch.sigmoid(a.real), torch.sigmoid(a.imag))


def ctanh(a):
    return torch.complex(torch.tanh(a.real), torch.tanh(a.imag))


def real_rnn_ref(rnn, x, layer_suffix, mode):
    """One direction of a real PyTorch LSTM/GRU layer written out (gates i,f,g,o / r,z,n)."""
    w_ih, w_hh = getattr(rnn, "weight_ih_l0" + layer_suffix), getattr(rnn, "weight_hh_l0" + layer_suffix)
    b_ih, b_hh = getattr(rnn, "bias_ih_l0" + layer_suffix), getattr(rnn, "bias_hh_l0" + layer_suffix)
    hs = rnn.hidden_size
    h = x.new_zeros(x.shape[0], hs)
    c = x.new_zeros(x.shape[0], hs)
    steps = range(x.shape[1] - 1, -1, -1) if layer_suffix else range(x.shape[1])
    out = [None] * x.shape[1]
    for t in steps:
        gi, gh = x[:, t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if mode == "LSTM":
            i, f, g, o = (gi + gh).split(hs, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:
            r = torch.sigmoid(gi[:, :hs] + gh[:, :hs])
            z = torch.sigmoid(gi[:, hs:2 * hs] + gh[:, hs:2 * hs])
            n = torch.tanh(gi[:, 2 * hs:] + r * gh[:, 2 * hs:])
            h = (1 - z) * n + z * h
        out[t] = h
    return torch.stack(out, 1)


def dccrn_ref(model, z):
    """Hu et al. (2020) eq. (3): (F_rr - F_ii) + j (F_ri + F_ir), layer after layer."""
    for layer in model.layers:
        suffixes = ["", "_reverse"] if model.bidirectional else [""]

        def run(rnn, x):
            return torch.cat([real_rnn_ref(rnn, x, s, model._mode) for s in suffixes], -1)

        f_rr, f_ir = run(layer.rnn_r, z.real), run(layer.rnn_r, z.imag)
        f_ri, f_ii = run(layer.rnn_i, z.real), run(layer.rnn_i, z.imag)
        z = torch.complex(f_rr - f_ii, f_ri + f_ir)
    return z


def full_ref(model, z):
    """The complex LSTM/GRU equations in complex arithmetic with split sigmoid/tanh."""
    for layer in model.layers:
        outs = []
        for d in range(layer.dirs):
            w_ih = torch.complex(layer.weight_ih[d, 0], layer.weight_ih[d, 1])
            w_hh = torch.complex(layer.weight_hh[d, 0], layer.weight_hh[d, 1])
            b_ih = torch.complex(layer.bias_ih[d, 0], layer.bias_ih[d, 1])
            b_hh = torch.complex(layer.bias_hh[d, 0], layer.bias_hh[d, 1])
            hs = layer.hidden_size
            h = z.new_zeros(z.shape[0], hs)
            c = z.new_zeros(z.shape[0], hs)
            steps = range(z.shape[1] - 1, -1, -1) if d else range(z.shape[1])
            out = [None] * z.shape[1]
            for t in steps:
                gi, gh = z[:, t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
                if model._mode == "LSTM":
                    i, f, g, o = (gi + gh).split(hs, -1)
                    c = csig(f) * c + csig(i) * ctanh(g)
                    h = csig(o) * ctanh(c)
                else:
                    r = csig(gi[:, :hs] + gh[:, :hs])
                    u = csig(gi[:, hs:2 * hs] + gh[:, hs:2 * hs])
                    n = ctanh(gi[:, 2 * hs:] + r * gh[:, 2 * hs:])
                    h = (1 - u) * n + u * h
                out[t] = h
            outs.append(torch.stack(out, 1))
        z = torch.cat(outs, -1)
    return z


def _randomise(model):
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.4)
    return model


@pytest.mark.parametrize("cls", [ComplexLSTM, ComplexGRU])
@pytest.mark.parametrize("form,ref", [("dccrn", dccrn_ref), ("full", full_ref)])
def test_matches_equations(h, cls, form, ref):
    model = _randomise(cls(3, 4, num_layers=2, bidirectional=True, form=form))
    z = h.crandn(2, 5, 3)
    out = model(z)[0]
    torch.testing.assert_close(out, ref(model, z), atol=1e-5, rtol=1e-5)
    c = torch.randn(out.shape, dtype=out.dtype)
    leaves = [z, *model.parameters()]
    g = torch.autograd.grad((out * c.conj()).real.sum(), leaves)
    g_ref = torch.autograd.grad((ref(model, z) * c.conj()).real.sum(), leaves)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", [ComplexLSTM, ComplexGRU])
@pytest.mark.parametrize("form", ["dccrn", "full"])
def test_streaming_with_state_equals_one_pass(h, cls, form):
    model = cls(3, 4, num_layers=2, form=form)
    z = h.crandn(2, 9, 3, requires_grad=False)
    whole, state = model(z)
    first, st = model(z[:, :4])
    second, st = model(z[:, 4:], st)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=1e-6, rtol=1e-5)
    for a, b in zip(state if isinstance(state, tuple) else (state,), st if isinstance(st, tuple) else (st,)):
        assert a.is_complex() and a.shape == (2 * model.state_rows, 2, 4)
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("cls", [ComplexLSTM, ComplexGRU])
@pytest.mark.parametrize("form", ["dccrn", "full"])
def test_gradcheck(h, cls, form):
    model = cls(2, 2, num_layers=1, bidirectional=True, form=form)
    h.gradcheck(model, h.crandn(1, 3, 2, dtype=torch.complex128), fast=True)


def test_bad_state_is_explained():
    model = ComplexLSTM(3, 4, form="full")
    z = torch.randn(2, 5, 3, dtype=torch.complex64)
    with pytest.raises(ConfigError, match="shape"):
        model(z, (torch.zeros(2, 2, 4, dtype=torch.complex64),) * 2)
    with pytest.raises(ConfigError, match="form"):
        ComplexGRU(3, 4, form="quaternion")
