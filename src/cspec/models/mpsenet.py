"""MP-SENet: parallel denoising of magnitude and phase spectra (survey Sec. 4).

Lu, Ai & Ling 2023, "MP-SENet: A speech enhancement model with parallel denoising of magnitude and phase
spectra", Interspeech (Fig. 1, Sec. 2); long version: Lu, Ai, Zhang & Ling 2024, "Explicit estimation of
magnitude and phase spectra in parallel for high-quality speech enhancement" (which swaps the conformers for
transformers with GRU feed-forward layers; the default here is the Interspeech model, 2.05 M parameters).

    Y_c = |Y|^0.3,  P_Y = angle(Y)                                     (STFT: preset ``mpsenet``, 400/100, Hann)
    h   = TSConformer^4( DenseEncoder([Y_c, P_Y]) )                    (64 channels, F = 201 -> 100 bins)
    M   = 2 sigmoid(a_f * MaskDecoder(h))                              (learnable sigmoid, beta = 2, slope per bin)
    X_c = Y_c * M,   P_X = atan2(conv_i(PhaseDecoder(h)), conv_r(PhaseDecoder(h)))   (parallel phase estimation)
    X   = X_c^(1/0.3) e^(j P_X)  ->  iSTFT

The decoders are a dense block, a (1, 3) transposed conv of stride 2 back to 201 bins, and 1x1 convs.
``normalize=True`` scales the input to unit RMS and the outputs back, as the official data pipeline and
inference script do (``norm_factor = sqrt(len / sum(y^2))``), so every output is in the input's scale.

Outputs: ``"wave"``, ``"spec"`` (uncompressed complex estimate, for :func:`cspec.losses.compressed_spectral_loss`),
``"mag"`` (the compressed magnitude ``X_c``, for the magnitude loss and the
:class:`cspec.losses.MetricDiscriminator`), ``"phase"`` (``P_X``, for :mod:`cspec.losses.phase`) and ``"mask"``.
Deviations: attention runs along time / frequency (the official code attends across the batch axis, see
:mod:`cspec.models.blocks.conformer`); the phase input takes bins that are real to float precision as real
(:meth:`MPSENet.phase_input`), so that ``torch.stft`` and the ONNX graph's convolutional STFT give the network
the same phase on the branch cut.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cspec.losses.adversarial import LearnableSigmoid, MetricDiscriminator
from cspec.models.base import SpeechModel, register
from cspec.models.blocks.conformer import TSConformer
from cspec.models.blocks.dense import DenseEncoder, DilatedDenseBlock, norm_act
from cspec.spectral.features import compress_magnitude, decompress_magnitude, mag_phase_to_complex
from cspec.spectral.stft import get_preset, istft, stft

__all__ = ["MPSENet", "rms_normalizer", "atan2"]


def atan2(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``torch.atan2``; during an ONNX export written with ``atan`` and the quadrant rules (PyTorch's ONNX
    ``atan2`` gives ``-pi`` for ``atan2(0, x < 0)`` and NaN for ``atan2(0, 0)``). Signed zeros aside (``-0.0`` in
    ``y`` counts as ``+0``), both agree to rounding."""
    if not torch.onnx.is_in_onnx_export():
        return torch.atan2(y, x)
    zero = x == 0
    base = torch.atan(y / torch.where(zero, torch.ones_like(x), x))
    half_turn = torch.where(y >= 0, torch.full_like(x, math.pi), torch.full_like(x, -math.pi))
    on_axis = torch.where(y > 0, torch.full_like(x, math.pi / 2),
                          torch.where(y < 0, torch.full_like(x, -math.pi / 2), torch.zeros_like(x)))
    return torch.where(zero, on_axis, torch.where(x < 0, base + half_turn, base))


