"""CMGAN: conformer-based metric GAN for speech enhancement, the TSCNet generator (survey Sec. 4).

Cao, Abdulatif & Yang 2022, "CMGAN: Conformer-based metric GAN for speech enhancement", Interspeech (Fig. 1,
Sec. 2; journal version: Abdulatif, Cao & Yang 2024, IEEE/ACM TASLP). Generator, 1.83 M parameters:

    Y_c = |Y|^0.3 e^(j angle Y)                                        (STFT: preset ``cmgan``, 400/100, Hamming)
    h   = TSConformer^4( DenseEncoder([|Y_c|, Re Y_c, Im Y_c]) )        (64 channels, F = 201 -> 101 bins)
    M   = PReLU_f( MaskDecoder(h) )                                    (PReLU with one slope per bin, init -0.25)
    X_c = M |Y_c| e^(j angle Y) + ComplexDecoder(h)                    (magnitude mask + complex refinement, summed)
    X   = |X_c|^(1/0.3) e^(j angle X_c)  ->  iSTFT

The dense blocks use (2, 3) kernels padded on the past side only (time-causal convolutions); the decoders
upsample 101 -> 202 bins with a sub-pixel convolution (Shi et al. 2016: conv to 2x channels, interleave along
frequency) and a (1, 2) conv to 201. The conformers use Shaw relative position embeddings
(:mod:`cspec.models.blocks.conformer`). ``normalize=True`` applies the official scaling
``c = sqrt(len / sum(y^2))`` to the input and undoes it on every output.

Outputs: ``"wave"``, ``"spec"`` (uncompressed complex ``X``, for :func:`cspec.losses.compressed_spectral_loss`),
``"mag"`` (compressed ``|X_c|``, for the magnitude loss and the metric discriminator), ``"phase"``
(``angle X_c``), ``"mask"`` (``M``). :meth:`CMGAN.discriminator` builds the paper's metric discriminator
(:class:`cspec.losses.MetricDiscriminator`), which takes the compressed magnitudes of clean and estimate.
"""

from __future__ import annotations

import torch
from torch import nn

from cspec.losses.adversarial import MetricDiscriminator
from cspec.models.base import SpeechModel, register
from cspec.models.blocks.conformer import TSConformer
from cspec.models.blocks.dense import DenseEncoder, DilatedDenseBlock, norm_act
from cspec.models.mpsenet import rms_normalizer
from cspec.spectral.features import COMPRESS_FLOOR, compress, decompress
from cspec.spectral.stft import get_preset, istft, stft

__all__ = ["CMGAN", "SubPixelConv2d"]


