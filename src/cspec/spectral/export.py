"""An export-safe STFT/iSTFT: fixed conv1d bases, no complex dtype, equal to ``torch.stft`` / ``torch.istft``.

ONNX has no complex type and exporters break on ``torch.stft`` with complex outputs (a recurring issue in
asteroid, MP-SENet and CMGAN forks). This module computes the same transform with operations every runtime has:

* analysis: centre padding (``reflect`` or zeros), then ``conv1d`` with stride ``hop`` and the ``2F`` real kernels
  ``w[n] cos(2 pi k n / N)`` and ``-w[n] sin(2 pi k n / N)`` (``F = N//2 + 1``), which is the DFT of each windowed
  frame (Allen & Rabiner 1977);
* synthesis: the one-sided inverse DFT of each frame as ``conv_transpose1d`` with kernels
  ``c_k w[n] cos(2 pi k n / N) / N`` and ``-c_k w[n] sin(2 pi k n / N) / N`` (``c_k = 1`` for DC and Nyquist, 2
  otherwise), i.e. windowed overlap-add, divided by the overlap-added squared window: the least-squares inverse of
  Griffin & Lim (1984), eq. (6), which is what ``torch.istft`` computes.

Real and imaginary parts travel as two real tensors ``(..., freq, frames)``; convert at the edge with
``torch.complex(re, im)``. Both modules hold their bases as buffers, so ``.to(device)`` and exporting just work.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cspec.spectral.stft import STFTConfig, get_preset, make_window

__all__ = ["ConvSTFT", "ConvISTFT"]


def _padded_window(cfg: STFTConfig) -> torch.Tensor:
    """The analysis window zero-padded to ``n_fft`` in the middle, as ``torch.stft`` does."""
    w = make_window(cfg, dtype=torch.float64)
    left = (cfg.n_fft - cfg.win) // 2
    return F.pad(w, (left, cfg.n_fft - cfg.win - left))


def _dft_angles(cfg: STFTConfig) -> torch.Tensor:
    k = torch.arange(cfg.n_freqs, dtype=torch.float64)[:, None]
    n = torch.arange(cfg.n_fft, dtype=torch.float64)[None, :]
    return 2 * math.pi * k * n / cfg.n_fft


class ConvSTFT(nn.Module):
    """Export-safe STFT: ``(..., samples)`` -> ``(real, imag)``, each ``(..., freq, frames)``.

    Equal to :func:`cspec.spectral.stft` (hence ``torch.stft``) for the same config, to float32 rounding.
    """

    def __init__(self, config: STFTConfig | str = "mpsenet"):
        super().__init__()
        self.config = cfg = get_preset(config)
        w = _padded_window(cfg)
        ang = _dft_angles(cfg)
        basis = torch.cat([w * torch.cos(ang), -w * torch.sin(ang)], dim=0)  # (2F, N)
        self.register_buffer("basis", basis[:, None, :].float(), persistent=False)

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        lead = wave.shape[:-1]
        x = wave.reshape(-1, 1, wave.shape[-1])
        if cfg.center:
            pad = cfg.n_fft // 2
            x = F.pad(x, (pad, pad), mode=cfg.pad_mode)
        spec = F.conv1d(x, self.basis.to(x.dtype), stride=cfg.hop_length)  # (B, 2F, T)
        re, im = spec.split(cfg.n_freqs, dim=1)
        return re.reshape(*lead, *re.shape[1:]), im.reshape(*lead, *im.shape[1:])


class ConvISTFT(nn.Module):
    """Export-safe iSTFT: ``(real, imag)`` each ``(..., freq, frames)`` -> ``(..., samples)``.

    Equal to :func:`cspec.spectral.istft` (hence ``torch.istft``) for the same config, to float32 rounding.
    ``length`` trims (or zero-pads) the output like ``torch.istft``'s argument.
    """

    def __init__(self, config: STFTConfig | str = "mpsenet"):
        super().__init__()
        self.config = cfg = get_preset(config)
        w = _padded_window(cfg)
        ang = _dft_angles(cfg)
        c = torch.full((cfg.n_freqs, 1), 2.0, dtype=torch.float64)
        c[0] = 1.0
        if cfg.n_fft % 2 == 0:
            c[-1] = 1.0
        basis = torch.cat([c * torch.cos(ang), -c * torch.sin(ang)], dim=0) * w / cfg.n_fft  # (2F, N)
        self.register_buffer("basis", basis[:, None, :].float(), persistent=False)
        self.register_buffer("win_sq", (w**2)[None, None, :].float(), persistent=False)

    def forward(self, real: torch.Tensor, imag: torch.Tensor, length: int | None = None) -> torch.Tensor:
        cfg = self.config
        lead = real.shape[:-2]
        frames = torch.cat([real, imag], dim=-2).reshape(-1, 2 * cfg.n_freqs, real.shape[-1])
        wave = F.conv_transpose1d(frames, self.basis.to(frames.dtype), stride=cfg.hop_length)
        ones = torch.ones_like(frames[:, :1, :])
        env = F.conv_transpose1d(ones, self.win_sq.to(frames.dtype), stride=cfg.hop_length)
        wave = wave / torch.where(env > 1e-11, env, torch.ones_like(env))
        start = cfg.n_fft // 2 if cfg.center else 0
        if length is None:
            end = wave.shape[-1] - start
        else:
            end = start + length
            if end > wave.shape[-1]:
                wave = F.pad(wave, (0, end - wave.shape[-1]))
        wave = wave[..., start:end]
        return wave.reshape(*lead, wave.shape[-1])