def rms_normalizer(wave: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``sqrt(samples / sum wave^2)`` per item, shape ``(batch, 1)``: the input scaling of MP-SENet and CMGAN."""
    return wave.pow(2).mean(-1, keepdim=True).clamp_min(eps).rsqrt()


class _MaskDecoder(nn.Module):
    def __init__(self, channels: int, n_freqs: int, beta: float) -> None:
        super().__init__()
        self.dense = DilatedDenseBlock(channels, 4, (3, 3))
        self.conv = nn.Sequential(nn.ConvTranspose2d(channels, channels, (1, 3), (1, 2)), nn.Conv2d(channels, 1, 1),
                                  *norm_act(1), nn.Conv2d(1, 1, 1))
        self.lsigmoid = LearnableSigmoid(n_freqs, beta)  # slope per frequency bin (last axis)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lsigmoid(self.conv(self.dense(x)))


class _PhaseDecoder(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.dense = DilatedDenseBlock(channels, 4, (3, 3))
        self.conv = nn.Sequential(nn.ConvTranspose2d(channels, channels, (1, 3), (1, 2)), *norm_act(channels))
        self.conv_r = nn.Conv2d(channels, 1, 1)
        self.conv_i = nn.Conv2d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.dense(x))
        return atan2(self.conv_i(x), self.conv_r(x))


@register("mpsenet")
class MPSENet(SpeechModel):
    """MP-SENet generator (Lu et al. 2023); defaults are the paper's: 64 channels, 4 TS-conformer blocks with
    4 heads, kernel 31, dropout 0.2, mask bound beta = 2, compression 0.3 (preset ``mpsenet``)."""

    sample_rate = 16000
    stft_config = get_preset("mpsenet")
    causal = False
    paper = "Lu, Ai & Ling 2023, MP-SENet, Interspeech"
    paper_params = 2.05

    def __init__(self, channels: int = 64, n_blocks: int = 4, heads: int = 4, kernel_size: int = 31,
                 dropout: float = 0.2, beta: float = 2.0, normalize: bool = True) -> None:
        super().__init__()
        cfg = self.stft_config
        self.c, self.normalize = cfg.compress, normalize
        self.encoder = DenseEncoder(2, channels, (3, 3), causal=False, freq_padding=0)
        self.blocks = nn.Sequential(*[
            TSConformer(channels, heads=heads, attention="mha", kernel_size=kernel_size, ff_dropout=dropout,
                        attn_dropout=dropout) for _ in range(n_blocks)
        ])
        self.mask_decoder = _MaskDecoder(channels, cfg.n_freqs, beta)
        self.phase_decoder = _PhaseDecoder(channels)

    @staticmethod
    def discriminator(**kwargs) -> MetricDiscriminator:
        """The metric discriminator MP-SENet trains against (:class:`cspec.losses.MetricDiscriminator`)."""
        return MetricDiscriminator(**kwargs)

    def input_scale(self, wave: torch.Tensor) -> torch.Tensor:
        """The factor ``(batch, 1)`` the input is multiplied by before the STFT (``normalize``), 1 otherwise."""
        return rms_normalizer(wave) if self.normalize else torch.ones_like(wave[:, :1])

    def _network(self, mag_c: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Compressed magnitude and phase ``(B, F, T)`` of the (scaled) input -> mask and phase ``(B, F, T)``."""
        h = self.blocks(self.encoder(torch.stack([mag_c, phase], 1).transpose(-1, -2)))  # (B, C, T, F')
        return (self.mask_decoder(h).squeeze(1).transpose(-1, -2),
                self.phase_decoder(h).squeeze(1).transpose(-1, -2))

    @staticmethod
    def phase_input(re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """``angle(Y)`` ``(B, F, T)`` with the bins that are real to float precision taken as real.

        The phase is discontinuous across the negative real axis (``pi`` and ``-pi``), so a bin that is real in
        exact arithmetic gets either from the sign of the rounding in its imaginary part: every bin of the first
        frame (a centred, reflect-padded frame is symmetric, so its DFT is real) and any bin by chance. Bins with
        ``|Im Y| <= 1e-4 max_k |Y[k, t]|`` (far above float32 rounding, far below any audible component) count as
        real here, so that two STFT implementations (``torch.stft``, the ONNX graph's convolutions) give the
        network the same phase. Deviation from the paper, which takes ``angle(Y)`` as it comes.
        """
        mag = torch.sqrt(re * re + im * im)
        tol = 1e-4 * mag.amax(dim=-2, keepdim=True)  # per frame
        return atan2(torch.where(im.abs() <= tol, torch.zeros_like(im), im), re)

    def pair_forward(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The estimate's spectrum from the scaled input's spectrum on real pairs ``(B, F, T)`` (no complex dtype:
        the ONNX export, :mod:`cspec.infer.onnx_graphs`); the same network as :meth:`forward`."""
        mag_c = compress_magnitude(torch.sqrt(re * re + im * im), self.c)
        mask, phase = self._network(mag_c, self.phase_input(re, im))
        mag = decompress_magnitude(mag_c * mask, self.c)
        return mag * torch.cos(phase), mag * torch.sin(phase)

    def forward(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        wave = self._check_input(wave)
        scale = self.input_scale(wave)
        spec_in = stft(wave * scale, self.stft_config)  # (B, F, T)
        mag_in = compress_magnitude(spec_in.abs(), self.c)
        mask, phase = self._network(mag_in, self.phase_input(spec_in.real, spec_in.imag))
        s = scale[:, :, None]
        mag = mag_in * mask / s ** self.c  # compressed magnitude, in the input's scale
        spec = mag_phase_to_complex(decompress_magnitude(mag, self.c), phase)
        out = istft(spec, self.stft_config, length=wave.shape[-1])
        return {"wave": out, "spec": spec, "mag": mag, "phase": phase, "mask": mask}
