"""Causal framing and time-causal convolutions shared by CRN, GCRN and GTCRN (Tan & Wang 2018, 2020; Rong et al. 2024).

Causal STFT framing. Frame ``m`` of :func:`causal_stft` covers samples ``[m*hop - (win - hop), m*hop + hop)``: the
signal is padded with ``win - hop`` zeros on the left (the past) and with zeros on the right only to complete the
last frame, so no frame reads a sample later than its own end (no reflect padding of future samples). With a
``center=False`` config the padding is done here; a ``center=True`` config must use ``pad_mode="constant"`` and
``n_fft = 2 * hop`` (then centring *is* that left padding). :func:`causal_istft` is the library's overlap-add
inverse trimmed back to the input's length.

Exact look-ahead. If the network is causal frame by frame, output sample ``u`` collects frame ``s`` (start ``s``)
only where the synthesis window is non-zero, ``u - s >= a`` (``a``: first non-zero window index), and frame ``s``
reads input up to ``s + b`` (``b``: last non-zero index). So output ``u`` depends on input up to ``u + b - a`` and
no further, and some ``u`` on every frame grid reaches it: :func:`exact_lookahead` returns ``b - a``
(``win - 1`` for a Hamming window, ``win - 2`` for (square-root) Hann, whose first sample is 0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.spectral.stft import STFTConfig, istft, make_window, stft

__all__ = ["causal_stft", "causal_istft", "exact_lookahead", "CausalConv2d", "CausalConvTranspose2d"]


def _check(cfg: STFTConfig) -> None:
    if cfg.center and (cfg.pad_mode != "constant" or cfg.n_fft != 2 * cfg.hop_length or cfg.win != cfg.n_fft):
        raise ConfigError(
            "a causal centred STFT needs pad_mode='constant' and n_fft = win = 2 * hop; use center=False otherwise"
        )


def causal_stft(wave: torch.Tensor, cfg: STFTConfig) -> torch.Tensor:
    """Complex spectrogram ``(B, freq, frames)`` with causal framing (see the module docstring)."""
    _check(cfg)
    if cfg.center:
        return stft(wave, cfg)
    n, hop = wave.shape[-1], cfg.hop_length
    left = cfg.win - hop
    n_fr = max(1, -(-(n + left - cfg.n_fft) // hop) + 1)
    right = cfg.n_fft + hop * (n_fr - 1) - n - left
    return stft(F.pad(wave, (left, right)), cfg)


def causal_istft(spec: torch.Tensor, cfg: STFTConfig, length: int) -> torch.Tensor:
    """Waveform ``(B, length)`` from a spectrogram made by :func:`causal_stft`."""
    _check(cfg)
    if cfg.center:
        return istft(spec, cfg, length=length)
    left = cfg.win - cfg.hop_length
    return istft(spec, cfg, length=left + length)[..., left:]


def exact_lookahead(cfg: STFTConfig) -> int:
    """``b - a`` where ``a``, ``b`` are the first and last non-zero samples of the analysis/synthesis window."""
    w = make_window(cfg, dtype=torch.float64)
    nz = torch.nonzero(w != 0).flatten()
    return int(nz[-1] - nz[0])


class CausalConv2d(nn.Module):
    """``nn.Conv2d`` over ``(B, C, T, F)`` made causal along time: ``(k_t - 1) * d_t`` zero frames on the left.

    Output frame ``t`` sees input frames ``t - (k_t - 1) d_t ... t``; the frequency axis keeps its own padding.
    """

    def __init__(self, in_ch, out_ch, kernel, stride=(1, 1), freq_pad=0, dilation=(1, 1), groups=1, bias=True):
        super().__init__()
        if stride[0] != 1:
            raise ConfigError("CausalConv2d keeps the frame rate: the time stride must be 1")
        self.time_pad = (kernel[0] - 1) * dilation[0]
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, (0, freq_pad), dilation, groups, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 0, self.time_pad, 0)))


class CausalConvTranspose2d(nn.Module):
    """``nn.ConvTranspose2d`` over ``(B, C, T, F)`` with its ``k_t - 1`` trailing output frames dropped.

    A time-stride-1 transposed convolution gives ``y[t] = sum_k W_k x[t - k]``, ``T + k_t - 1`` frames; keeping the
    first ``T`` leaves output frame ``t`` depending on input frames ``<= t`` only (Tan & Wang 2018's causal decoder).
    """

    def __init__(self, in_ch, out_ch, kernel, stride=(1, 1), freq_out_pad=0, groups=1, bias=True, freq_pad=0):
        super().__init__()
        if stride[0] != 1:
            raise ConfigError("CausalConvTranspose2d keeps the frame rate: the time stride must be 1")
        self.conv = nn.ConvTranspose2d(in_ch, out_ch, kernel, stride, (0, freq_pad), (0, freq_out_pad), groups, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)[:, :, : x.shape[2]]
