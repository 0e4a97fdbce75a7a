"""One layer of a complex recurrent network, in the two forms the literature uses.

Both work on the real pair ``(re, im)`` of shape ``(batch, frames, features)`` and carry their state as real
pairs of shape ``(S, batch, hidden)``.

:class:`DccrnLayer` -- Hu et al. (2020), "DCCRN: Deep Complex Convolution Recurrent Network for Phase-Aware
Speech Enhancement", Interspeech, eq. (3): two real RNNs ``LSTM_r`` and ``LSTM_i`` combined as a complex
product, ``F_out = (F_rr - F_ii) + j (F_ri + F_ir)`` with ``F_rr = LSTM_r(X_r)``, ``F_ir = LSTM_r(X_i)``,
``F_ri = LSTM_i(X_r)``, ``F_ii = LSTM_i(X_i)``. Each real RNN runs ONCE on the batch ``[X_r; X_i]`` (so two
cuDNN/oneDNN calls per layer instead of four). State: ``S = 2 * directions``: for each real RNN (``r`` then
``i``) and direction, its run on ``X_r`` as the real part and on ``X_i`` as the imaginary part.

:class:`FullLayer` -- the fully complex cell: the LSTM of Hochreiter & Schmidhuber (1997) with the forget gate
of Gers et al. (2000), or the GRU of Cho et al. (2014) (PyTorch's variant, reset applied after ``W_hn h``),
evaluated in complex arithmetic with complex weights and split activations (Benvenuto & Piazza, 1992):
``sigma_s(a) = sigma(Re a) + j sigma(Im a)``, ``tanh_s`` likewise, and complex element-wise products:

    LSTM:  [i, f, g, o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
           c_t = sigma_s(f) * c_{t-1} + sigma_s(i) * tanh_s(g),   h_t = sigma_s(o) * tanh_s(c_t)
    GRU:   r = sigma_s(W_ir x + b_ir + W_hr h + b_hr),  z = sigma_s(W_iz x + b_iz + W_hz h + b_hz)
           n = tanh_s(W_in x + b_in + r * (W_hn h + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}

Input weights use the complex Glorot initialisation and each recurrent gate block the unitary one (Trabelsi
et al., 2018; Arjovsky et al., 2016); biases start at 0. State: ``S = directions``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cspec.nn.functional import complex_apply, complex_mul
from cspec.nn.init import complex_glorot_, unitary_

__all__ = ["DccrnLayer", "FullLayer", "GATES"]

GATES = {"LSTM": 4, "GRU": 3}

Pair = tuple[Tensor, Tensor]


class DccrnLayer(nn.Module):
    """DCCRN's complex RNN layer (eq. 3 of Hu et al., 2020) from two real ``nn.LSTM``/``nn.GRU``."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bidirectional: bool, bias: bool) -> None:
        super().__init__()
        cls = nn.LSTM if mode == "LSTM" else nn.GRU
        self.mode, self.dirs = mode, 2 if bidirectional else 1
        kw = dict(batch_first=True, bidirectional=bidirectional, bias=bias)
        self.rnn_r = cls(input_size, hidden_size, **kw)
        self.rnn_i = cls(input_size, hidden_size, **kw)

    def _split_state(self, st: list[Tensor] | None, which: int):
        if st is None:
            return None
        d = self.dirs
        parts = [torch.cat([s_re[which * d:(which + 1) * d], s_im[which * d:(which + 1) * d]], dim=1)
                 for s_re, s_im in zip(st[0::2], st[1::2])]
        return tuple(parts) if self.mode == "LSTM" else parts[0]

    def forward(self, re: Tensor, im: Tensor, state: list[Tensor] | None) -> tuple[Tensor, Tensor, list[Tensor]]:
        b = re.shape[0]
        x = torch.cat([re, im], dim=0)
        out_r, st_r = self.rnn_r(x, self._split_state(state, 0))
        out_i, st_i = self.rnn_i(x, self._split_state(state, 1))
        f_rr, f_ir = out_r[:b], out_r[b:]
        f_ri, f_ii = out_i[:b], out_i[b:]
        st_r = st_r if self.mode == "LSTM" else (st_r,)
        st_i = st_i if self.mode == "LSTM" else (st_i,)
        new_state: list[Tensor] = []
        for sr, si in zip(st_r, st_i):
            new_state += [torch.cat([sr[:, :b], si[:, :b]], 0), torch.cat([sr[:, b:], si[:, b:]], 0)]
        return f_rr - f_ii, f_ri + f_ir, new_state


def _split_sigmoid(p: Pair) -> Pair:
    return torch.sigmoid(p[0]), torch.sigmoid(p[1])


def _split_tanh(p: Pair) -> Pair:
    return torch.tanh(p[0]), torch.tanh(p[1])


