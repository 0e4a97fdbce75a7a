"""Complex products of linear operators computed with real arithmetic.

For a real-linear operator ``A`` (matrix product, convolution, transposed convolution) with complex weight
``W = Wr + j Wi`` and complex input ``x = xr + j xi`` the complex product is

    W x = (Wr xr - Wi xi) + j (Wi xr + Wr xi).                                            (1)

Two ways of computing (1) with real operators are offered (Trabelsi et al., 2018, Sec. 3.2, eq. 6, write
(1) as the real block matrix below):

* ``block``: one real operator on stacked channels ``[xr; xi]`` with the block weight
  ``[[Wr, -Wi], [Wi, Wr]]``: one large kernel call (4 real products' worth of FLOPs, best on CPUs/GPUs for
  the small-to-medium channel counts of speech models).
* ``gauss``: Gauss's 3-multiplication trick (Knuth, TAOCP vol. 2, Sec. 4.6.4), used by PyTorch's own complex
  convolution: ``t1 = Wr xr``, ``t2 = Wi xi``, ``t3 = (Wr + Wi)(xr + xi)``, ``re = t1 - t2``,
  ``im = t3 - t1 - t2``: 3/4 of the FLOPs in three calls.

``benchmarks/complex_layers.py`` times both.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from cspec.errors import ConfigError

__all__ = ["METHODS", "block_weight", "complex_apply", "complex_mul", "complex_matmul"]

METHODS = ("block", "gauss")

RealOp = Callable[[Tensor, Tensor], Tensor]


def block_weight(wr: Tensor, wi: Tensor, in_dim: int = 1, out_dim: int = 0) -> Tensor:
    """The real block weight ``[[Wr, -Wi], [Wi, Wr]]`` with the input axis ``in_dim`` and output ``out_dim``."""
    top = torch.cat([wr, -wi], dim=in_dim)
    bottom = torch.cat([wi, wr], dim=in_dim)
    return torch.cat([top, bottom], dim=out_dim)


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ConfigError(f"unknown complex product method '{method}'; choose one of {', '.join(METHODS)}")
    return method


def complex_apply(op: RealOp, re: Tensor, im: Tensor, wr: Tensor, wi: Tensor, method: str = "block",
                  channel_dim: int = 1, in_dim: int = 1, out_dim: int = 0) -> tuple[Tensor, Tensor]:
    """Eq. (1) for a real operator ``op(x, w)`` that is linear in both arguments.

    ``channel_dim`` is the channel axis of the input/output, ``in_dim``/``out_dim`` the input/output axes of
    the weight (``1``/``0`` for ``F.linear``/``F.conv*``, ``0``/``1`` for ``F.conv_transpose*``).
    """
    if method == "block":
        y = op(torch.cat([re, im], dim=channel_dim), block_weight(wr, wi, in_dim, out_dim))
        yr, yi = y.chunk(2, dim=channel_dim)
        return yr, yi
    if method == "gauss":
        t1 = op(re, wr)
        t2 = op(im, wi)
        t3 = op(re + im, wr + wi)
        return t1 - t2, t3 - t1 - t2
    raise ConfigError(f"unknown complex product method '{method}'; choose one of {', '.join(METHODS)}")


def complex_mul(ar: Tensor, ai: Tensor, br: Tensor, bi: Tensor) -> tuple[Tensor, Tensor]:
    """Element-wise complex product ``(ar + j ai)(br + j bi)``."""
    return ar * br - ai * bi, ar * bi + ai * br


def complex_matmul(ar: Tensor, ai: Tensor, br: Tensor, bi: Tensor, conj_b: bool = False) -> tuple[Tensor, Tensor]:
    """Batched complex matrix product ``A @ B`` (or ``A @ B^H`` with ``conj_b`` and ``B`` given untransposed)."""
    if conj_b:
        br, bi = br.transpose(-1, -2), -bi.transpose(-1, -2)
    return ar @ br - ai @ bi, ar @ bi + ai @ br
