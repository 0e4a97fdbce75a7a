"""The DCCRN-size complex encoder of benchmarks/complex_layers.py in each implementation it compares.

Implementations (same weights, copied from the cspec model; outputs compared):

* ``cspec``        -- cspec.nn with its defaults: ``method="auto"`` convolutions (block real convolution for the
                      first layer, Gauss's 3-multiplication trick for the others), DCCRN-form LSTM with each real
                      LSTM run once on [re; im].
* ``cspec-block``  -- the same with block real convolutions everywhere (one real conv per complex conv).
* ``cspec-gauss``  -- the same with Gauss's 3-multiplication convolutions everywhere.
* ``native``       -- PyTorch native complex ``nn.Conv2d(dtype=complex64)``; PyTorch has no complex LSTM, so two
                      real ``nn.LSTM`` applied four times (the DCCRN reference code's way).
* ``asteroid``     -- ``asteroid.complex_nn.ComplexConv2d`` and ``ComplexMultiplicationWrapper`` around
                      ``nn.LSTM`` (what ``ComplexSingleRNN`` does); skipped if asteroid is not installed.
* ``cplxmodule``   -- ``cplxmodule.nn.CplxConv2d`` on its ``Cplx`` type; it has no recurrent layer, so the LSTM
                      part is the ``native`` one; skipped if cplxmodule is not installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cspec.nn import ComplexConv2d, ComplexLSTM, ComplexModule, ComplexSequential, CReLU

IMPLS = ("cspec", "cspec-block", "cspec-gauss", "native", "asteroid", "cplxmodule")
CHANNELS = (16, 32, 64, 128, 128, 128)
HIDDEN = 128
N_FREQ = 256


class CspecEncoder(ComplexModule):
    def __init__(self, method: str = "auto") -> None:
        super().__init__()
        layers, c_in = [], 1
        for c in CHANNELS:
            layers += [ComplexConv2d(c_in, c, (5, 2), stride=(2, 1), padding=(2, 0), causal=True, method=method),
                       CReLU()]
            c_in = c
        self.convs = ComplexSequential(*layers)
        self.lstm = ComplexLSTM(CHANNELS[-1] * N_FREQ // 64, HIDDEN, num_layers=2, form="dccrn")

    def forward_pair(self, re, im):
        re, im = self.convs.forward_pair(re, im)
        b, c, f, t = re.shape
        re, im = (x.reshape(b, c * f, t).transpose(1, 2) for x in (re, im))
        return self.lstm.forward_pair(re, im)


def _cspec_convs(ref: CspecEncoder):
    return [m for m in ref.convs.layers if isinstance(m, ComplexConv2d)]


def _lstm_pairs(ref: CspecEncoder):
    return [(layer.rnn_r, layer.rnn_i) for layer in ref.lstm.layers]


def _split_relu(z):
    return torch.complex(torch.relu(z.real), torch.relu(z.imag))


def _dccrn_lstm(pairs, z):
    """Two real LSTMs per layer, applied four times (DCCRN's reference code)."""
    for rnn_r, rnn_i in pairs:
        f_rr, f_ir = rnn_r(z.real)[0], rnn_r(z.imag)[0]
        f_ri, f_ii = rnn_i(z.real)[0], rnn_i(z.imag)[0]
        z = torch.complex(f_rr - f_ii, f_ri + f_ir)
    return z


def _to_sequence(z):
    b, c, f, t = z.shape
    return z.reshape(b, c * f, t).transpose(1, 2)


class NativeEncoder(nn.Module):
    def __init__(self, ref: CspecEncoder) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        for m in _cspec_convs(ref):
            conv = nn.Conv2d(m.in_channels, m.out_channels, (5, 2), (2, 1), (2, 0), dtype=torch.complex64)
            with torch.no_grad():
                conv.weight.copy_(torch.complex(m.weight_real, m.weight_imag))
                conv.bias.copy_(torch.complex(m.bias_real, m.bias_imag))
            self.convs.append(conv)
        self.rnns = nn.ModuleList([nn.ModuleList(p) for p in _lstm_pairs(ref)])

    def forward(self, z):
        for conv in self.convs:
            z = _split_relu(conv(F.pad(z, (1, 0))))
        return _dccrn_lstm(self.rnns, _to_sequence(z))


def _load_asteroid_complex_nn():
    """asteroid.complex_nn without importing asteroid/__init__ (which pulls in lightning, hub clients ...)."""
    spec = importlib.util.find_spec("asteroid")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("asteroid is not installed (pip install 'cspec[bench]')")
    path = Path(list(spec.submodule_search_locations)[0]) / "complex_nn.py"
    mod_spec = importlib.util.spec_from_file_location("asteroid_complex_nn", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod


class _LSTMOut(nn.LSTM):
    def forward(self, x):  # noqa: D401 - what asteroid's SingleRNN does: the output sequence only
        return super().forward(x)[0]


class AsteroidEncoder(nn.Module):
    def __init__(self, ref: CspecEncoder) -> None:
        super().__init__()
        cnn = _load_asteroid_complex_nn()
        self.relu = cnn.on_reim(torch.relu)
        self.convs = nn.ModuleList()
        for m in _cspec_convs(ref):
            conv = cnn.ComplexConv2d(m.in_channels, m.out_channels, (5, 2), (2, 1), (2, 0))
            with torch.no_grad():  # re(out) = re_mod(x.re) - im_mod(x.im), im(out) = re_mod(x.im) + im_mod(x.re)
                conv.re_module.weight.copy_(m.weight_real)
                conv.im_module.weight.copy_(m.weight_imag)
                conv.re_module.bias.copy_((m.bias_real + m.bias_imag) / 2)
                conv.im_module.bias.copy_((m.bias_imag - m.bias_real) / 2)
            self.convs.append(conv)
        self.rnns = nn.ModuleList()
        for rnn_r, rnn_i in _lstm_pairs(ref):
            w = cnn.ComplexMultiplicationWrapper(_LSTMOut, rnn_r.input_size, rnn_r.hidden_size, batch_first=True)
            w.re_module.load_state_dict(rnn_r.state_dict())
            w.im_module.load_state_dict(rnn_i.state_dict())
            self.rnns.append(w)

    def forward(self, z):
        for conv in self.convs:
            z = self.relu(conv(F.pad(z, (1, 0))))
        z = _to_sequence(z)
        for rnn in self.rnns:
            z = rnn(z)
        return z


class CplxmoduleEncoder(nn.Module):
    def __init__(self, ref: CspecEncoder) -> None:
        super().__init__()
        from cplxmodule import Cplx
        from cplxmodule.nn import CplxConv2d

        self.Cplx = Cplx
        self.convs = nn.ModuleList()
        for m in _cspec_convs(ref):
            conv = CplxConv2d(m.in_channels, m.out_channels, (5, 2), (2, 1), (2, 0))
            with torch.no_grad():
                conv.weight.real.copy_(m.weight_real)
                conv.weight.imag.copy_(m.weight_imag)
                conv.bias.real.copy_(m.bias_real)
                conv.bias.imag.copy_(m.bias_imag)
            self.convs.append(conv)
        self.rnns = nn.ModuleList([nn.ModuleList(p) for p in _lstm_pairs(ref)])

    def forward(self, z):
        x = self.Cplx(F.pad(z.real, (1, 0)), F.pad(z.imag, (1, 0)))
        for i, conv in enumerate(self.convs):
            x = conv(x)
            x = self.Cplx(torch.relu(x.real), torch.relu(x.imag))
            if i + 1 < len(self.convs):
                x = self.Cplx(F.pad(x.real, (1, 0)), F.pad(x.imag, (1, 0)))
        return _dccrn_lstm(self.rnns, _to_sequence(torch.complex(x.real, x.imag)))


def build(impl: str, ref: CspecEncoder) -> nn.Module:
    if impl == "cspec":
        return ref
    if impl in ("cspec-block", "cspec-gauss"):
        m = CspecEncoder(impl.split("-")[1])
        m.load_state_dict(ref.state_dict())
        return m
    if impl == "native":
        return NativeEncoder(ref)
    if impl == "asteroid":
        return AsteroidEncoder(ref)
    return CplxmoduleEncoder(ref)
