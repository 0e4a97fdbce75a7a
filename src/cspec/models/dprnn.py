"""DPRNN-TasNet: Luo, Chen & Yoshioka 2020, "Dual-path RNN: efficient long sequence modeling for time-domain
single-channel speech separation", ICASSP.

TasNet's learned encoder/decoder (here ``N = 64`` bases of ``L = 2`` samples, hop 1, the paper's best) around a
dual-path RNN separator (Sec. 2, Fig. 1): gLN and a 1x1 bottleneck, segmentation of the frame sequence into
chunks of ``K`` frames with 50 % overlap (Sec. 2.1), ``6`` DPRNN blocks each made of an intra-chunk and an
inter-chunk bidirectional LSTM (128 units per direction), a linear layer back to ``N`` channels, gLN and a
residual connection (eqs. 1-4, Sec. 2.2), then PReLU, a 1x1 conv to ``C * N`` channels, overlap-add (Sec. 2.3),
a tanh x sigmoid output gate, a 1x1 conv and a sigmoid mask per source. ``K = 250`` for ``L = 2`` as in Table 1
(the paper picks ``K`` near ``sqrt(2 * frames)``). WSJ0-2mix at 8 kHz; 2.6 M parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel, register
from cspec.models.blocks.separation import FreeFilterbank, GlobalLayerNorm, overlap_add, segment

__all__ = ["DPRNN", "DualPathBlock"]


def _segment(x: torch.Tensor, chunk: int, hop: int, eye: torch.Tensor) -> torch.Tensor:
    """:func:`~cspec.models.blocks.separation.segment`; during an ONNX export the same chunks come from a strided
    ``conv1d`` with the identity kernel (``out[k, s] = x[s * hop + k]``), which keeps the length dynamic where
    the exporter cannot size ``Tensor.unfold``'s input."""
    if not torch.onnx.is_in_onnx_export():
        return segment(x, chunk, hop)
    core = x.shape[-1] + 2 * hop
    rest = (-(core - chunk)) % hop if core >= chunk else chunk - core
    x = F.pad(x, (hop, hop + rest))
    b, n, length = x.shape
    return F.conv1d(x.reshape(b * n, 1, length), eye.to(x.dtype), stride=hop).reshape(b, n, chunk, -1)


def _overlap_add(x: torch.Tensor, hop: int, length: int, eye: torch.Tensor) -> torch.Tensor:
    """:func:`~cspec.models.blocks.separation.overlap_add`; during an ONNX export the overlap-add is a strided
    ``conv_transpose1d`` with the identity kernel (``out[s * hop + k] += x[k, s]``), as ``F.fold`` sums."""
    if not torch.onnx.is_in_onnx_export():
        return overlap_add(x, hop, length)
    b, n, chunk, n_chunks = x.shape
    out = F.conv_transpose1d(x.reshape(b * n, chunk, n_chunks), eye.to(x.dtype), stride=hop)  # (b n, 1, total)
    return out.reshape(b, n, -1)[..., hop:hop + length]


class DualPathBlock(nn.Module):
    """One DPRNN block (eqs. 1-4): intra-chunk then inter-chunk BLSTM, each ``-> Linear -> gLN -> + input``.

    Input and output ``(batch, N, K, S)`` (feature, within-chunk frame, chunk index).
    """

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.intra_rnn = nn.LSTM(channels, hidden, batch_first=True, bidirectional=True)
        self.intra_fc = nn.Linear(2 * hidden, channels)
        self.intra_norm = GlobalLayerNorm(channels)
        self.inter_rnn = nn.LSTM(channels, hidden, batch_first=True, bidirectional=True)
        self.inter_fc = nn.Linear(2 * hidden, channels)
        self.inter_norm = GlobalLayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, k, s = x.shape
        # intra-chunk: sequences along K, one per (item, chunk)
        seq = x.permute(0, 3, 2, 1).reshape(b * s, k, n)
        y = self.intra_fc(self.intra_rnn(seq)[0]).reshape(b, s, k, n).permute(0, 3, 2, 1)
        x = x + self.intra_norm(y)
        # inter-chunk: sequences along S, one per (item, position in chunk)
        seq = x.permute(0, 2, 3, 1).reshape(b * k, s, n)
        y = self.inter_fc(self.inter_rnn(seq)[0]).reshape(b, k, s, n).permute(0, 3, 1, 2)
        return x + self.inter_norm(y)


