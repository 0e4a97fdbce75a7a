"""Complex convolutions and transposed convolutions (1-D and 2-D) with optional causal time padding.

Trabelsi et al. (2018), "Deep Complex Networks", ICLR, Sec. 3.2, eq. (6): ``W * h = (A * x - B * y) +
j (B * x + A * y)`` for ``W = A + jB`` and ``h = x + jy``; Hu et al. (2020), DCCRN, eq. (1), use the same
product. Computed by default as ONE real convolution on stacked channels ``[x; y]`` with the block kernel
``[[A, -B], [B, A]]`` (``method="block"``), or with Gauss's trick in three real convolutions
(``method="gauss"``, the scheme of PyTorch's native complex convolution; forced when ``groups > 1`` because
stacking channels would mix groups). The default ``method="auto"`` takes ``block`` when a layer has at most
``AUTO_BLOCK_MAX_IN`` input channels per group (the first layer of a spectrogram encoder, where one larger real
convolution beats three tiny ones) and ``gauss`` otherwise (3/4 of the FLOPs where channels are many): the
per-layer timings behind the choice, and the whole-encoder comparison with PyTorch, asteroid and cplxmodule, are
in ``benchmarks/complex_layers.py`` and ``benchmarks/RESULTS.md``.

Spectrogram layout is ``(batch, channels, freq, frames)``: the LAST axis is time. ``causal=True`` pads
``dilation * (kernel - 1)`` frames on the left of the time axis only (the time entry of ``padding`` is then
ignored), so output frame ``t`` sees input frames ``<= t`` (DCCRN's causal encoder, Hu et al. 2020, Sec. 3).
For transposed convolutions ``causal=True`` drops the last ``dilation * (kernel - 1)`` output frames, so an
output frame depends on no later input frame. Default initialisation: complex Glorot (Trabelsi et al. 2018).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cspec.errors import ConfigError
from cspec.nn.base import ComplexModule
from cspec.nn.functional import check_method, complex_apply
from cspec.nn.init import init_complex_

__all__ = ["ComplexConv1d", "ComplexConv2d", "ComplexConvTranspose1d", "ComplexConvTranspose2d", "AUTO_BLOCK_MAX_IN"]

#: ``method="auto"`` uses the block product up to this many input channels per group, Gauss's trick above it.
AUTO_BLOCK_MAX_IN = 8


def _tuple(v, n: int, name: str) -> tuple[int, ...]:
    t = tuple(v) if isinstance(v, (tuple, list)) else (v,) * n
    if len(t) != n or any(not isinstance(i, int) for i in t):
        raise ConfigError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


class _ComplexConvNd(ComplexModule):
    _transposed = False
    _dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, causal: bool = False, output_padding=0,
                 method: str = "auto", init: str = "glorot", device=None, dtype=None) -> None:
        super().__init__()
        n = self._dims
        if in_channels < 1 or out_channels < 1 or groups < 1:
            raise ConfigError("in_channels, out_channels and groups must be >= 1")
        if in_channels % groups or out_channels % groups:
            raise ConfigError(f"in_channels {in_channels} and out_channels {out_channels} must divide by groups {groups}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple(kernel_size, n, "kernel_size")
        self.stride = _tuple(stride, n, "stride")
        self.dilation = _tuple(dilation, n, "dilation")
        self.output_padding = _tuple(output_padding, n, "output_padding")
        pad = _tuple(padding, n, "padding")
        self.causal = bool(causal)
        self.time_trim = self.dilation[-1] * (self.kernel_size[-1] - 1) if causal else 0
        self.padding = pad[:-1] + (0,) if causal else pad
        if method == "auto":
            method = "block" if in_channels // groups <= AUTO_BLOCK_MAX_IN else "gauss"
        self.method = "gauss" if groups > 1 else check_method(method)
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        kw = {"device": device, "dtype": dtype}
        self.weight_real = nn.Parameter(torch.empty(shape, **kw))
        self.weight_imag = nn.Parameter(torch.empty(shape, **kw))
        if bias:
            self.bias_real = nn.Parameter(torch.zeros(out_channels, **kw))
            self.bias_imag = nn.Parameter(torch.zeros(out_channels, **kw))
        else:
            self.register_parameter("bias_real", None)
            self.register_parameter("bias_imag", None)
        init_complex_(self.weight_real, self.weight_imag, init, transposed=self._transposed)

    def _op(self, x: Tensor, w: Tensor) -> Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        if re.ndim != self._dims + 2:
            raise ConfigError(f"{type(self).__name__} expects (batch, channels, {'freq, ' * (self._dims - 1)}frames), "
                              f"got shape {tuple(re.shape)}")
        if not self._transposed and self.time_trim:
            re = F.pad(re, (self.time_trim, 0))
            im = F.pad(im, (self.time_trim, 0))
        io = (0, 1) if self._transposed else (1, 0)
        yr, yi = complex_apply(self._op, re, im, self.weight_real, self.weight_imag, self.method,
                               channel_dim=1, in_dim=io[0], out_dim=io[1])
        if self._transposed and self.time_trim:
            yr, yi = yr[..., : yr.shape[-1] - self.time_trim], yi[..., : yi.shape[-1] - self.time_trim]
        if self.bias_real is not None:
            shape = (-1,) + (1,) * self._dims
            yr, yi = yr + self.bias_real.view(shape), yi + self.bias_imag.view(shape)
        return yr, yi

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, causal={self.causal}, "
                f"method={self.method}")


class ComplexConv1d(_ComplexConvNd):
    """Complex 1-D convolution over ``(batch, channels, frames)``; see the module docstring."""

    _dims = 1

    def _op(self, x: Tensor, w: Tensor) -> Tensor:
        return F.conv1d(x, w, None, self.stride, self.padding, self.dilation, self.groups)


class ComplexConv2d(_ComplexConvNd):
    """Complex 2-D convolution over ``(batch, channels, freq, frames)``; see the module docstring."""

    _dims = 2

    def _op(self, x: Tensor, w: Tensor) -> Tensor:
        return F.conv2d(x, w, None, self.stride, self.padding, self.dilation, self.groups)


class ComplexConvTranspose1d(_ComplexConvNd):
    """Complex 1-D transposed convolution (weight ``(in, out/groups, k)``); see the module docstring."""

    _dims = 1
    _transposed = True

    def _op(self, x: Tensor, w: Tensor) -> Tensor:
        return F.conv_transpose1d(x, w, None, self.stride, self.padding, self.output_padding, self.groups,
                                  self.dilation)


class ComplexConvTranspose2d(_ComplexConvNd):
    """Complex 2-D transposed convolution (weight ``(in, out/groups, kf, kt)``); see the module docstring."""

    _dims = 2
    _transposed = True

    def _op(self, x: Tensor, w: Tensor) -> Tensor:
        return F.conv_transpose2d(x, w, None, self.stride, self.padding, self.output_padding, self.groups,
                                  self.dilation)
