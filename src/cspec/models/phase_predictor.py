"""A direct phase predictor: the parallel estimation architecture of Ai & Ling (2023), NSPP.

Yang Ai and Zhen-Hua Ling, "Neural speech phase prediction based on parallel estimation architecture and
anti-wrapping losses", ICASSP 2023 (Sec. 2, Fig. 1). From the log amplitude spectrum ``log |S|`` (freq bins as
channels, frames as time):

1. an input linear convolution (kernel 7) to ``channels``;
2. a residual convolutional network (RCNet): ``len(kernels)`` parallel residual convolutional blocks (kernels
   3, 7, 11), each a chain of ``len(dilations)`` sub-blocks ``x + conv_1(lrelu(conv_d(lrelu(x))))`` with dilations
   1, 3, 5 (the multi-receptive-field fusion of HiFi-GAN), their outputs averaged;
3. the parallel estimation architecture (PEA, Eq. 1-2): two parallel linear convolutions give a pseudo real part
   ``R`` and a pseudo imaginary part ``I`` (kernel 7), and the phase is ``P = Phi(R, I) = atan2(I, R)``, always
   wrapped to (-pi, pi].

The paper trains it with the anti-wrapping losses on instantaneous phase, group delay and instantaneous angular
frequency (:mod:`cspec.losses.phase`); a recipe may add losses on the re-analysed output (its STFT consistency).
The paper's model has 512 channels; small CPU models use fewer (``channels``). The convolutions run over time
only and are centred (non-causal): each frame sees ``receptive_field()`` frames on either side.

As a :class:`~cspec.models.SpeechModel` it takes a waveform, keeps only its magnitude and returns the waveform
rebuilt with the predicted phase (``wave``, ``spec``, ``phase``), which is what the training engine needs; phase
retrieval calls :meth:`PhasePredictor.predict_phase` on a magnitude directly.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel, register
from cspec.phase.griffin_lim import fast_griffin_lim
from cspec.spectral.stft import STFTConfig, get_preset, istft, stft

__all__ = ["PhasePredictor", "PHASE_STFTS"]

#: the STFTs the phase models are trained for: n_fft 512, periodic Hann, centred with zero padding (librosa's
#: defaults for that size) at hop 128 and hop 256
PHASE_STFTS = ("hann512-128", "hann512-256")


class _ResBlock(nn.Module):
    """HiFi-GAN's ResBlock1 (Kong et al. 2020): sub-blocks ``x + conv(lrelu(conv_dilated(lrelu(x))))``."""

    def __init__(self, channels: int, kernel: int, dilations) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2)
                                    for d in dilations)
        self.convs2 = nn.ModuleList(nn.Conv1d(channels, channels, kernel, padding=(kernel - 1) // 2)
                                    for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, 0.1)), 0.1))
        return x


@register("nspp")
class PhasePredictor(SpeechModel):
    """NSPP-style phase predictor (Ai & Ling 2023); see the module docstring.

    Args:
        preset: the STFT preset of the magnitudes it reads (one of :data:`PHASE_STFTS`, or any preset name).
        channels: width of the RCNet (paper: 512).
        kernels: kernel sizes of the parallel residual blocks (paper: 3, 7, 11).
        dilations: dilations of each block's sub-blocks (paper: 1, 3, 5).
        floor: the amplitude floor inside ``log`` (paper: 1e-5).
        unroll: fast Griffin-Lim iterations (momentum 0.99) that :meth:`forward` runs from the predicted phase, with
            gradients through them (deep unfolding of the iterations, as DeGLI trains its unrolled loop: Masuyama et
            al. 2019). 0 (the paper): the output is the prediction itself. With ``k``, training asks for the phase
            from which ``k`` iterations go furthest, which is how the prediction is used (``method="learned"``).
    """

    paper = ("Ai & Ling, 2023, Neural Speech Phase Prediction based on Parallel Estimation Architecture and "
             "Anti-Wrapping Losses, ICASSP")
    causal = False

    def __init__(self, preset: str = "hann512-128", channels: int = 512, kernels=(3, 7, 11),
                 dilations=(1, 3, 5), floor: float = 1e-5, unroll: int = 0) -> None:
        super().__init__()
        if channels < 1 or not kernels or not dilations or any(k < 1 or k % 2 == 0 for k in kernels):
            raise ConfigError(f"nspp: channels >= 1 and odd kernels, got channels={channels}, kernels={kernels}")
        self.preset = str(preset)
        self.stft_config: STFTConfig = get_preset(preset)
        self.sample_rate = self.stft_config.sample_rate
        bins = self.stft_config.n_freqs
        self.kernels, self.dilations, self.floor = tuple(kernels), tuple(dilations), float(floor)
        if int(unroll) < 0:
            raise ConfigError(f"nspp: unroll is a number of FGLA iterations >= 0, got {unroll}")
        self.unroll = int(unroll)
        self.input = nn.Conv1d(bins, channels, 7, padding=3)
        self.blocks = nn.ModuleList(_ResBlock(channels, k, dilations) for k in kernels)
        self.real = nn.Conv1d(channels, bins, 7, padding=3)
        self.imag = nn.Conv1d(channels, bins, 7, padding=3)

    def receptive_field(self) -> int:
        """Frames on each side of a frame that its phase depends on."""
        per_block = max(sum(d * (k - 1) // 2 + (k - 1) // 2 for d in self.dilations) for k in self.kernels)
        return 3 + per_block + 3

    def lookahead(self) -> int:
        return self.receptive_field() * self.stft_config.hop_length + self.stft_config.n_fft // 2

    def predict_phase(self, magnitude: torch.Tensor) -> torch.Tensor:
        """The phase ``(..., freq, frames)`` in (-pi, pi] of a magnitude ``(..., freq, frames)``."""
        if magnitude.shape[-2] != self.stft_config.n_freqs:
            raise ConfigError(f"nspp expects {self.stft_config.n_freqs} frequency bins ({self.preset}), got "
                              f"{magnitude.shape[-2]}")
        lead = magnitude.shape[:-2]
        x = torch.log(magnitude.reshape(-1, *magnitude.shape[-2:]).clamp_min(self.floor))
        h = self.input(x)
        h = sum(block(h) for block in self.blocks) / len(self.blocks)
        h = F.leaky_relu(h, 0.1)
        phase = torch.atan2(self.imag(h), self.real(h))
        return phase.reshape(*lead, *phase.shape[-2:])

    def forward(self, wave: torch.Tensor) -> dict:
        mag = stft(wave, self.stft_config).abs()
        phase = self.predict_phase(mag)
        if self.unroll:

            out, spec = fast_griffin_lim(mag, self.unroll, self.stft_config, wave.shape[-1], momentum=0.99,
                                         init=phase, return_spec=True)
            return {"wave": out, "spec": spec, "phase": phase, "mag": mag}
        spec = torch.polar(mag, phase)
        return {"wave": istft(spec, self.stft_config, wave.shape[-1]), "spec": spec, "phase": phase, "mag": mag}
