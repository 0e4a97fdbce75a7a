"""Conv-TasNet: Luo & Mesgarani 2019, "Conv-TasNet: Surpassing ideal time-frequency magnitude masking for speech
separation", IEEE/ACM TASLP 27(8).

Learned encoder (``N`` bases of ``L`` samples, hop ``L/2``, ReLU: eq. 1-2), a temporal convolutional network
separator (Fig. 1B-C: gLN, 1x1 bottleneck to ``B`` channels, ``R`` repeats of ``X`` 1-D conv blocks with
dilations ``1, 2, ..., 2**(X-1)``, hidden ``H`` channels, depthwise kernel ``P``, skip connections of ``Sc``
channels, PReLU, 1x1 conv to ``C*N`` and sigmoid masks: eq. 3-4), and a decoder that overlap-adds learned bases
(eq. 5). Defaults: the paper's best non-causal system of Table II (N=512, L=16, B=128, H=512, Sc=128, P=3, X=8,
R=3, gLN; 5.1 M parameters at 8 kHz).

``causal=True`` is the paper's causal variant: cLN everywhere and left-padded dilated convolutions. Its output
at sample ``t`` then depends on input samples up to ``t + L - 1`` (the encoder frame that starts at ``t``).
"""

from __future__ import annotations

import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel, register
from cspec.models.blocks.separation import FreeFilterbank, TCNBlock, make_norm

__all__ = ["ConvTasNet", "TemporalConvNet"]


class TemporalConvNet(nn.Module):
    """Conv-TasNet's separation module (Fig. 1B): ``(batch, N, frames)`` -> masks ``(batch, C, N, frames)``."""

    def __init__(self, n_filters: int, bn_chan: int, hid_chan: int, skip_chan: int, kernel_size: int,
                 n_blocks: int, n_repeats: int, n_sources: int, causal: bool):
        super().__init__()
        norm = "cln" if causal else "gln"
        self.n_sources, self.n_filters = n_sources, n_filters
        self.bottleneck = nn.Sequential(make_norm(norm, n_filters), nn.Conv1d(n_filters, bn_chan, 1))
        last = n_repeats * n_blocks - 1
        self.blocks = nn.ModuleList(
            TCNBlock(bn_chan, hid_chan, skip_chan, kernel_size, 2 ** (i % n_blocks), norm=norm, causal=causal,
                     residual=i != last)
            for i in range(n_repeats * n_blocks)
        )
        self.head = nn.Sequential(nn.PReLU(), nn.Conv1d(skip_chan, n_sources * n_filters, 1))

    def receptive_field(self) -> int:
        """Frames of context of one mask frame: ``1 + sum_blocks (P - 1) * dilation``."""
        return 1 + sum((b.depthwise.kernel_size[0] - 1) * b.depthwise.dilation[0] for b in self.blocks)

    def forward(self, rep: torch.Tensor) -> torch.Tensor:
        x = self.bottleneck(rep)
        skips = 0
        for block in self.blocks:
            x, skip = block(x)
            skips = skips + skip
        masks = torch.sigmoid(self.head(skips))
        return masks.view(rep.shape[0], self.n_sources, self.n_filters, rep.shape[-1])


@register("convtasnet")
class ConvTasNet(SpeechModel):
    """Conv-TasNet (Luo & Mesgarani 2019), the TCN version with the paper's best configuration as defaults.

    Args:
        n_filters: ``N``, encoder bases.
        kernel_size: ``L``, basis length in samples (hop ``L // 2``).
        bn_chan: ``B``, bottleneck / residual channels.
        hid_chan: ``H``, channels inside a conv block.
        skip_chan: ``Sc``, skip-connection channels.
        conv_kernel: ``P``, depthwise kernel size.
        n_blocks: ``X``, conv blocks per repeat (dilations ``1 .. 2**(X-1)``).
        n_repeats: ``R``, repeats.
        n_sources: ``C``, speakers separated.
        causal: the causal system (cLN, causal convolutions) instead of the non-causal one (gLN).
        sample_rate: 8000 as in the paper's WSJ0-2mix experiments.

    Deviations: the last conv block has no residual 1x1 conv (its output is never read; 66 k parameters fewer
    than an implementation that keeps it); the waveform padding (``L/2`` samples each side) is our choice.
    """

    paper = "Luo & Mesgarani 2019, Conv-TasNet, IEEE/ACM TASLP 27(8)"
    paper_params = 5.1

    def __init__(self, n_filters: int = 512, kernel_size: int = 16, bn_chan: int = 128, hid_chan: int = 512,
                 skip_chan: int = 128, conv_kernel: int = 3, n_blocks: int = 8, n_repeats: int = 3,
                 n_sources: int = 2, causal: bool = False, sample_rate: int = 8000):
        super().__init__()
        if kernel_size < 2 or n_sources < 1 or conv_kernel < 1:
            raise ConfigError("Conv-TasNet needs kernel_size >= 2, conv_kernel >= 1 and n_sources >= 1")
        self.sample_rate, self.n_sources, self.causal = int(sample_rate), int(n_sources), bool(causal)
        self.stft_config = None
        # the paper's count is for its configuration (cLN and gLN have the same parameters)
        self.paper_params = type(self).paper_params if self._is_paper_config(locals()) else None
        self.filterbank = FreeFilterbank(n_filters, kernel_size)
        self.separator = TemporalConvNet(n_filters, bn_chan, hid_chan, skip_chan, conv_kernel, n_blocks,
                                         n_repeats, n_sources, causal)

    @staticmethod
    def _is_paper_config(args: dict) -> bool:
        paper = dict(n_filters=512, kernel_size=16, bn_chan=128, hid_chan=512, skip_chan=128, conv_kernel=3,
                     n_blocks=8, n_repeats=3, n_sources=2)
        return all(args[k] == v for k, v in paper.items())

    def lookahead(self) -> int:
        """``L - 1`` samples for the causal model: the encoder frame starting at ``t`` reaches ``t + L - 1``."""
        return self.filterbank.kernel_size - 1

    def forward(self, wave: torch.Tensor) -> dict:
        wave = self._check_input(wave)
        rep = torch.relu(self.filterbank.encode(wave))
        masks = self.separator(rep)
        est = self.filterbank.decode(masks * rep.unsqueeze(1), wave.shape[-1])
        if self.n_sources == 1:
            est, masks = est[:, 0], masks[:, 0]
        return {"wave": est, "mask": masks, "rep": rep}
