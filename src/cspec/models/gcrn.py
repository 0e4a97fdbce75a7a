"""GCRN: the gated convolutional recurrent network of Tan & Wang (2020) for complex spectral mapping.

Ke Tan, DeLiang Wang, "Learning complex spectral mapping with gated convolutional recurrent networks for monaural
speech enhancement", IEEE/ACM TASLP 28, 380-390, 2020 (Fig. 4 and Table I). The real and imaginary parts of the
noisy STFT (two channels, 161 bins, 20 ms frames, 10 ms hop at 16 kHz) go through

* an encoder of five gated convolutions (GLU: ``conv_a(x) * sigmoid(conv_b(x))``), kernel 1 x 3 (time x
  frequency), stride 1 x 2, 16-32-64-128-256 channels, each with batch norm and ELU: 161 -> 80 -> 39 -> 19 -> 9 -> 4;
* a grouped LSTM (Gao et al. 2018, "Efficient sequence learning with group recurrent networks"): two layers of
  1024 units in K = 2 groups of 512, the representation rearranged (the groups' features interleaved) between the
  layers so that every group of the second layer sees both groups of the first, layer norm after each layer;
* two decoders, one for the real and one for the imaginary part, each of five gated transposed convolutions fed
  with the previous layer concatenated with the mirrored encoder output (skip connections), BN and ELU, and a
  linear layer of 161 units on the last layer's output,

which directly estimate the clean real and imaginary spectra (complex spectral mapping, no mask). Every layer is
frame-wise along time (kernel length 1) and the LSTMs are unidirectional, so with the causal framing of
:mod:`cspec.models.blocks.crn_common` the model is causal and :meth:`GCRN.lookahead` is exact (319 samples).
The paper reports 9.77 M parameters; the default configuration here has 9.77 M.

Deviations: the periodic Hamming window of :data:`cspec.models.crn.CRN_STFT` and the library's least-squares
overlap-add (the authors' code: symmetric Hamming analysis, rectangular synthesis). Skip concatenation follows the
authors' code: the decoder output is batch-normalised, concatenated with the skip, then passed through ELU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel, register
from cspec.models.blocks.crn_common import causal_istft, causal_stft, exact_lookahead
from cspec.models.crn import CRN_STFT, encoder_sizes

__all__ = ["GCRN", "GatedConv", "GroupedLSTM"]


class GatedConv(nn.Module):
    """Gated linear unit convolution ``conv_a(x) * sigmoid(conv_b(x))`` (Dauphin et al. 2017), plain or transposed."""

    def __init__(self, c_in: int, c_out: int, kernel, stride, transposed: bool = False, out_pad=(0, 0)):
        super().__init__()
        if transposed:
            self.a = nn.ConvTranspose2d(c_in, c_out, kernel, stride, output_padding=out_pad)
            self.b = nn.ConvTranspose2d(c_in, c_out, kernel, stride, output_padding=out_pad)
        else:
            self.a = nn.Conv2d(c_in, c_out, kernel, stride)
            self.b = nn.Conv2d(c_in, c_out, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) * torch.sigmoid(self.b(x))


class GroupedLSTM(nn.Module):
    """Stacked grouped LSTM over ``(B, T, width)``: each layer runs ``groups`` LSTMs of ``width / groups`` units on
    contiguous slices; between layers the features are interleaved across groups (representation rearrangement);
    a layer norm follows every layer (Tan & Wang 2020, Sec. III-C)."""

    def __init__(self, width: int, groups: int = 2, layers: int = 2):
        super().__init__()
        if width % groups:
            raise ConfigError(f"grouped LSTM width {width} is not divisible by {groups} groups")
        self.groups = groups
        size = width // groups
        self.layers = nn.ModuleList(
            nn.ModuleList(nn.LSTM(size, size, batch_first=True) for _ in range(groups)) for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, (lstms, norm) in enumerate(zip(self.layers, self.norms)):
            outs = [lstm(part)[0] for lstm, part in zip(lstms, x.chunk(self.groups, dim=-1))]
            if i < len(self.layers) - 1:  # rearrangement: feature j of group g -> position j * groups + g
                x = torch.stack(outs, dim=-1).flatten(-2)
            else:
                x = torch.cat(outs, dim=-1)
            x = norm(x)
        return x


@register("gcrn")
class GCRN(SpeechModel):
    """Tan & Wang 2020 GCRN (defaults: the paper's configuration, 9.77 M parameters).

    Args:
        channels: encoder output channels (each decoder mirrors them).
        lstm_groups: groups of the grouped LSTM (2 in the paper); its width is ``channels[-1] * bins`` (1024).
        lstm_layers: grouped LSTM layers (2).
    """

    sample_rate = 16000
    stft_config = CRN_STFT
    causal = True
    paper = (
        "Tan & Wang, 2020, IEEE/ACM TASLP: Learning complex spectral mapping with gated convolutional recurrent "
        "networks for monaural speech enhancement"
    )
    paper_params = 9.77

    def __init__(self, channels: tuple = (16, 32, 64, 128, 256), lstm_groups: int = 2, lstm_layers: int = 2):
        super().__init__()
        chans = [int(c) for c in channels]
        self.n_freqs = self.stft_config.n_freqs
        sizes = encoder_sizes(self.n_freqs, len(chans))
        k, s = (1, 3), (1, 2)
        self.encoder = nn.ModuleList(
            nn.ModuleList([GatedConv(c_in, c_out, k, s), nn.BatchNorm2d(c_out)])
            for c_in, c_out in zip([2] + chans[:-1], chans)
        )
        self.rnn = GroupedLSTM(chans[-1] * sizes[-1], int(lstm_groups), int(lstm_layers))
        outs = chans[-2::-1] + [1]
        self.decoders = nn.ModuleList()
        for _ in range(2):  # real, imaginary
            layers = nn.ModuleList()
            for i, (c_skip, c_out) in enumerate(zip(chans[::-1], outs)):
                extra = sizes[-2 - i] - ((sizes[-1 - i] - 1) * 2 + 3)
                conv = GatedConv(2 * c_skip, c_out, k, s, transposed=True, out_pad=(0, extra))
                layers.append(nn.ModuleList([conv, nn.BatchNorm2d(c_out)]))
            self.decoders.append(layers)
        self.heads = nn.ModuleList(nn.Linear(self.n_freqs, self.n_freqs) for _ in range(2))

    def lookahead(self) -> int:
        return exact_lookahead(self.stft_config)

    def estimate_pair(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real and imaginary parts ``(B, freq, frames)`` of the clean spectrum from those of the noisy one (the
        network of Fig. 4 on real tensors, shared by :meth:`estimate` and the streaming/ONNX path)."""
        x = torch.stack([re, im], dim=1).transpose(2, 3)  # (B, 2, T, F)
        skips = []
        for conv, norm in self.encoder:
            x = F.elu(norm(conv(x)))
            skips.append(x)
        b, c, t, f = x.shape
        h = self.rnn(x.permute(0, 2, 1, 3).reshape(b, t, c * f))
        h = torch.cat([h.reshape(b, t, c, f).permute(0, 2, 1, 3), skips[-1]], dim=1)
        parts = []
        for layers, head in zip(self.decoders, self.heads):
            y = h
            for i, (conv, norm) in enumerate(layers):
                y = norm(conv(y))
                if i < len(layers) - 1:
                    y = torch.cat([y, skips[-2 - i]], dim=1)
                y = F.elu(y)
            parts.append(head(y.squeeze(1)).transpose(1, 2))  # (B, F, T)
        return parts[0], parts[1]

    def estimate(self, spec: torch.Tensor) -> torch.Tensor:
        """Clean complex spectrum ``(B, freq, frames)`` from the noisy one."""
        return torch.complex(*self.estimate_pair(spec.real, spec.imag))

    def forward(self, wave: torch.Tensor) -> dict:
        wave = self._check_input(wave)
        noisy = causal_stft(wave, self.stft_config)
        spec = self.estimate(noisy)
        return {"wave": causal_istft(spec, self.stft_config, wave.shape[-1]), "spec": spec}