class SubPixelConv2d(nn.Module):
    """Sub-pixel upsampling along frequency (CMGAN's ``SPConvTranspose2d``): zero-pad one bin each side, conv to
    ``r * out`` channels, then interleave the ``r`` groups so that ``F`` bins become ``r * F``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int] = (1, 3), r: int = 2) -> None:
        super().__init__()
        self.r, self.out_channels = r, out_channels
        self.pad = nn.ZeroPad2d((1, 1, 0, 0))
        self.conv = nn.Conv2d(in_channels, out_channels * r, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(self.pad(x))
        b, _, t, f = y.shape
        y = y.view(b, self.r, self.out_channels, t, f).permute(0, 2, 3, 4, 1)
        return y.reshape(b, self.out_channels, t, f * self.r)


class _MaskDecoder(nn.Module):
    def __init__(self, channels: int, n_freqs: int) -> None:
        super().__init__()
        self.net = nn.Sequential(DilatedDenseBlock(channels, 4, (2, 3), causal=True),
                                 SubPixelConv2d(channels, channels), nn.Conv2d(channels, 1, (1, 2)), *norm_act(1),
                                 nn.Conv2d(1, 1, 1))
        self.prelu_out = nn.PReLU(n_freqs, init=-0.25)  # one slope per frequency bin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prelu_out(self.net(x).squeeze(1).transpose(1, 2))  # (B, F, T)


class _ComplexDecoder(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(DilatedDenseBlock(channels, 4, (2, 3), causal=True),
                                 SubPixelConv2d(channels, channels), *norm_act(channels),
                                 nn.Conv2d(channels, 2, (1, 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).transpose(-1, -2)  # (B, 2, F, T)


@register("cmgan")
class CMGAN(SpeechModel):
    """CMGAN's TSCNet generator (Cao et al. 2022); defaults are the paper's: 64 channels, 4 TS-conformer blocks
    (4 heads of 16, relative positions, kernel 31, dropout 0.2), compression 0.3 (preset ``cmgan``)."""

    sample_rate = 16000
    stft_config = get_preset("cmgan")
    causal = False
    paper = "Cao, Abdulatif & Yang 2022, CMGAN, Interspeech"
    paper_params = 1.83

    def __init__(self, channels: int = 64, n_blocks: int = 4, heads: int = 4, kernel_size: int = 31,
                 dropout: float = 0.2, normalize: bool = True) -> None:
        super().__init__()
        cfg = self.stft_config
        self.c, self.normalize = cfg.compress, normalize
        self.encoder = DenseEncoder(3, channels, (2, 3), causal=True, freq_padding=1)
        self.blocks = nn.Sequential(*[
            TSConformer(channels, heads=heads, attention="relpos", dim_head=channels // heads,
                        kernel_size=kernel_size, ff_dropout=dropout, attn_dropout=dropout) for _ in range(n_blocks)
        ])
        self.mask_decoder = _MaskDecoder(channels, cfg.n_freqs)
        self.complex_decoder = _ComplexDecoder(channels)

    @staticmethod
    def discriminator(**kwargs) -> MetricDiscriminator:
        """CMGAN's metric discriminator (:class:`cspec.losses.MetricDiscriminator`, ndf = 16)."""
        return MetricDiscriminator(**kwargs)

    def input_scale(self, wave: torch.Tensor) -> torch.Tensor:
        """The factor ``(batch, 1)`` the input is multiplied by before the STFT (``normalize``), 1 otherwise."""
        return rms_normalizer(wave) if self.normalize else torch.ones_like(wave[:, :1])

    def _network(self, mag: torch.Tensor, re: torch.Tensor, im: torch.Tensor):
        """Compressed ``|Y_c|, Re Y_c, Im Y_c`` ``(B, F, T)`` -> mask ``(B, F, T)`` and refinement ``(B, 2, F, T)``."""
        h = self.blocks(self.encoder(torch.stack([mag, re, im], 1).transpose(-1, -2)))  # (B, C, T, F')
        return self.mask_decoder(h), self.complex_decoder(h)

    def pair_forward(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The estimate's spectrum from the scaled input's spectrum on real pairs ``(B, F, T)`` (no complex dtype:
        the ONNX export, :mod:`cspec.infer.onnx_graphs`); the same network and compression as :meth:`forward`."""
        mag = torch.sqrt(re * re + im * im)
        gain = mag.clamp_min(COMPRESS_FLOOR).pow(self.c - 1.0)  # cspec.spectral.features.compress on pairs
        re_c, im_c = re * gain, im * gain
        mag_c = mag * gain
        mask, ri = self._network(mag_c, re_c, im_c)
        # M |Y_c| e^(j angle Y) = M Y_c: the unit phasor of Y_c is Y_c / |Y_c| (and 1 where Y_c = 0, times 0)
        re_x, im_x = mask * re_c + ri[:, 0], mask * im_c + ri[:, 1]
        mag_x = torch.sqrt(re_x * re_x + im_x * im_x)
        pos = mag_x > 0  # decompress: |X_c|^(1/c - 1) X_c, zero bins stay 0
        gain_x = torch.where(pos, torch.where(pos, mag_x, torch.ones_like(mag_x)).pow(1.0 / self.c - 1.0),
                             torch.zeros_like(mag_x))
        return re_x * gain_x, im_x * gain_x

    def forward(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        wave = self._check_input(wave)
        scale = self.input_scale(wave)
        spec_in = compress(stft(wave * scale, self.stft_config), self.c)  # (B, F, T), compressed
        mag_in = spec_in.abs()
        mask, ri = self._network(mag_in, spec_in.real, spec_in.imag)
        unit = torch.where(mag_in > 0, spec_in / torch.where(mag_in > 0, mag_in, 1.0), 1.0)  # e^(j angle Y)
        est_c = mask * mag_in * unit + torch.complex(ri[:, 0], ri[:, 1])
        est_c = est_c / scale[:, :, None] ** self.c  # back to the input's scale
        spec = decompress(est_c, self.c)
        out = istft(spec, self.stft_config, length=wave.shape[-1])
        return {"wave": out, "spec": spec, "mag": est_c.abs(), "phase": torch.angle(est_c), "mask": mask}
