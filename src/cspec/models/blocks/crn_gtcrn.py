"""Building blocks of GTCRN (Rong et al., "GTCRN: A speech enhancement model requiring ultralow
computational resources", ICASSP 2024, Sec. 2 and Fig. 1): ERB band merging/splitting, subband feature
extraction (SFE), temporal recurrent attention (TRA), the grouped temporal convolution block (GTConv) and the
grouped dual-path RNN (G-DPRNN). Every block is causal along time; all tensors are ``(B, C, T, F)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.models.blocks.crn_common import CausalConv2d

__all__ = ["erb_filterbank", "ERB", "SFE", "TRA", "GTConv", "GroupedGRU", "GDPRNN"]


def _hz_to_erb(f: torch.Tensor) -> torch.Tensor:
    return 21.4 * torch.log10(1.0 + 0.00437 * f)  # ERB-rate scale (Glasberg & Moore 1990)


def _erb_to_hz(e: torch.Tensor) -> torch.Tensor:
    return (10.0 ** (e / 21.4) - 1.0) / 0.00437


def erb_filterbank(n_low: int, n_bands: int, n_fft: int = 512, sample_rate: int = 16000) -> torch.Tensor:
    """Triangular filters ``(n_bands, n_freqs - n_low)`` over the bins from ``n_low`` up to Nyquist.

    The band centres are ``n_bands`` points equally spaced on the ERB-rate scale from bin ``n_low`` to Nyquist,
    rounded to bins; neighbouring triangles cross at half height, so the filters sum to one in every bin.
    """
    n_freqs = n_fft // 2 + 1
    if not 0 < n_low < n_freqs - 1 or n_bands < 2:
        raise ConfigError(f"ERB bands need 0 < n_low < {n_freqs - 1} and at least 2 bands, got {n_low}, {n_bands}")
    lo, hi = torch.tensor(n_low * sample_rate / n_fft, dtype=torch.float64), torch.tensor(sample_rate / 2.0)
    erbs = torch.linspace(float(_hz_to_erb(lo)), float(_hz_to_erb(hi.double())), n_bands, dtype=torch.float64)
    centres = torch.round(_erb_to_hz(erbs) * n_fft / sample_rate).long().tolist()
    if any(b <= a for a, b in zip(centres, centres[1:])):
        raise ConfigError(f"{n_bands} ERB bands above bin {n_low} are narrower than one bin; use fewer bands")
    fb = torch.zeros(n_bands, n_freqs, dtype=torch.float64)
    k = torch.arange(n_freqs, dtype=torch.float64)
    for i, c in enumerate(centres):
        if i > 0:
            left = centres[i - 1]
            fb[i, left:c] = (k[left:c] - left) / (c - left)
        fb[i, c] = 1.0
        if i < n_bands - 1:
            right = centres[i + 1]
            fb[i, c + 1 : right + 1] = (right - k[c + 1 : right + 1]) / (right - c)
    return fb[:, n_low:].float()


class ERB(nn.Module):
    """Band merging (``bm``) and splitting (``bs``) of GTCRN: the ``n_low`` lowest bins pass unchanged, the others
    are merged into ``n_bands`` ERB bands by the fixed filters (and spread back with their transpose).
    The filters are buffers, not trained (the paper's 23.7 k parameters exclude them; with them: 48.2 k)."""

    def __init__(self, n_low: int = 65, n_bands: int = 64, n_fft: int = 512, sample_rate: int = 16000):
        super().__init__()
        self.n_low = n_low
        self.register_buffer("fb", erb_filterbank(n_low, n_bands, n_fft, sample_rate))

    def bm(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[..., : self.n_low], x[..., self.n_low :] @ self.fb.T], dim=-1)

    def bs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[..., : self.n_low], x[..., self.n_low :] @ self.fb], dim=-1)


class SFE(nn.Module):
    """Subband feature extraction: each bin gets its ``kernel`` neighbours' features as extra channels
    (channel ``c * kernel + j`` holds channel ``c`` of bin ``f + j - kernel // 2``, zeros past the edges)."""

    def __init__(self, kernel: int = 3):
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half, n_f = self.kernel // 2, x.shape[-1]
        xp = F.pad(x, (half, self.kernel - 1 - half))
        return torch.stack([xp[..., j : j + n_f] for j in range(self.kernel)], dim=2).flatten(1, 2)


