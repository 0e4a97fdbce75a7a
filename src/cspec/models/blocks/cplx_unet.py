"""Complex U-Net blocks shared by DCUNet (Choi et al. 2019) and DCCRN (Hu et al. 2020).

An encoder block is complex convolution -> complex batch norm -> complex activation; a decoder block is the
same with a complex transposed convolution. Both work on the real pair ``(re, im)`` of shape
``(batch, channels, freq, frames)`` (:class:`cspec.nn.ComplexModule` convention), so a whole U-Net stays in
real arithmetic between its STFT and its mask.

* DCUNet (Choi et al. 2019, Sec. 3.1 and Appendix A): complex conv, complex BN (Trabelsi et al. 2018) and
  the "leaky CReLU" -- a leaky ReLU on the real and on the imaginary part (:class:`LeakyCReLU`, PyTorch's
  default slope 0.01, which the paper does not state).
* DCCRN (Hu et al. 2020, Sec. 2.2): complex conv causal along time, complex BN, PReLU
  (:class:`cspec.nn.ComplexPReLU`, one learned slope per part).

Transposed convolutions are built with ``output_padding = stride - 1`` and their output cropped at the high
end to the size of the matching encoder input (``size=``), so any spectrogram size is restored exactly;
with ``padding = kernel // 2`` an encoder maps ``n`` to ``ceil(n / stride)`` and the crop keeps the frames and
bins aligned (output index ``j`` of the transposed conv sits on input index ``j`` of the encoder).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from cspec.errors import ConfigError
from cspec.nn import (ComplexBatchNorm, ComplexConv2d, ComplexConvTranspose2d, ComplexModule, ComplexPReLU,
                      NaiveComplexBatchNorm)

__all__ = ["LeakyCReLU", "ComplexEncoderBlock", "ComplexDecoderBlock", "NORMS", "ACTIVATIONS", "cat_pairs"]

NORMS = ("complex", "naive", "none")
ACTIVATIONS = ("leaky_crelu", "prelu", "none")


class LeakyCReLU(ComplexModule):
    """``leaky_relu(Re z) + j leaky_relu(Im z)``: DCUNet's leaky CReLU (Choi et al. 2019, Sec. 3.1)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        return F.leaky_relu(re, self.negative_slope), F.leaky_relu(im, self.negative_slope)


def _norm(kind: str, channels: int) -> ComplexModule | None:
    if kind == "complex":
        return ComplexBatchNorm(channels)
    if kind == "naive":
        return NaiveComplexBatchNorm(channels)
    if kind == "none":
        return None
    raise ConfigError(f"unknown norm '{kind}'; choose one of {', '.join(NORMS)}")


def _act(kind: str, negative_slope: float) -> ComplexModule | None:
    if kind == "leaky_crelu":
        return LeakyCReLU(negative_slope)
    if kind == "prelu":
        return ComplexPReLU(1)
    if kind == "none":
        return None
    raise ConfigError(f"unknown activation '{kind}'; choose one of {', '.join(ACTIVATIONS)}")


def cat_pairs(a: tuple[Tensor, Tensor], b: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """Concatenate two complex feature maps (real pairs) along the channel axis: ``[a, b]``."""
    return torch.cat([a[0], b[0]], 1), torch.cat([a[1], b[1]], 1)


class _Block(ComplexModule):
    def _post(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        if self.norm is not None:
            re, im = self.norm.forward_pair(re, im)
        if self.act is not None:
            re, im = self.act.forward_pair(re, im)
        return re, im


class ComplexEncoderBlock(_Block):
    """Complex conv (``padding = kernel // 2``, time-causal if ``causal``) -> norm -> activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel, stride, causal: bool = False,
                 norm: str = "complex", act: str = "leaky_crelu", negative_slope: float = 0.01) -> None:
        super().__init__()
        kernel, stride = tuple(kernel), tuple(stride)
        self.conv = ComplexConv2d(in_channels, out_channels, kernel, stride, tuple(k // 2 for k in kernel),
                                  causal=causal)
        self.norm = _norm(norm, out_channels)
        self.act = _act(act, negative_slope)

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        return self._post(*self.conv.forward_pair(re, im))


class ComplexDecoderBlock(_Block):
    """Complex transposed conv -> crop to ``size`` (freq, frames) -> norm -> activation.

    ``causal=True`` makes the time axis causal (the transposed conv drops its last ``kernel - 1`` frames, see
    :mod:`cspec.nn.conv`); the time padding is then 0 and no crop along time is needed for stride 1.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel, stride, causal: bool = False,
                 norm: str = "complex", act: str = "leaky_crelu", negative_slope: float = 0.01) -> None:
        super().__init__()
        kernel, stride = tuple(kernel), tuple(stride)
        self.conv = ComplexConvTranspose2d(in_channels, out_channels, kernel, stride,
                                           tuple(k // 2 for k in kernel), causal=causal,
                                           output_padding=tuple(s - 1 for s in stride))
        self.norm = _norm(norm, out_channels)
        self.act = _act(act, negative_slope)

    def forward_pair(self, re: Tensor, im: Tensor, size: tuple[int, int] | None = None
                     ) -> tuple[Tensor, Tensor]:
        re, im = self.conv.forward_pair(re, im)
        if size is not None:
            f, t = size
            if re.shape[-2] < f or re.shape[-1] < t:
                raise ConfigError(f"decoder output {tuple(re.shape[-2:])} is smaller than the skip {tuple(size)}")
            re, im = re[..., :f, :t], im[..., :f, :t]
        return self._post(re, im)
