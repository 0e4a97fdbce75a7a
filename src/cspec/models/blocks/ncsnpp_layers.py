"""The layers of NCSN++ (Song et al. 2021), as used by SGMSE+ (Richter et al. 2023): FIR resampling, Gaussian
Fourier time features, BigGAN residual blocks, self-attention and the input-pyramid combiner.

Sources:

* Yang Song, Jascha Sohl-Dickstein, Diederik P. Kingma, Abhishek Kumar, Stefano Ermon, Ben Poole, "Score-based
  generative modeling through stochastic differential equations", ICLR 2021, App. H.1 (the NCSN++ design:
  FIR up/down-sampling, rescaled skip connections, BigGAN-type residual blocks, progressive growing, Gaussian
  Fourier features of the noise level).
* FIR resampling: Karras et al., "Analyzing and improving the image quality of StyleGAN" (StyleGAN2), CVPR 2020,
  after Zhang, "Making convolutional networks shift-invariant again", ICML 2019: the separable binomial filter
  ``k = [1, 3, 3, 1]``, 2-D kernel ``k k^T / (sum k)^2`` (times ``factor^2 = 4`` when upsampling, which
  inserts zeros), i.e. ``upfirdn2d`` with the padding of the official code (up: ``((L-1)//2 + 1, (L-2)//2)``,
  down: ``((L-1)//2, (L-2)//2)`` for a kernel of length ``L``).
* Gaussian Fourier features: Tancik et al., NeurIPS 2020; in NCSN++ ``[sin 2 pi W s, cos 2 pi W s]`` with fixed
  ``W ~ N(0, 16^2)`` and ``s = log(sigma)`` (Song et al. 2021, App. H.1; SGMSE+ feeds its diffusion time ``t``).
* BigGAN residual block: Brock et al., ICLR 2019; the NCSN++ variant is
  ``GN -> act -> [resample] -> conv3x3 -> + Dense(act(temb)) -> GN -> act -> dropout -> conv3x3``, shortcut a
  1x1 convolution of the resampled input when channels or size change, sum divided by sqrt(2) (skip rescale).
* Initialisation: variance scaling, fan-average, uniform (DDPM, Ho et al. 2020); the last layer of each residual
  branch scaled by ``init_scale`` (0 in the paper, i.e. 1e-10).

Written for cspec from the papers and the published hyper-parameters; the computation is real-valued, on the
real and imaginary parts stacked as channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "variance_scaling_", "conv3x3", "conv1x1", "fir_kernel_2d", "FIRResample", "GaussianFourierProjection",
    "ResnetBlockBigGAN", "AttnBlock", "Combine", "group_norm",
]

_SQRT2 = math.sqrt(2.0)


def variance_scaling_(weight: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """DDPM's ``default_init``: uniform with variance ``scale / mean(fan_in, fan_out)``; scale 0 means 1e-10."""
    scale = 1e-10 if scale == 0 else scale
    receptive = weight[0, 0].numel() if weight.dim() > 2 else 1
    fan_in, fan_out = weight.shape[1] * receptive, weight.shape[0] * receptive
    bound = math.sqrt(3.0 * scale / ((fan_in + fan_out) / 2.0))
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


def _conv(c_in: int, c_out: int, k: int, init_scale: float) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2)
    variance_scaling_(conv.weight, init_scale)
    nn.init.zeros_(conv.bias)
    return conv


def conv3x3(c_in: int, c_out: int, init_scale: float = 1.0) -> nn.Conv2d:
    """3x3 convolution, same padding, DDPM initialisation."""
    return _conv(c_in, c_out, 3, init_scale)


def conv1x1(c_in: int, c_out: int, init_scale: float = 1.0) -> nn.Conv2d:
    """1x1 convolution (NIN layer), DDPM initialisation."""
    return _conv(c_in, c_out, 1, init_scale)