@register("dprnn")
class DPRNN(SpeechModel):
    """DPRNN-TasNet (Luo et al. 2020) with the paper's best configuration (``L = 2``, ``K = 250``) as defaults.

    Args:
        n_filters: ``N``, encoder bases (also the feature size inside the DPRNN blocks).
        kernel_size: ``L``, basis length in samples (hop ``L // 2``).
        chunk_size: ``K``, frames per chunk (hop ``K // 2``).
        hidden: LSTM units per direction.
        n_blocks: DPRNN blocks.
        n_sources: speakers separated.
        sample_rate: 8000 as in the paper.

    Deviation: the paper does not spell out the mask head; we follow the authors' released TasNet code
    (PReLU, 1x1 conv, overlap-add, tanh x sigmoid gate, 1x1 conv) with a sigmoid mask as in Conv-TasNet.
    """

    paper = "Luo, Chen & Yoshioka 2020, Dual-path RNN, ICASSP"
    paper_params = 2.6

    def __init__(self, n_filters: int = 64, kernel_size: int = 2, chunk_size: int = 250, hidden: int = 128,
                 n_blocks: int = 6, n_sources: int = 2, sample_rate: int = 8000):
        super().__init__()
        if chunk_size < 2 or n_sources < 1 or kernel_size < 1:
            raise ConfigError("DPRNN needs chunk_size >= 2, kernel_size >= 1 and n_sources >= 1")
        self.sample_rate, self.n_sources, self.stft_config = int(sample_rate), int(n_sources), None
        paper = (n_filters, kernel_size, hidden, n_blocks, n_sources) == (64, 2, 128, 6, 2)
        self.paper_params = type(self).paper_params if paper else None
        self.chunk, self.hop = chunk_size, chunk_size // 2
        # the identity kernel (K, 1, K) of the export's segmentation (not saved: the state dict is the paper's)
        self.register_buffer("eye", torch.eye(chunk_size)[:, None, :], persistent=False)
        n = n_filters
        self.filterbank = FreeFilterbank(n, kernel_size)
        self.bottleneck = nn.Sequential(GlobalLayerNorm(n), nn.Conv1d(n, n, 1))
        self.blocks = nn.Sequential(*(DualPathBlock(n, hidden) for _ in range(n_blocks)))
        self.to_sources = nn.Sequential(nn.PReLU(), nn.Conv2d(n, n_sources * n, 1))
        self.gate_tanh = nn.Sequential(nn.Conv1d(n, n, 1), nn.Tanh())
        self.gate_sigmoid = nn.Sequential(nn.Conv1d(n, n, 1), nn.Sigmoid())
        self.mask_conv = nn.Conv1d(n, n, 1, bias=False)

    def forward(self, wave: torch.Tensor) -> dict:
        wave = self._check_input(wave)
        rep = self.filterbank.encode(wave)  # (B, N, frames)
        b, n, frames = rep.shape
        x = self.blocks(_segment(self.bottleneck(rep), self.chunk, self.hop, self.eye))
        x = self.to_sources(x)  # (B, C*N, K, S)
        x = _overlap_add(x.reshape(b * self.n_sources, n, *x.shape[-2:]), self.hop, frames, self.eye)
        masks = torch.sigmoid(self.mask_conv(self.gate_tanh(x) * self.gate_sigmoid(x)))
        masks = masks.view(b, self.n_sources, n, frames)
        est = self.filterbank.decode(masks * rep.unsqueeze(1), wave.shape[-1])
        if self.n_sources == 1:
            est, masks = est[:, 0], masks[:, 0]
        return {"wave": est, "mask": masks, "rep": rep}
