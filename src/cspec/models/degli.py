"""Deep Griffin-Lim iteration (DeGLI): a trained denoiser inside the Griffin-Lim loop.

Yoshiki Masuyama, Kohei Yatabe, Yuma Koizumi, Yasuhiro Oikawa and Noboru Harada, "Deep Griffin-Lim iteration",
ICASSP 2019, and "Deep Griffin-Lim iteration: trainable iterative phase reconstruction using neural network",
IEEE JSTSP 15(1), 2021 (Sec. III). With the amplitude ``A``, the projections onto the set of spectrograms of
amplitude ``A``, ``P_A(X) = A X / |X|``, and onto the consistent spectrograms, ``P_C(X) = STFT(iSTFT(X))``, one
DeGLI block maps the estimate ``X`` to (Eq. 10-11)

    Y = P_A(X),   Z = P_C(Y),   X' = Z - F_theta(X, Y, Z)

where the DNN ``F_theta`` estimates the residual ``Z - X*`` between the GLA output and the clean spectrogram
``X*`` from the six real channels of ``(X, Y, Z)`` (real and imaginary parts). It is trained as a denoiser
(Sec. III-C): ``X`` is the clean spectrogram plus complex Gaussian noise at an SNR drawn from ``snr_db`` (the
paper: -6 .. 12 dB), and the loss is the L1 distance ``||F_theta(X, Y, Z) - (Z - X*)||_1``, i.e. the L1 distance
of ``X'`` to ``X*``. At inference the same block runs ``n_iter`` times from an initial phase (one set of
weights for every iteration).

The DNN (Fig. 3): gated convolutions (GLU, Dauphin et al. 2017) with ``channels`` channels: an 11 x 11 one on
the 6 input channels, two 7 x 3 ones with skip connections, and a 7 x 3 convolution to the 2 output channels
(kernels frequency x time). Its cost is a 2-D convolution over every time-frequency bin per iteration, which on a
CPU is far more than a Griffin-Lim iteration; ``channels`` and ``kernel`` make it smaller.

As a :class:`~cspec.models.SpeechModel` (for the training engine) ``forward(wave)`` returns one block applied to
the noisy spectrogram of ``wave`` (``spec``; noise only in training mode) and its waveform; phase retrieval calls
:meth:`DeGLI.iterate`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel, register
from cspec.spectral.stft import STFTConfig, get_preset, istft, stft

__all__ = ["DeGLI"]


class _GatedConv(nn.Module):
    """``conv_a(x) * sigmoid(conv_b(x))`` with same padding (GLU, Dauphin et al. 2017)."""

    def __init__(self, c_in: int, c_out: int, kernel: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 2 * c_out, kernel, padding=(kernel[0] // 2, kernel[1] // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.conv(x).chunk(2, dim=1)
        return a * torch.sigmoid(b)


@register("degli")
class DeGLI(SpeechModel):
    """Deep Griffin-Lim iteration (Masuyama et al. 2019/2021); see the module docstring.

    Args:
        preset: STFT preset of the magnitudes.
        channels: channels of the gated convolutions (paper: 32).
        first_kernel, kernel: kernels (freq, time) of the first and the other layers (paper: 11 x 11 and 7 x 3).
        snr_db: range of the SNR of the training noise added to the clean spectrogram (paper: -6 .. 12 dB).
    """

    paper = ("Masuyama, Yatabe, Koizumi, Oikawa & Harada, 2021, Deep Griffin-Lim Iteration: Trainable Iterative "
             "Phase Reconstruction Using Neural Network, IEEE JSTSP 15(1)")
    causal = False

    def __init__(self, preset: str = "hann512-128", channels: int = 32, first_kernel=(11, 11), kernel=(7, 3),
                 snr_db=(-6.0, 12.0)) -> None:
        super().__init__()
        if channels < 1 or any(k < 1 or k % 2 == 0 for k in (*first_kernel, *kernel)):
            raise ConfigError(f"degli: channels >= 1 and odd kernels, got {channels}, {first_kernel}, {kernel}")
        self.preset = str(preset)
        self.stft_config: STFTConfig = get_preset(preset)
        self.sample_rate = self.stft_config.sample_rate
        self.snr_db = (float(snr_db[0]), float(snr_db[1]))
        self.layers = nn.ModuleList([_GatedConv(6, channels, tuple(first_kernel)),
                                     _GatedConv(channels, channels, tuple(kernel)),
                                     _GatedConv(channels, channels, tuple(kernel))])
        self.out = nn.Conv2d(channels, 2, tuple(kernel), padding=(kernel[0] // 2, kernel[1] // 2))

    def residual(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``F_theta(X, Y, Z)``: the complex residual ``(batch, freq, frames)``."""
        h = torch.cat([torch.view_as_real(t).movedim(-1, 1) for t in (x, y, z)], dim=1)
        h = self.layers[0](h)
        h = h + self.layers[1](h)
        h = h + self.layers[2](h)
        return torch.view_as_complex(self.out(h).movedim(1, -1).contiguous())

    def block(self, x: torch.Tensor, magnitude: torch.Tensor, length: int) -> torch.Tensor:
        """One DeGLI block (Eq. 10-11) on ``x`` ``(batch, freq, frames)`` with amplitude ``magnitude``."""
        y = magnitude * torch.exp(1j * torch.angle(x))
        z = stft(istft(y, self.stft_config, length), self.stft_config)
        return z - self.residual(x, y, z)

    def iterate(self, magnitude: torch.Tensor, phase: torch.Tensor, n_iter: int, length: int) -> torch.Tensor:
        """``n_iter`` DeGLI blocks from ``magnitude * exp(i phase)``; returns the complex spectrogram."""
        lead = magnitude.shape[:-2]
        mag = magnitude.reshape(-1, *magnitude.shape[-2:])
        x = torch.polar(mag, phase.reshape(mag.shape).to(mag.dtype))
        for _ in range(int(n_iter)):
            x = self.block(x, mag, length)
        return x.reshape(*lead, *x.shape[-2:])

    def forward(self, wave: torch.Tensor) -> dict:
        clean = stft(wave, self.stft_config)
        x = clean
        if self.training:  # the denoising task of Sec. III-C: complex Gaussian noise at a random SNR per item
            snr = torch.empty(wave.shape[0], 1, 1, device=wave.device).uniform_(*self.snr_db)
            power = clean.abs().pow(2).mean(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
            sigma = torch.sqrt(power / 10 ** (snr / 10))
            x = clean + sigma * torch.randn_like(clean)
        spec = self.block(x, clean.abs(), wave.shape[-1])
        return {"wave": istft(spec, self.stft_config, wave.shape[-1]), "spec": spec}

    def lookahead(self) -> int:
        cfg = self.stft_config
        frames = (self.layers[0].conv.kernel_size[1] // 2 + 3 * (self.out.kernel_size[1] // 2)) + 2 * math.ceil(
            cfg.n_fft / cfg.hop_length)
        return frames * cfg.hop_length