class FullLayer(nn.Module):
    """A fully complex LSTM/GRU layer (complex weights, split activations), one or two directions."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bidirectional: bool, bias: bool) -> None:
        super().__init__()
        self.mode, self.hidden_size, self.dirs = mode, hidden_size, 2 if bidirectional else 1
        g = GATES[mode] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(self.dirs, 2, g, input_size))  # (dir, re/im, gates, in)
        self.weight_hh = nn.Parameter(torch.empty(self.dirs, 2, g, hidden_size))
        self.bias_ih = nn.Parameter(torch.zeros(self.dirs, 2, g)) if bias else None
        self.bias_hh = nn.Parameter(torch.zeros(self.dirs, 2, g)) if bias else None
        with torch.no_grad():
            for d in range(self.dirs):
                for k in range(GATES[mode]):
                    blk = slice(k * hidden_size, (k + 1) * hidden_size)
                    complex_glorot_(self.weight_ih[d, 0, blk], self.weight_ih[d, 1, blk])
                    unitary_(self.weight_hh[d, 0, blk], self.weight_hh[d, 1, blk])

    def _bias(self, p: Tensor | None, d: int) -> Pair | None:
        return None if p is None else (p[d, 0], p[d, 1])

    def _direction(self, re: Tensor, im: Tensor, d: int, state: list[Tensor]) -> tuple[Tensor, Tensor, list[Tensor]]:
        h_size = self.hidden_size
        xr, xi = complex_apply(F.linear, re, im, self.weight_ih[d, 0], self.weight_ih[d, 1], "block", -1, 1, 0)
        bih, bhh = self._bias(self.bias_ih, d), self._bias(self.bias_hh, d)
        if bih is not None:
            xr, xi = xr + bih[0], xi + bih[1]
        whr, whi = self.weight_hh[d, 0], self.weight_hh[d, 1]
        steps = range(re.shape[1] - 1, -1, -1) if d == 1 else range(re.shape[1])
        h = (state[0], state[1])
        c = (state[2], state[3]) if self.mode == "LSTM" else None
        outs_r: list[Tensor] = []
        outs_i: list[Tensor] = []
        for t in steps:
            hr, hi = complex_apply(F.linear, h[0], h[1], whr, whi, "block", -1, 1, 0)
            if bhh is not None:
                hr, hi = hr + bhh[0], hi + bhh[1]
            if self.mode == "LSTM":
                ar, ai = xr[:, t] + hr, xi[:, t] + hi
                gi, gf, gg, go = [(a, b) for a, b in zip(ar.split(h_size, -1), ai.split(h_size, -1))]
                ig = complex_mul(*_split_sigmoid(gi), *_split_tanh(gg))
                fc = complex_mul(*_split_sigmoid(gf), *c)
                c = (fc[0] + ig[0], fc[1] + ig[1])
                h = complex_mul(*_split_sigmoid(go), *_split_tanh(c))
            else:
                xr_r, xr_z, xr_n = xr[:, t].split(h_size, -1)
                xi_r, xi_z, xi_n = xi[:, t].split(h_size, -1)
                hr_r, hr_z, hr_n = hr.split(h_size, -1)
                hi_r, hi_z, hi_n = hi.split(h_size, -1)
                r = _split_sigmoid((xr_r + hr_r, xi_r + hi_r))
                z = _split_sigmoid((xr_z + hr_z, xi_z + hi_z))
                rn = complex_mul(*r, hr_n, hi_n)
                n = _split_tanh((xr_n + rn[0], xi_n + rn[1]))
                zn = complex_mul(1.0 - z[0], -z[1], *n)
                zh = complex_mul(*z, *h)
                h = (zn[0] + zh[0], zn[1] + zh[1])
            outs_r.append(h[0])
            outs_i.append(h[1])
        if d == 1:
            outs_r.reverse()
            outs_i.reverse()
        new = [h[0], h[1]] + ([c[0], c[1]] if c is not None else [])
        return torch.stack(outs_r, 1), torch.stack(outs_i, 1), new

    def forward(self, re: Tensor, im: Tensor, state: list[Tensor] | None) -> tuple[Tensor, Tensor, list[Tensor]]:
        b = re.shape[0]
        n_state = 4 if self.mode == "LSTM" else 2
        if state is None:
            zero = re.new_zeros(self.dirs, b, self.hidden_size)
            state = [zero] * n_state
        outs_r, outs_i, finals = [], [], []
        for d in range(self.dirs):
            o_r, o_i, fin = self._direction(re, im, d, [s[d] for s in state])
            outs_r.append(o_r)
            outs_i.append(o_i)
            finals.append(fin)
        new_state = [torch.stack([f[k] for f in finals], 0) for k in range(n_state)]
        return torch.cat(outs_r, -1), torch.cat(outs_i, -1), new_state
