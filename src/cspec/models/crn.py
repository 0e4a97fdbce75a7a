"""CRN: the causal convolutional recurrent network of Tan & Wang (2018), magnitude spectral mapping.

Ke Tan, DeLiang Wang, "A convolutional recurrent neural network for real-time speech enhancement", Interspeech
2018 (Fig. 2 and Table 1). The noisy magnitude ``|Y|`` (161 bins: 20 ms frames, 10 ms hop at 16 kHz) goes through

* an encoder of five causal convolutions, kernel 2 x 3 (time x frequency), stride 1 x 2, 16-32-64-128-256
  channels, each followed by batch norm and ELU: 161 -> 80 -> 39 -> 19 -> 9 -> 4 bins;
* two LSTM layers of 1024 units over the flattened ``256 x 4`` feature of each frame;
* a symmetric decoder of five causal transposed convolutions whose input is the previous layer concatenated with
  the mirrored encoder output (skip connections), BN + ELU, and softplus on the 1-channel output layer,

which estimates the clean magnitude ``|S|``; the waveform is resynthesised with the noisy phase. Both convolution
directions are causal along time (see :mod:`cspec.models.blocks.crn_common`), the LSTMs are unidirectional and
frames are causal, so the model streams frame by frame; :meth:`CRN.lookahead` is exact (319 samples).
The paper reports 17.58 M parameters; the default configuration here has 17.58 M (PyTorch's LSTM counts two bias
vectors per gate, one more than a single-bias LSTM: +8 k).

Deviations: the 20 ms window is the periodic Hamming window of :data:`CRN_STFT` (the paper's frames are 20 ms
Hamming windows with 10 ms shift; the authors' code uses a symmetric Hamming window with a rectangular synthesis);
the inverse is the library's least-squares overlap-add. The decoder's frequency sizes are matched to the encoder's
with an output padding of one bin in the fourth transposed convolution (39 -> 80).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel, register
from cspec.models.blocks.crn_common import (
    CausalConv2d,
    CausalConvTranspose2d,
    causal_istft,
    causal_stft,
    exact_lookahead,
)
from cspec.spectral.features import magnitude, mag_phase_to_complex, phase
from cspec.spectral.stft import STFTConfig

__all__ = ["CRN", "CRN_STFT", "encoder_sizes"]

CRN_STFT = STFTConfig(
    320, 160, 320, "hamming", center=False, sample_rate=16000,
    source="Tan & Wang 2018 (CRN, Interspeech) and 2020 (GCRN, TASLP): 20 ms Hamming frames, 10 ms shift, "
    "320-point STFT (161 bins), causal framing",
)


def encoder_sizes(n_freqs: int, n_layers: int) -> list[int]:
    """Frequency sizes after each stride-2, kernel-3, unpadded convolution: 161 -> [80, 39, 19, 9, 4]."""
    sizes = [n_freqs]
    for _ in range(n_layers):
        sizes.append((sizes[-1] - 3) // 2 + 1)
    if sizes[-1] < 1:
        raise ConfigError(f"{n_layers} stride-2 layers leave no frequency bins of the {n_freqs} input bins")
    return sizes


@register("crn")
class CRN(SpeechModel):
    """Tan & Wang 2018 CRN (defaults: the paper's configuration, 17.58 M parameters).

    Args:
        channels: encoder output channels (the decoder mirrors them).
        kernel_time: the convolutions' kernel length along time (2 in the paper).
        lstm_layers: stacked LSTM layers; their width is ``channels[-1] * bins`` (1024 in the paper).
    """

    sample_rate = 16000
    stft_config = CRN_STFT
    causal = True
    paper = "Tan & Wang, 2018, Interspeech: A convolutional recurrent neural network for real-time speech enhancement"
    paper_params = 17.58

    def __init__(self, channels: tuple = (16, 32, 64, 128, 256), kernel_time: int = 2, lstm_layers: int = 2):
        super().__init__()
        chans = [int(c) for c in channels]
        sizes = encoder_sizes(self.stft_config.n_freqs, len(chans))
        k = (int(kernel_time), 3)
        self.encoder = nn.ModuleList()
        for c_in, c_out in zip([1] + chans[:-1], chans):
            self.encoder.append(nn.ModuleList([CausalConv2d(c_in, c_out, k, (1, 2)), nn.BatchNorm2d(c_out)]))
        width = chans[-1] * sizes[-1]
        self.lstm = nn.LSTM(width, width, int(lstm_layers), batch_first=True)
        self.decoder = nn.ModuleList()
        outs = chans[-2::-1] + [1]
        for i, (c_skip, c_out) in enumerate(zip(chans[::-1], outs)):
            # transposed conv from sizes[-1-i] bins back to sizes[-2-i]
            extra = sizes[-2 - i] - ((sizes[-1 - i] - 1) * 2 + 3)
            conv = CausalConvTranspose2d(2 * c_skip, c_out, k, (1, 2), freq_out_pad=extra)
            norm = nn.BatchNorm2d(c_out) if i < len(chans) - 1 else nn.Identity()
            self.decoder.append(nn.ModuleList([conv, norm]))

    def lookahead(self) -> int:
        return exact_lookahead(self.stft_config)

    def estimate(self, mag: torch.Tensor) -> torch.Tensor:
        """Clean magnitude ``(B, freq, frames)`` from the noisy magnitude (the network of Fig. 2)."""
        x = mag.transpose(1, 2).unsqueeze(1)  # (B, 1, T, F)
        skips = []
        for conv, norm in self.encoder:
            x = F.elu(norm(conv(x)))
            skips.append(x)
        b, c, t, f = x.shape
        h = self.lstm(x.permute(0, 2, 1, 3).reshape(b, t, c * f))[0]
        x = h.reshape(b, t, c, f).permute(0, 2, 1, 3)
        for i, (conv, norm) in enumerate(self.decoder):
            x = norm(conv(torch.cat([x, skips[-1 - i]], dim=1)))
            x = F.elu(x) if i < len(self.decoder) - 1 else F.softplus(x)
        return x.squeeze(1).transpose(1, 2)

    def forward(self, wave: torch.Tensor) -> dict:
        wave = self._check_input(wave)
        noisy = causal_stft(wave, self.stft_config)
        mag = self.estimate(magnitude(noisy))
        pha = phase(noisy)
        spec = mag_phase_to_complex(mag, pha)
        out = causal_istft(spec, self.stft_config, wave.shape[-1])
        return {"wave": out, "spec": spec, "mag": mag, "phase": pha}