class TRA(nn.Module):
    """Temporal recurrent attention: frame energies per channel ``mean_f x^2`` -> GRU (2C units) -> linear ->
    sigmoid, a per-channel, per-frame gain. The GRU runs forward in time, so the gain is causal."""

    def __init__(self, channels: int):
        super().__init__()
        self.gru = nn.GRU(channels, 2 * channels, batch_first=True)
        self.fc = nn.Linear(2 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        energy = x.pow(2).mean(-1).transpose(1, 2)  # (B, T, C)
        gain = torch.sigmoid(self.fc(self.gru(energy)[0])).transpose(1, 2)  # (B, C, T)
        return x * gain.unsqueeze(-1)


class GTConv(nn.Module):
    """Grouped temporal convolution block: the channels split in two halves; one half goes through SFE, a
    point-wise conv (BN, PReLU), a causal depth-wise 3 x 3 conv dilated ``dilation`` frames in time (BN, PReLU),
    a point-wise conv back to half the channels (BN) and TRA; the halves are then interleaved (channel shuffle).
    The paper's decoder uses the transposed form of this block; with stride 1 and causal trimming a transposed
    convolution is a convolution with a flipped kernel, so the same block (same parameter count) serves both."""

    def __init__(self, channels: int = 16, hidden: int = 16, dilation: int = 1, kernel: int = 3):
        super().__init__()
        if channels % 2:
            raise ConfigError(f"GTConv splits its channels in two halves: {channels} is odd")
        half = channels // 2
        self.sfe = SFE(3)
        self.point1 = nn.Sequential(nn.Conv2d(3 * half, hidden, 1), nn.BatchNorm2d(hidden), nn.PReLU())
        self.depth = CausalConv2d(hidden, hidden, (kernel, 3), freq_pad=1, dilation=(dilation, 1), groups=hidden)
        self.depth_post = nn.Sequential(nn.BatchNorm2d(hidden), nn.PReLU())
        self.point2 = nn.Sequential(nn.Conv2d(hidden, half, 1), nn.BatchNorm2d(half))
        self.tra = TRA(half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        h = self.point1(self.sfe(x1))
        h = self.tra(self.point2(self.depth_post(self.depth(h))))
        return torch.stack([h, x2], dim=2).flatten(1, 2)


class GroupedGRU(nn.Module):
    """Two GRUs, each on one half of the features (grouped RNN, Gao et al. 2018), outputs concatenated."""

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool = False):
        super().__init__()
        self.rnns = nn.ModuleList(
            nn.GRU(input_size // 2, hidden_size // 2, batch_first=True, bidirectional=bidirectional)
            for _ in range(2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([rnn(part)[0] for rnn, part in zip(self.rnns, x.chunk(2, dim=-1))], dim=-1)


class GDPRNN(nn.Module):
    """Grouped dual-path RNN: an intra-frame grouped GRU, bidirectional along frequency (within one frame, so
    still causal), then an inter-frame grouped GRU, forward in time; each followed by a linear layer (which also
    mixes the two groups: the paper's feature rearrangement), a layer norm over (freq, channels) and a residual.

    ``scale`` multiplies the GRUs' hidden units (1: the paper's, ``channels / 4`` per direction and group in the
    intra-frame GRU, ``channels / 2`` per group in the inter-frame GRU); the linear layers map them back to
    ``channels``, so the block's input and output keep their size (cspec's option for a wider GTCRN)."""

    def __init__(self, channels: int = 16, width: int = 33, scale: int = 1):
        super().__init__()
        if channels % 4:
            raise ConfigError(f"G-DPRNN needs channels divisible by 4 (two groups, two directions), got {channels}")
        if int(scale) < 1:
            raise ConfigError(f"G-DPRNN's scale must be a whole number >= 1, got {scale}")
        s = int(scale)
        self.intra = GroupedGRU(channels, s * channels // 2, bidirectional=True)
        self.intra_fc = nn.Linear(s * channels, channels)
        self.intra_ln = nn.LayerNorm((width, channels), eps=1e-8)
        self.inter = GroupedGRU(channels, s * channels)
        self.inter_fc = nn.Linear(s * channels, channels)
        self.inter_ln = nn.LayerNorm((width, channels), eps=1e-8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, f = x.shape
        x = x.permute(0, 2, 3, 1)  # (B, T, F, C)
        intra = self.intra_fc(self.intra(x.reshape(b * t, f, c))).reshape(b, t, f, c)
        x = x + self.intra_ln(intra)
        seq = x.transpose(1, 2).reshape(b * f, t, c)
        inter = self.inter_fc(self.inter(seq)).reshape(b, f, t, c).transpose(1, 2)
        x = x + self.inter_ln(inter)
        return x.permute(0, 3, 1, 2)