def _linear(d_in: int, d_out: int) -> nn.Linear:
    lin = nn.Linear(d_in, d_out)
    variance_scaling_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with ``min(C // 4, 32)`` groups and eps 1e-6, as in NCSN++."""
    return nn.GroupNorm(max(1, min(channels // 4, 32)), channels, eps=1e-6)


def fir_kernel_2d(kernel, up: bool = False) -> torch.Tensor:
    """The 2-D FIR kernel ``k k^T / (sum k)^2``, times ``4`` (the zero-insertion gain) when upsampling."""
    k = torch.as_tensor(kernel, dtype=torch.float64)
    k2 = torch.outer(k, k)
    return k2 / k2.sum() * (4.0 if up else 1.0)


class FIRResample(nn.Module):
    """Up- or down-sampling by 2 in both axes with a separable FIR filter (``upfirdn2d``, StyleGAN2).

    ``fir=False`` gives the naive variants of NCSN++: nearest-neighbour repetition up, 2x2 mean down.
    Computed separably (frequency, then time), depthwise; the 2-D kernel is :attr:`kernel_2d`.
    """

    def __init__(self, mode: str, kernel=(1, 3, 3, 1), fir: bool = True) -> None:
        super().__init__()
        if mode not in ("up", "down"):
            raise ValueError(mode)
        self.mode, self.fir = mode, fir
        k = torch.as_tensor(kernel, dtype=torch.float64)
        k1 = k / k.sum() * (2.0 if mode == "up" else 1.0)  # outer(k1, k1) == fir_kernel_2d(kernel, up)
        self.register_buffer("k1", k1.flip(0).float(), persistent=False)  # flipped: conv, not correlation
        self.length = int(k.numel())

    @property
    def kernel_2d(self) -> torch.Tensor:
        k1 = self.k1.flip(0).double()
        return torch.outer(k1, k1)

    def _depthwise(self, x: torch.Tensor, dim: int, transpose: bool) -> torch.Tensor:
        c, length = int(x.shape[1]), self.length  # static channels: the depthwise kernel's shape (ONNX export)
        shape = (c, 1, length, 1) if dim == 2 else (c, 1, 1, length)
        w = self.k1.to(x.dtype).view(1, 1, *shape[2:]).expand(shape)
        stride = (2, 1) if dim == 2 else (1, 2)
        if not transpose:
            p0, p1 = (length - 1) // 2, (length - 2) // 2
            pad = (0, 0, p0, p1) if dim == 2 else (p0, p1, 0, 0)
            return F.conv2d(F.pad(x, pad), w, stride=stride, groups=c)
        # zero insertion + pad ((L-1)//2 + 1, (L-2)//2) + convolution == transposed convolution with padding
        # L - 1 - p0 (the kernel is not flipped there: conv_transpose correlates with the flipped sequence)
        p0 = (length - 1) // 2 + 1
        p = length - 1 - p0
        y = F.conv_transpose2d(x, w.flip(dim), stride=stride, groups=c, padding=(p, 0) if dim == 2 else (0, p))
        n = 2 * x.shape[dim]
        return y.narrow(dim, 0, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fir:
            if self.mode == "up":
                return F.interpolate(x, scale_factor=2.0, mode="nearest")
            return F.avg_pool2d(x, 2)
        transpose = self.mode == "up"
        return self._depthwise(self._depthwise(x, 2, transpose), 3, transpose)


class GaussianFourierProjection(nn.Module):
    """``[sin(2 pi W s), cos(2 pi W s)]`` with a fixed ``W ~ N(0, scale^2)`` of ``size`` entries (a buffer)."""

    def __init__(self, size: int, scale: float = 16.0) -> None:
        super().__init__()
        self.register_buffer("W", torch.randn(size) * scale)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        proj = s[:, None] * self.W[None, :] * (2 * math.pi)
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)


class ResnetBlockBigGAN(nn.Module):
    """NCSN++'s BigGAN residual block with optional FIR up/down-sampling and time conditioning."""

    def __init__(self, c_in: int, c_out: int | None = None, temb_dim: int | None = None, up: bool = False,
                 down: bool = False, dropout: float = 0.0, fir: bool = True, fir_kernel=(1, 3, 3, 1),
                 skip_rescale: bool = True, init_scale: float = 0.0) -> None:
        super().__init__()
        c_out = c_out or c_in
        self.norm0 = group_norm(c_in)
        self.resample = FIRResample("up" if up else "down", fir_kernel, fir) if (up or down) else None
        self.conv0 = conv3x3(c_in, c_out)
        self.dense = _linear(temb_dim, c_out) if temb_dim else None
        self.norm1 = group_norm(c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = conv3x3(c_out, c_out, init_scale=init_scale)
        self.shortcut = conv1x1(c_in, c_out) if (c_in != c_out or up or down) else None
        self.skip_rescale = skip_rescale

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        h = F.silu(self.norm0(x))
        if self.resample is not None:
            h, x = self.resample(h), self.resample(x)
        h = self.conv0(h)
        if self.dense is not None and temb is not None:
            h = h + self.dense(F.silu(temb))[:, :, None, None]
        h = self.conv1(self.dropout(F.silu(self.norm1(h))))
        if self.shortcut is not None:
            x = self.shortcut(x)
        return (x + h) / _SQRT2 if self.skip_rescale else x + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all time-frequency positions (DDPM / NCSN++ ``AttnBlockpp``)."""

    def __init__(self, channels: int, skip_rescale: bool = True, init_scale: float = 0.0) -> None:
        super().__init__()
        self.norm = group_norm(channels)
        self.q, self.k, self.v = conv1x1(channels, channels), conv1x1(channels, channels), conv1x1(channels, channels)
        self.out = conv1x1(channels, channels, init_scale=init_scale)
        self.skip_rescale = skip_rescale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, t = x.shape
        h = self.norm(x)
        q, k, v = (m(h).flatten(2).transpose(1, 2) for m in (self.q, self.k, self.v))  # (B, FT, C)
        h = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(C)) v
        h = self.out(h.transpose(1, 2).reshape(b, c, f, t))
        return (x + h) / _SQRT2 if self.skip_rescale else x + h


class Combine(nn.Module):
    """Input-skip combiner, method ``sum``: ``conv1x1(pyramid) + h``."""

    def __init__(self, c_pyramid: int, c_h: int) -> None:
        super().__init__()
        self.conv = conv1x1(c_pyramid, c_h)

    def forward(self, pyramid: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.conv(pyramid) + h
