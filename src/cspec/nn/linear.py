"""Complex fully connected layer.

Trabelsi et al. (2018), "Deep Complex Networks", ICLR, Sec. 3.2, eq. (6): ``y = W x + b`` with complex
``W = Wr + j Wi`` and ``b``, computed on real parts as
``[Re y; Im y] = [[Wr, -Wi], [Wi, Wr]] [Re x; Im x] + [Re b; Im b]`` (one real matmul, ``method="block"``)
or with Gauss's 3-multiplication trick (``method="gauss"``); see :mod:`cspec.nn.functional`.
Default initialisation: the paper's complex Glorot (Rayleigh modulus, uniform phase), bias zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cspec.errors import ConfigError
from cspec.nn.base import ComplexModule
from cspec.nn.functional import check_method, complex_apply
from cspec.nn.init import init_complex_

__all__ = ["ComplexLinear"]


class ComplexLinear(ComplexModule):
    """``y = W x + b`` on the last axis of a complex tensor ``(..., in_features)``.

    Parameters are real: ``weight_real``/``weight_imag`` of shape ``(out_features, in_features)`` and
    ``bias_real``/``bias_imag`` of shape ``(out_features,)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, method: str = "block",
                 init: str = "glorot", device=None, dtype=None) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ConfigError(f"in_features and out_features must be >= 1, got {in_features}, {out_features}")
        kw = {"device": device, "dtype": dtype}
        self.in_features, self.out_features = in_features, out_features
        self.method = check_method(method)
        self.weight_real = nn.Parameter(torch.empty(out_features, in_features, **kw))
        self.weight_imag = nn.Parameter(torch.empty(out_features, in_features, **kw))
        if bias:
            self.bias_real = nn.Parameter(torch.zeros(out_features, **kw))
            self.bias_imag = nn.Parameter(torch.zeros(out_features, **kw))
        else:
            self.register_parameter("bias_real", None)
            self.register_parameter("bias_imag", None)
        init_complex_(self.weight_real, self.weight_imag, init)

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        yr, yi = complex_apply(F.linear, re, im, self.weight_real, self.weight_imag, self.method,
                               channel_dim=-1, in_dim=1, out_dim=0)
        if self.bias_real is not None:
            yr, yi = yr + self.bias_real, yi + self.bias_imag
        return yr, yi

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias_real is not None}, method={self.method}")
