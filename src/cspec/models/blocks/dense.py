"""Dilated dense blocks and the dense encoder of MP-SENet and CMGAN (real-valued, on TF feature maps).

Feature maps are ``(batch, channels, time, freq)`` as in both official implementations.

* :class:`DilatedDenseBlock`: ``depth`` layers Conv2d -> InstanceNorm2d (affine) -> PReLU; layer ``i`` sees the
  concatenation of the block input and all previous outputs (``(i + 1) * channels`` channels), is dilated by
  ``2**i`` along time and returns ``channels`` channels; the block returns the last layer's output (DenseNet,
  Huang et al. 2017, with the time dilation of Pandey & Wang 2020). MP-SENet (Lu et al. 2023, Sec. 2.2) uses a
  3x3 kernel with centred ("same") padding; CMGAN (Cao et al. 2022, Sec. 2.2) a (2, 3) kernel padded on the past
  side only, i.e. causal along time.
* :class:`DenseEncoder`: 1x1 conv -> dense block -> (1, 3) conv with stride 2 along frequency, each followed by
  InstanceNorm2d and PReLU: ``F`` bins become ``(F - 1) / 2`` (MP-SENet, no frequency padding) or ``(F + 1) / 2``
  (CMGAN, one bin of padding each side).

The instance norms use statistics of the whole utterance, so neither block is causal as a whole even when its
convolutions are; :meth:`DilatedDenseBlock.receptive_field` reports the convolutions' reach.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError

__all__ = ["DilatedDenseBlock", "DenseEncoder", "norm_act"]


def norm_act(channels: int) -> list[nn.Module]:
    """InstanceNorm2d (affine) and PReLU per channel, the normalisation/activation pair of both papers."""
    return [nn.InstanceNorm2d(channels, affine=True), nn.PReLU(channels)]


class DilatedDenseBlock(nn.Module):
    """Dense block with time dilations ``1, 2, 4, ...`` (see the module docstring).

    Args:
        channels: channels of the input and of every layer's output.
        depth: number of layers (4 in both papers).
        kernel_size: ``(time, freq)`` kernel: ``(3, 3)`` for MP-SENet, ``(2, 3)`` for CMGAN.
        causal: pad the time axis on the past side only (CMGAN); otherwise centred (needs an odd time kernel).
    """

    def __init__(self, channels: int, depth: int = 4, kernel_size: tuple[int, int] = (3, 3),
                 causal: bool = False) -> None:
        super().__init__()
        kt, kf = (int(k) for k in kernel_size)
        if channels < 1 or depth < 1:
            raise ConfigError(f"DilatedDenseBlock needs channels >= 1 and depth >= 1, got {channels}, {depth}")
        if kf % 2 == 0 or (not causal and kt % 2 == 0):
            raise ConfigError(f"kernel {kernel_size}: 'same' padding needs odd sizes (time may be even if causal)")
        self.kernel_size, self.causal = (kt, kf), causal
        self.pads: list[tuple[int, int, int, int]] = []
        self.layers = nn.ModuleList()
        for i in range(depth):
            dil = 2 ** i
            total = dil * (kt - 1)
            past = total if causal else total // 2
            self.pads.append((kf // 2, kf // 2, past, total - past))  # F.pad order: freq left/right, time past/future
            self.layers.append(nn.Sequential(
                nn.Conv2d(channels * (i + 1), channels, (kt, kf), dilation=(dil, 1)), *norm_act(channels)
            ))

    def receptive_field(self) -> tuple[int, int]:
        """``(past, future)`` frames an output frame's convolutions reach (norms aside)."""
        past = sum(p[2] for p in self.pads)
        future = sum(p[3] for p in self.pads)
        return past, future

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x
        out = x
        for pad, layer in zip(self.pads, self.layers):
            out = layer(F.pad(skip, pad))
            skip = torch.cat([out, skip], dim=1)
        return out


class DenseEncoder(nn.Module):
    """1x1 conv -> :class:`DilatedDenseBlock` -> frequency-halving (1, 3) conv, stride (1, 2).

    Args:
        in_channels: input feature maps (2 for MP-SENet: magnitude and phase; 3 for CMGAN: magnitude, real, imag).
        channels: width of the encoder (64 in both papers).
        kernel_size, causal, depth: passed to the dense block.
        freq_padding: bins of zero padding each side of the downsampling conv (0 MP-SENet, 1 CMGAN).
    """

    def __init__(self, in_channels: int, channels: int = 64, kernel_size: tuple[int, int] = (3, 3),
                 causal: bool = False, freq_padding: int = 0, depth: int = 4) -> None:
        super().__init__()
        self.conv_in = nn.Sequential(nn.Conv2d(in_channels, channels, 1), *norm_act(channels))
        self.dense = DilatedDenseBlock(channels, depth, kernel_size, causal)
        self.conv_out = nn.Sequential(
            nn.Conv2d(channels, channels, (1, 3), (1, 2), padding=(0, freq_padding)), *norm_act(channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.dense(self.conv_in(x)))
