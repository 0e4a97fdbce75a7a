"""Complex LSTM and GRU: multi-layer, bidirectional, hidden state in and out (for streaming).

Two forms (see :mod:`cspec.nn.cells` for the equations):

* ``form="dccrn"`` -- Hu et al. (2020), DCCRN, eq. (3): each layer is two real RNNs combined as a complex
  product; the form of DCCRN, asteroid's ``ComplexSingleRNN`` and most speech models. Fast (oneDNN/cuDNN).
* ``form="full"`` -- the fully complex cell: the LSTM (Hochreiter & Schmidhuber, 1997; Gers et al., 2000) or
  GRU (Cho et al., 2014) equations in complex arithmetic with split activations (Benvenuto & Piazza, 1992).

Input ``(batch, frames, input_size)`` complex; output ``(batch, frames, directions * hidden_size)`` complex.
The state is complex, ``h`` (and ``c`` for the LSTM) of shape ``(num_layers * S, batch, hidden_size)`` with
``S = directions`` for ``full`` and ``S = 2 * directions`` for ``dccrn`` (the state of both real RNNs). Feeding
the returned state to the next call processes a long sequence chunk by chunk with the same result as one call
(streaming; unidirectional only, naturally).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cspec.errors import ConfigError
from cspec.nn.base import ComplexModule, check_complex
from cspec.nn.cells import DccrnLayer, FullLayer

__all__ = ["ComplexLSTM", "ComplexGRU"]

FORMS = ("dccrn", "full")


class _ComplexRNN(ComplexModule):
    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 bidirectional: bool = False, form: str = "dccrn") -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ConfigError(f"input_size, hidden_size and num_layers must be >= 1, got {input_size}, "
                              f"{hidden_size}, {num_layers}")
        if form not in FORMS:
            raise ConfigError(f"unknown complex RNN form '{form}'; choose one of {', '.join(FORMS)}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.form = bidirectional, form
        self.dirs = 2 if bidirectional else 1
        layer_cls = DccrnLayer if form == "dccrn" else FullLayer
        self.layers = nn.ModuleList(
            layer_cls(self._mode, input_size if i == 0 else self.dirs * hidden_size, hidden_size, bidirectional,
                      bias)
            for i in range(num_layers)
        )

    @property
    def state_rows(self) -> int:
        """``S``: rows of the state per layer."""
        return self.dirs * (2 if self.form == "dccrn" else 1)

    def forward_pair_state(self, re: Tensor, im: Tensor, state: list[Tensor] | None = None
                           ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Real-pair forward; ``state`` is ``[h_re, h_im]`` (+ ``[c_re, c_im]`` for LSTM), each ``(L*S, B, H)``."""
        if re.ndim != 3 or re.shape[-1] != self.input_size:
            raise ConfigError(f"{type(self).__name__} expects (batch, frames, {self.input_size}), got "
                              f"{tuple(re.shape)}")
        rows = self.state_rows
        finals: list[list[Tensor]] = []
        for li, layer in enumerate(self.layers):
            st = None if state is None else [s[li * rows:(li + 1) * rows] for s in state]
            re, im, new = layer(re, im, st)
            finals.append(new)
        new_state = [torch.cat([f[k] for f in finals], 0) for k in range(len(finals[0]))]
        return re, im, new_state

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        out_r, out_i, _ = self.forward_pair_state(re, im, None)
        return out_r, out_i

    def _check_state(self, state, batch: int) -> list[Tensor]:
        n = 2 if self._mode == "LSTM" else 1
        parts = list(state) if isinstance(state, (tuple, list)) else [state]
        shape = (self.num_layers * self.state_rows, batch, self.hidden_size)
        if len(parts) != n:
            raise ConfigError(f"{type(self).__name__} state must be {'(h, c)' if n == 2 else 'h'}")
        out: list[Tensor] = []
        for p in parts:
            check_complex(p, "state")
            if tuple(p.shape) != shape:
                raise ConfigError(f"state must have shape {shape} (layers * {self.state_rows}, batch, hidden) for "
                                  f"form '{self.form}', got {tuple(p.shape)}")
            out += [p.real, p.imag]
        return out

    def forward(self, z: Tensor, state=None):
        """``(batch, frames, input_size)`` complex -> ``(output, state)``; see the module docstring."""
        check_complex(z)
        st = None if state is None else self._check_state(state, z.shape[0])
        out_r, out_i, new = self.forward_pair_state(z.real, z.imag, st)
        states = tuple(torch.complex(new[k], new[k + 1]) for k in range(0, len(new), 2))
        return torch.complex(out_r, out_i), (states if self._mode == "LSTM" else states[0])

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}, form={self.form}")


class ComplexLSTM(_ComplexRNN):
    """Complex LSTM; ``forward(z, (h, c)=None) -> (out, (h, c))``. Forms and equations: module docstring."""

    _mode = "LSTM"


class ComplexGRU(_ComplexRNN):
    """Complex GRU; ``forward(z, h=None) -> (out, h)``. Forms and equations: module docstring."""

    _mode = "GRU"

