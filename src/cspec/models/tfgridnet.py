"""TF-GridNet: Wang, Cornell, Choi, Lee, Kim & Watanabe 2023, "TF-GridNet: Integrating full- and sub-band
modeling for speech separation", IEEE/ACM TASLP 31.

Complex spectral mapping (Sec. III): the real and imaginary parts of the mixture STFT (``tfgridnet8k``: 16 ms
Hann window, 8 ms hop at 8 kHz, 65 bins) are stacked as 2 channels, embedded by a 3x3 Conv2d + gLN into ``D``
channels, processed by ``B`` TF-GridNet blocks (Fig. 2) and mapped by a 3x3 ConvTranspose2d to the real and
imaginary parts of every speaker, followed by the iSTFT. Each block has

* an intra-frame full-band module (eqs. 3-5): LayerNorm over channels, unfold of ``I`` neighbouring bins with
  stride ``J``, a BLSTM of ``H`` units per direction along frequency, a 1-D transposed conv back to ``D``
  channels, residual;
* a sub-band temporal module (eqs. 6-8): the same along time, for each frequency;
* a cross-frame self-attention module (eqs. 9-12): ``L`` heads, 1x1 convs + PReLU + LayerNorm over (channels,
  frequency) giving per-frame queries/keys of ``E x F`` and values of ``D/L x F`` values, softmax attention
  across frames, a 1x1 conv + PReLU + LayerNorm projection, residual.

Defaults: the authors' WSJ0-2mix configuration, D=48, B=6, I=4, J=1, H=192, L=4 and E = ceil(512 / F) = 8 at the
65 bins of the 16 ms / 8 ms STFT, as the first author released it with the code (ESPnet-SE, PR espnet/espnet#4864
and ``egs2/wsj0_2mix/enh1/conf/tuning/train_enh_tfgridnet_tf_lr-patience3_patience5.yaml``: ``emb_dim 48,
emb_ks 4, emb_hs 1, lstm_hidden_units 192, n_layers 6, attn_n_head 4, attn_approx_qk_dim 512, n_fft 128,
stride 64``); the author notes there that the journal's 23.2 dB (at submission) used a 32 ms window with the same
D, I, J and H, and that this 16 ms setting reaches 22.8 dB. It counts 8.176 M parameters. The 14.4 M that the
journal's comparison table gives (quoted by later papers) is not reproduced by this configuration, and the
paper's text was not at hand to say which one it counts; ``paper_params`` is therefore ``None``. (An earlier
cspec default, D=64, I=4, H=256, E=4, had been chosen because it counts 14.398 M: fitted, not read.)
``build("tfgridnet", emb_dim=128, kernel=1, hidden=192)`` builds the authors' faster later setting (ESPnet
PR #5395, 23.1 dB). The mixture is divided by its standard deviation on the way in and the estimates multiplied
by it on the way out (a scale normalisation of the reference implementation, not an equation of the paper).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import register
from cspec.models.blocks.separation import PairSpectralSeparator
from cspec.spectral.stft import get_preset

__all__ = ["TFGridNet", "GridBlock", "CrossFrameAttention"]


class _NormCF(nn.Module):
    """LayerNorm over channels x frequency of each frame of ``(batch, ..., C, T, F)``; affine per (C, F)."""

    def __init__(self, shape: tuple[int, ...], eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(*shape))  # (..., C, 1, F)
        self.beta = nn.Parameter(torch.zeros(*shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = (-3, -1)
        mean = x.mean(dims, keepdim=True)
        var = (x - mean).pow(2).mean(dims, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.gamma + self.beta


class _AlongAxis(nn.Module):
    """Norm, unfold (kernel ``I``, stride ``J``), BLSTM, transposed conv and residual along the last axis.

    Input ``(batch, D, rows, length)``; each of the ``batch x rows`` sequences is processed independently.
    """

    def __init__(self, channels: int, hidden: int, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.norm = nn.LayerNorm(channels, eps=1e-5)
        self.rnn = nn.LSTM(channels * kernel, hidden, batch_first=True, bidirectional=True)
        self.deconv = nn.ConvTranspose1d(2 * hidden, channels, kernel, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, d, rows, n = x.shape
        # pad so that the windows of I cover every position: I + J * ceil((n - I) / J) samples (n >= I)
        pad = (-(n - self.kernel)) % self.stride if n >= self.kernel else self.kernel - n
        y = self.norm(x.permute(0, 2, 3, 1)).permute(0, 1, 3, 2).reshape(b * rows, d, n)  # (b*rows, D, n)
        y = _unfold(F.pad(y, (0, pad)), self.kernel, self.stride)  # (b*rows, D*I, n')
        y = self.deconv(self.rnn(y.transpose(1, 2))[0].transpose(1, 2))[..., :n]  # (b*rows, D, n)
        return x + y.reshape(b, rows, d, n).transpose(1, 2)


def _unfold(y: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """``F.unfold(y[..., None], (kernel, 1), stride=(stride, 1))`` for ``y (N, D, L)``: ``(N, D * kernel, L')``
    with channel ``d * kernel + i`` holding ``y[:, d, i + stride * t]``, written as strided slices so that the
    ONNX export keeps the length dynamic (the exporter cannot size ``Im2Col``'s input)."""
    span = y.shape[-1] - kernel + 1  # y[..., i : i + span : stride] has L' = ceil(span / stride) columns
    cols = [y[..., i:i + span:stride] for i in range(kernel)]
    return torch.stack(cols, 2).flatten(1, 2)


class CrossFrameAttention(nn.Module):
    """Eqs. 9-12: ``L``-head self-attention across frames with per-frame vectors of ``E*F`` (Q, K), ``D/L*F`` (V)."""

    def __init__(self, channels: int, n_freqs: int, heads: int, qk_dim: int, eps: float = 1e-5):
        super().__init__()
        if channels % heads:
            raise ConfigError(f"TF-GridNet needs the embedding dim D={channels} divisible by the heads L={heads}")
        self.heads, self.e, self.v = heads, qk_dim, channels // heads
        self.qkv = nn.Conv2d(channels, heads * (2 * qk_dim + self.v), 1)
        self.act_q, self.act_k, self.act_v = nn.PReLU(heads), nn.PReLU(heads), nn.PReLU(heads)
        self.norm_q = _NormCF((heads, qk_dim, 1, n_freqs), eps)
        self.norm_k = _NormCF((heads, qk_dim, 1, n_freqs), eps)
        self.norm_v = _NormCF((heads, self.v, 1, n_freqs), eps)
        self.proj = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.PReLU())
        self.norm_out = _NormCF((channels, 1, n_freqs), eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, d, t, f = x.shape
        qkv = self.qkv(x).view(b, self.heads, 2 * self.e + self.v, t, f)
        q, k, v = qkv.split([self.e, self.e, self.v], dim=2)
        q = self.norm_q(self.act_q(q)).transpose(2, 3).reshape(b, self.heads, t, -1)
        k = self.norm_k(self.act_k(k)).transpose(2, 3).reshape(b, self.heads, t, -1)
        v = self.norm_v(self.act_v(v)).transpose(2, 3).reshape(b, self.heads, t, -1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)  # (b, L, t, t)
        out = (att @ v).view(b, self.heads, t, self.v, f).permute(0, 1, 3, 2, 4).reshape(b, d, t, f)
        return x + self.norm_out(self.proj(out))


class GridBlock(nn.Module):
    """One TF-GridNet block (Fig. 2) on ``(batch, D, T, F)``: intra-frame, sub-band temporal, attention."""

    def __init__(self, channels: int, n_freqs: int, hidden: int, kernel: int, stride: int, heads: int, qk_dim: int):
        super().__init__()
        self.intra = _AlongAxis(channels, hidden, kernel, stride)  # along frequency, per frame
        self.inter = _AlongAxis(channels, hidden, kernel, stride)  # along time, per frequency
        self.attention = CrossFrameAttention(channels, n_freqs, heads, qk_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.intra(x)
        x = self.inter(x.transpose(2, 3)).transpose(2, 3)
        return self.attention(x)


@register("tfgridnet")
class TFGridNet(PairSpectralSeparator):
    """TF-GridNet (Wang et al. 2023) with the authors' WSJ0-2mix configuration as defaults (module docstring).

    Args:
        emb_dim: ``D``, channels of the T-F embedding.
        n_blocks: ``B``.
        kernel: ``I``, bins (frames) unfolded into one LSTM input.
        stride: ``J``, hop of the unfolding.
        hidden: ``H``, LSTM units per direction.
        heads: ``L``, attention heads.
        qk_dim: ``E``, query/key channels per head (``E * F`` values per frame).
        n_sources: speakers separated.
        stft: STFT preset name.

    Deviation: none in the network (the four heads share one 1x1 conv, which has the same parameters as four).
    """

    paper = "Wang, Cornell, Choi, Lee, Kim & Watanabe 2023, TF-GridNet, IEEE/ACM TASLP 31"
    paper_params = None  # the configuration's count is not the table's 14.4 M (module docstring)

    def __init__(self, emb_dim: int = 48, n_blocks: int = 6, kernel: int = 4, stride: int = 1, hidden: int = 192,
                 heads: int = 4, qk_dim: int = 8, n_sources: int = 2, stft: str = "tfgridnet8k"):
        super().__init__()
        self.stft_config = get_preset(stft)
        self.sample_rate, self.n_sources = self.stft_config.sample_rate, int(n_sources)
        n_freqs = self.stft_config.n_freqs
        self.embed = nn.Sequential(nn.Conv2d(2, emb_dim, 3, padding=1), nn.GroupNorm(1, emb_dim, eps=1e-5))
        self.blocks = nn.Sequential(
            *(GridBlock(emb_dim, n_freqs, hidden, kernel, stride, heads, qk_dim) for _ in range(n_blocks))
        )
        self.out = nn.ConvTranspose2d(emb_dim, 2 * n_sources, 3, padding=1)

    def pair_forward(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The speakers' spectra ``(B, C, F, T)`` from the scaled mixture's ``(B, F, T)``, on real pairs (complex
        spectral mapping; also the ONNX export's core, :mod:`cspec.infer.onnx_graphs`)."""
        x = torch.stack([re, im], 1).transpose(2, 3)  # (B, 2, T, F)
        y = self.out(self.blocks(self.embed(x)))  # (B, 2C, T, F)
        y = y.view(y.shape[0], self.n_sources, 2, y.shape[-2], y.shape[-1]).transpose(-1, -2)  # (B, C, 2, F, T)
        return y[:, :, 0], y[:, :, 1]
