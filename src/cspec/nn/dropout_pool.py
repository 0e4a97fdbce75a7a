"""Complex dropout and pooling.

* :class:`ComplexDropout`: inverted dropout (Srivastava et al., 2014, eq. in Sec. 4, scaled by ``1/(1-p)`` at
  training time) with ONE Bernoulli mask applied to both the real and the imaginary part, so a dropped unit is
  the complex number 0 and the phase of a kept unit is unchanged. ``channelwise=True`` drops whole channels of
  ``(batch, channels, ...)`` (Tompson et al., 2015, spatial dropout). Paper default ``p = 0.5``.
* :class:`ComplexAvgPool1d` / :class:`ComplexAvgPool2d`: the mean is linear, so it pools the real and
  imaginary parts separately (Trabelsi et al., 2018 use it in their complex ResNet).
* :class:`ComplexMaxPool1d` / :class:`ComplexMaxPool2d`: the complex number of largest modulus in each window
  (magnitude max-pooling, Guberman 2016, Sec. 4.2; Zhang et al. 2017, "Complex-valued CNN and its application
  in PolSAR image classification"), phase kept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from cspec.errors import ConfigError
from cspec.nn.base import ComplexModule

__all__ = ["ComplexDropout", "ComplexAvgPool1d", "ComplexAvgPool2d", "ComplexMaxPool1d", "ComplexMaxPool2d"]


class ComplexDropout(ComplexModule):
    """Zero a complex unit with probability ``p`` (same mask for both parts), scale kept ones by ``1/(1-p)``."""

    def __init__(self, p: float = 0.5, channelwise: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout probability must lie in [0, 1), got {p}")
        self.p, self.channelwise = float(p), bool(channelwise)

    def mask(self, like: Tensor) -> Tensor:
        """A scaled Bernoulli mask broadcastable to ``like``."""
        shape = like.shape[:2] + (1,) * (like.ndim - 2) if self.channelwise else like.shape
        keep = torch.rand(shape, device=like.device, dtype=like.dtype) >= self.p
        return keep.to(like.dtype) / (1.0 - self.p)

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        if not self.training or self.p == 0.0:
            return re, im
        m = self.mask(re)
        return re * m, im * m

    def extra_repr(self) -> str:
        return f"p={self.p}, channelwise={self.channelwise}"


class _AvgPool(ComplexModule):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kw = dict(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                       count_include_pad=count_include_pad)

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        return type(self)._fn(re, **self.kw), type(self)._fn(im, **self.kw)


class ComplexAvgPool1d(_AvgPool):
    """Average pooling over the last axis of ``(batch, channels, frames)``."""

    _fn = staticmethod(F.avg_pool1d)


class ComplexAvgPool2d(_AvgPool):
    """Average pooling over ``(freq, frames)`` of ``(batch, channels, freq, frames)``."""

    _fn = staticmethod(F.avg_pool2d)


class _MaxPool(ComplexModule):
    _fn = None
    _dims = 1

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kw = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                       ceil_mode=ceil_mode)

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        if re.ndim != self._dims + 2:
            raise ConfigError(f"{type(self).__name__} expects {self._dims + 2}-D input, got {tuple(re.shape)}")
        mag2 = re * re + im * im
        _, idx = type(self)._fn(mag2.detach(), return_indices=True, **self.kw)
        flat = idx.flatten(2)
        out_r = re.flatten(2).gather(2, flat).view_as(idx)
        out_i = im.flatten(2).gather(2, flat).view_as(idx)
        return out_r, out_i


class ComplexMaxPool1d(_MaxPool):
    """Keep the entry of largest modulus in each window of ``(batch, channels, frames)``."""

    _fn = staticmethod(F.max_pool1d)
    _dims = 1


class ComplexMaxPool2d(_MaxPool):
    """Keep the entry of largest modulus in each window of ``(batch, channels, freq, frames)``."""

    _fn = staticmethod(F.max_pool2d)
    _dims = 2
