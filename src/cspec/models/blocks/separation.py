"""Blocks shared by the separation baselines (Conv-TasNet, DPRNN, TF-GridNet, uPIT-BLSTM).

* :class:`PairSpectralSeparator`: the waveform path of the T-F separators (TF-GridNet, uPIT-BLSTM): the mixture
  divided by its standard deviation, STFT, the model's ``pair_forward`` on real pairs (also the ONNX export's
  core), iSTFT and the scale undone.

* :class:`GlobalLayerNorm` (gLN) and :class:`CumulativeLayerNorm` (cLN): Luo & Mesgarani 2019, Conv-TasNet
  (IEEE/ACM TASLP), eqs. (13)-(16); :func:`make_norm` picks one by name.
* :class:`TCNBlock`: the 1-D convolutional block of Conv-TasNet's temporal convolutional network (Fig. 1C):
  1x1 conv, PReLU, norm, dilated depthwise conv, PReLU, norm, then a residual and a skip-connection 1x1 conv.
* :class:`FreeFilterbank`: the learned encoder (1-D conv, window ``L``, stride ``L/2``) and decoder (transposed
  conv, overlap-add of learned bases) of TasNet-style models.
* :func:`segment` / :func:`overlap_add`: DPRNN's dual-path segmentation into 50 %-overlapping chunks and its
  inverse (Luo, Chen & Yoshioka 2020, Sec. 2.1 and 2.3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel
from cspec.spectral.stft import istft, stft

__all__ = [
    "GlobalLayerNorm", "CumulativeLayerNorm", "make_norm", "TCNBlock", "FreeFilterbank", "segment", "overlap_add",
]


class GlobalLayerNorm(nn.Module):
    """gLN (Conv-TasNet eqs. 13-14): one mean and variance over channels and all frames of an item.

    Input ``(batch, channels, *rest)``; ``gamma``/``beta`` are per channel.
    """

    def __init__(self, channels: int, eps: float = 1e-8):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(1, x.dim()))
        mean = x.mean(dims, keepdim=True)
        var = (x - mean).pow(2).mean(dims, keepdim=True)
        view = (1, -1) + (1,) * (x.dim() - 2)
        return self.gamma.view(view) * (x - mean) / torch.sqrt(var + self.eps) + self.beta.view(view)


class CumulativeLayerNorm(nn.Module):
    """cLN (Conv-TasNet eqs. 15-16): at frame ``k`` the statistics of channels x frames ``0..k`` only (causal).

    Input ``(batch, channels, frames)``.
    """

    def __init__(self, channels: int, eps: float = 1e-8):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ConfigError(f"cumulative layer norm expects (batch, channels, frames), got {tuple(x.shape)}")
        count = torch.arange(1, x.shape[-1] + 1, device=x.device, dtype=x.dtype) * x.shape[1]
        mean = x.sum(1, keepdim=True).cumsum(-1) / count
        power = x.pow(2).sum(1, keepdim=True).cumsum(-1) / count
        var = (power - mean.pow(2)).clamp_min(0.0)
        return self.gamma.view(1, -1, 1) * (x - mean) / torch.sqrt(var + self.eps) + self.beta.view(1, -1, 1)


def make_norm(kind: str, channels: int) -> nn.Module:
    """``"gln"`` (non-causal), ``"cln"`` (causal) or ``"bn"`` (batch norm, Conv-TasNet's Table I option)."""
    kind = kind.lower()
    if kind == "gln":
        return GlobalLayerNorm(channels)
    if kind == "cln":
        return CumulativeLayerNorm(channels)
    if kind == "bn":
        return nn.BatchNorm1d(channels)
    raise ConfigError(f"unknown normalisation '{kind}'; choose gln, cln or bn")


class TCNBlock(nn.Module):
    """Conv-TasNet's 1-D conv block (Fig. 1C): ``B -> H`` 1x1, PReLU, norm, depthwise ``P`` with dilation ``d``,
    PReLU, norm, then ``H -> B`` (residual) and ``H -> Sc`` (skip) 1x1 convs. ``causal`` pads on the left only.

    ``forward(x (batch, B, frames))`` returns ``(residual output, skip)``. ``residual=False`` drops the
    residual conv (the last block of a TCN, whose residual output nothing reads) and returns ``x`` unchanged.
    """

    def __init__(self, in_chan: int, hid_chan: int, skip_chan: int, kernel_size: int, dilation: int,
                 norm: str = "gln", causal: bool = False, residual: bool = True):
        super().__init__()
        total = (kernel_size - 1) * dilation
        self.pad = (total, 0) if causal else (total // 2, total - total // 2)
        self.conv_in = nn.Conv1d(in_chan, hid_chan, 1)
        self.act1, self.norm1 = nn.PReLU(), make_norm(norm, hid_chan)
        self.depthwise = nn.Conv1d(hid_chan, hid_chan, kernel_size, dilation=dilation, groups=hid_chan)
        self.act2, self.norm2 = nn.PReLU(), make_norm(norm, hid_chan)
        self.res = nn.Conv1d(hid_chan, in_chan, 1) if residual else None
        self.skip = nn.Conv1d(hid_chan, skip_chan, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.norm1(self.act1(self.conv_in(x)))
        y = self.norm2(self.act2(self.depthwise(F.pad(y, self.pad))))
        return (x if self.res is None else x + self.res(y)), self.skip(y)


class FreeFilterbank(nn.Module):
    """TasNet's learned encoder/decoder: ``N`` bases of ``L`` samples, hop ``stride`` (``L // 2`` by default).

    The waveform is padded by ``stride`` samples in front and by ``stride`` plus the remainder at the end, so
    that every sample is covered by ``L / stride`` frames; :meth:`decode` overlap-adds and cuts back to ``length``.
    """

    def __init__(self, n_filters: int, kernel_size: int, stride: int | None = None):
        super().__init__()
        self.stride = stride or max(kernel_size // 2, 1)
        self.kernel_size = kernel_size
        self.encoder = nn.Conv1d(1, n_filters, kernel_size, stride=self.stride, bias=False)
        self.decoder = nn.ConvTranspose1d(n_filters, 1, kernel_size, stride=self.stride, bias=False)

    def _pads(self, length: int) -> tuple[int, int]:
        front = self.stride
        core = length + 2 * front
        extra = (-(core - self.kernel_size)) % self.stride if core >= self.kernel_size else self.kernel_size - core
        return front, front + extra

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, N, frames)``."""
        return self.encoder(F.pad(wave.unsqueeze(1), self._pads(wave.shape[-1])))

    def decode(self, rep: torch.Tensor, length: int) -> torch.Tensor:
        """``(..., N, frames)`` -> ``(..., length)``."""
        lead = rep.shape[:-2]
        wave = self.decoder(rep.reshape(-1, *rep.shape[-2:])).squeeze(1)
        front = self._pads(length)[0]
        return wave[..., front:front + length].reshape(*lead, length)


def segment(x: torch.Tensor, chunk: int, hop: int) -> torch.Tensor:
    """``(batch, N, frames)`` -> ``(batch, N, chunk, n_chunks)``: chunks of ``chunk`` frames every ``hop``.

    The sequence is zero-padded by ``hop`` at both ends (plus the remainder at the end), DPRNN Sec. 2.1.
    """
    length = x.shape[-1]
    core = length + 2 * hop
    rest = (-(core - chunk)) % hop if core >= chunk else chunk - core
    x = F.pad(x, (hop, hop + rest))
    return x.unfold(-1, chunk, hop).transpose(-1, -2)


def overlap_add(x: torch.Tensor, hop: int, length: int) -> torch.Tensor:
    """Inverse of :func:`segment` up to the overlap: ``(batch, N, chunk, n_chunks)`` -> ``(batch, N, length)``.

    Chunks are summed where they overlap (DPRNN Sec. 2.3); the padding of :func:`segment` is cut off.
    """
    b, n, chunk, n_chunks = x.shape
    total = (n_chunks - 1) * hop + chunk
    cols = x.reshape(b, n * chunk, n_chunks)
    out = F.fold(cols, output_size=(total, 1), kernel_size=(chunk, 1), stride=(hop, 1))
    return out.reshape(b, n, total)[..., hop:hop + length]


class PairSpectralSeparator(SpeechModel):
    """Base of the separators whose network maps the mixture's spectrum to the speakers' on real pairs.

    Subclasses set ``stft_config`` and ``n_sources`` and implement ``pair_forward(re, im) -> (re, im)``: the
    speakers' spectra ``(B, C, F, T)`` from the scaled mixture's ``(B, F, T)``. :class:`cspec.infer.onnx_graphs.
    SpectralGraph` exports the same path with the STFT as convolutions.
    """

    def input_scale(self, wave: torch.Tensor) -> torch.Tensor:
        """``1 / std(wave)`` per item ``(batch, 1)``: the mixture is divided by its standard deviation on the way in
        and the estimates multiplied by it on the way out."""
        return 1.0 / wave.std(-1, keepdim=True).clamp_min(1e-8)

    def pair_forward(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, wave: torch.Tensor) -> dict:
        wave = self._check_input(wave)
        scale = self.input_scale(wave)
        spec = stft(wave * scale, self.stft_config)  # (B, F, T) complex
        est_spec = torch.complex(*self.pair_forward(spec.real, spec.imag))  # (B, C, F, T)
        est = istft(est_spec, self.stft_config, length=wave.shape[-1]) / scale.unsqueeze(1)
        if self.n_sources == 1:
            est, est_spec = est[:, 0], est_spec[:, 0]
        return {"wave": est, "spec": est_spec}
