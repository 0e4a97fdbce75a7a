"""Deep Complex U-Net (DCUNet): Choi, Kim, Lee, Kim, Ha & Lee (2019), "Phase-aware speech enhancement with deep
complex U-Net", ICLR.

The network (Sec. 3.1, Fig. 1): the noisy complex spectrogram ``Y`` (64 ms Hann window, 16 ms hop at 16 kHz,
preset ``dcunet``) goes through a U-Net whose encoder and decoder blocks are complex convolution, complex batch
norm (Trabelsi et al. 2018) and leaky CReLU; each decoder output is concatenated with the encoder output of the
same size (skip connection); the last decoder is a plain complex transposed convolution with one output channel
``O``. The mask is bounded (Sec. 3.2, eq. 9-11): by default the paper's polar "BDT" mask
``M = tanh(|O|) O / |O|``, or ``"BDSS"`` / ``"UBD"`` (:func:`cspec.spectral.masks.bounded_mask`); the estimate
``X = M Y`` is inverted by the iSTFT. Non-causal.

Layer tables (Appendix A, kernel and stride as (freq, time)), as transcribed by asteroid's
``_dcunet_architectures.py``: decoders mirror the encoders (kernel, stride, and output channels = the mirrored
encoder's input channels), except Large-DCUNet-20 whose decoders all output 90 channels.

Deviations, all stated: padding is ``kernel // 2`` and transposed convolutions are cropped to the skip's size
(any input length works; the paper fixes its input size); decoder input channels are what the concatenation
gives -- asteroid's Large-DCUNet-20 table lists 135 inputs for the seventh decoder and 90 for the output layer,
which no concatenation of its encoder outputs yields; the leaky slope is PyTorch's 0.01 (unstated in the paper).
``paper_params`` is ``None``: we could not confirm a count reported by the paper for these configurations.
"""

from __future__ import annotations

import torch

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel, register
from cspec.models.blocks.cplx_unet import ComplexDecoderBlock, ComplexEncoderBlock, cat_pairs
from cspec.spectral.masks import BOUNDED_MASKS, apply_mask, bounded_mask
from cspec.spectral.stft import get_preset, istft, stft

__all__ = ["DCUNet", "DCUNet10", "DCUNet16", "DCUNet20", "LargeDCUNet20"]

_PAPER = "Choi, Kim, Lee, Kim, Ha & Lee 2019, Phase-aware speech enhancement with deep complex U-Net, ICLR"


class DCUNet(SpeechModel):
    """Deep Complex U-Net with a bounded complex ratio mask; see the module docstring.

    Args:
        channels: complex output channels of each encoder layer.
        kernels: ``(freq, time)`` kernel of each encoder layer (its decoder mirror uses the same).
        strides: ``(freq, time)`` stride of each encoder layer.
        decoder_channels: output channels of the decoders but the last (``len(channels) - 1`` values);
            ``None`` mirrors the encoder. The last decoder always outputs the single mask channel.
        mask: ``"BDT"`` (paper), ``"BDSS"`` or ``"UBD"``.
        norm: ``"complex"`` (whitening BN, paper), ``"naive"`` (per-part BN) or ``"none"``.
        negative_slope: slope of the leaky CReLU.
    """

    sample_rate = 16000
    stft_config = get_preset("dcunet")
    causal = False
    n_sources = 1
    paper = _PAPER
    paper_params = None

    def __init__(self, channels=(32, 64, 64, 64, 64), kernels=((7, 5), (7, 5), (5, 3), (5, 3), (5, 3)),
                 strides=((2, 2), (2, 2), (2, 2), (2, 2), (2, 1)), decoder_channels=None, mask: str = "BDT",
                 norm: str = "complex", negative_slope: float = 0.01) -> None:
        super().__init__()
        n = len(channels)
        if n < 1 or len(kernels) != n or len(strides) != n:
            raise ConfigError(f"channels, kernels and strides need one entry per encoder layer, got {len(channels)}, "
                              f"{len(kernels)}, {len(strides)}")
        if str(mask).upper() not in BOUNDED_MASKS:
            raise ConfigError(f"unknown mask '{mask}'; choose one of {', '.join(BOUNDED_MASKS)}")
        if decoder_channels is None:
            decoder_channels = [channels[n - 2 - i] for i in range(n - 1)]
        if len(decoder_channels) != n - 1:
            raise ConfigError(f"decoder_channels needs {n - 1} values (one per decoder but the last), "
                              f"got {len(decoder_channels)}")
        self.mask = str(mask).upper()
        kw = dict(norm=norm, act="leaky_crelu", negative_slope=negative_slope)
        self.encoders = torch.nn.ModuleList()
        c_in = 1
        for c, k, s in zip(channels, kernels, strides):
            self.encoders.append(ComplexEncoderBlock(c_in, c, k, s, **kw))
            c_in = c
        self.decoders = torch.nn.ModuleList()
        for i in range(n):
            e = n - 1 - i  # the encoder this decoder mirrors
            c_in = channels[-1] if i == 0 else decoder_channels[i - 1] + channels[e]
            if i < n - 1:
                self.decoders.append(ComplexDecoderBlock(c_in, decoder_channels[i], kernels[e], strides[e], **kw))
            else:
                self.decoders.append(ComplexDecoderBlock(c_in, 1, kernels[e], strides[e], norm="none", act="none"))

    def _raw_mask_pair(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The U-Net on the noisy spectrum's real pair ``(B, F, T)``: the unbounded mask ``O`` as a pair."""
        x = (re.unsqueeze(1), im.unsqueeze(1))
        outs = []
        for enc in self.encoders:
            x = enc.forward_pair(*x)
            outs.append(x)
        x = outs.pop()
        for dec in self.decoders[:-1]:
            skip = outs.pop()
            x = cat_pairs(dec.forward_pair(*x, size=tuple(skip[0].shape[-2:])), skip)
        o_re, o_im = self.decoders[-1].forward_pair(*x, size=tuple(re.shape[-2:]))
        return o_re[:, 0], o_im[:, 0]

    def pair_forward(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``X = M Y`` on real pairs ``(B, F, T)`` (no complex dtype: the ONNX export,
        :mod:`cspec.infer.onnx_graphs`); the mask of :func:`cspec.spectral.masks.bounded_mask` written on pairs."""
        o_re, o_im = self._raw_mask_pair(re, im)
        if self.mask == "BDSS":
            m_re, m_im = torch.sigmoid(o_re), torch.sigmoid(o_im)
        elif self.mask == "UBD":
            m_re, m_im = o_re, o_im
        else:  # BDT: tanh(|O|) O / |O|, with the series 1 - r^2 / 3 of tanh(r) / r near 0
            r = torch.sqrt(o_re * o_re + o_im * o_im)
            small = r < 1e-4
            safe = torch.where(small, torch.ones_like(r), r)
            gain = torch.where(small, 1.0 - r * r / 3.0, torch.tanh(safe) / safe)
            m_re, m_im = o_re * gain, o_im * gain
        return re * m_re - im * m_im, re * m_im + im * m_re

    def forward(self, wave: torch.Tensor) -> dict:
        wave = self._check_input(wave)
        Y = stft(wave, self.stft_config)  # (B, F, T)
        re, im = self._raw_mask_pair(Y.real, Y.imag)
        mask = bounded_mask(torch.complex(re, im), self.mask)
        spec = apply_mask(Y, mask)
        return {"wave": istft(spec, self.stft_config, length=wave.shape[-1]), "spec": spec, "mask": mask}


@register("dcunet-10")
class DCUNet10(DCUNet):
    """DCUNet-10 (Appendix A): 5 encoders, 32-64-64-64-64 channels, (7,5)x2 then (5,3)x3 kernels."""

    def __init__(self, channels=(32, 64, 64, 64, 64), kernels=((7, 5), (7, 5), (5, 3), (5, 3), (5, 3)),
                 strides=((2, 2), (2, 2), (2, 2), (2, 2), (2, 1)), decoder_channels=None, mask: str = "BDT",
                 norm: str = "complex", negative_slope: float = 0.01) -> None:
        super().__init__(channels, kernels, strides, decoder_channels, mask, norm, negative_slope)


@register("dcunet-16")
class DCUNet16(DCUNet):
    """DCUNet-16 (Appendix A): 8 encoders, time strides alternating 2 and 1 after the first."""

    def __init__(self, channels=(32, 32, 64, 64, 64, 64, 64, 64),
                 kernels=((7, 5), (7, 5), (7, 5), (5, 3), (5, 3), (5, 3), (5, 3), (5, 3)),
                 strides=((2, 2), (2, 1), (2, 2), (2, 1), (2, 2), (2, 1), (2, 2), (2, 1)),
                 decoder_channels=None, mask: str = "BDT", norm: str = "complex",
                 negative_slope: float = 0.01) -> None:
        super().__init__(channels, kernels, strides, decoder_channels, mask, norm, negative_slope)


_K20 = ((7, 1), (1, 7), (7, 5), (7, 5), (5, 3), (5, 3), (5, 3), (5, 3), (5, 3), (5, 3))
_S20 = ((1, 1), (1, 1), (2, 2), (2, 1), (2, 2), (2, 1), (2, 2), (2, 1), (2, 2), (2, 1))


@register("dcunet-20")
class DCUNet20(DCUNet):
    """DCUNet-20 (Appendix A): 10 encoders; a (7,1) and a (1,7) layer at full resolution, then strided ones."""

    def __init__(self, channels=(32, 32, 64, 64, 64, 64, 64, 64, 64, 90), kernels=_K20, strides=_S20,
                 decoder_channels=None, mask: str = "BDT", norm: str = "complex",
                 negative_slope: float = 0.01) -> None:
        super().__init__(channels, kernels, strides, decoder_channels, mask, norm, negative_slope)


@register("large-dcunet-20")
class LargeDCUNet20(DCUNet):
    """Large-DCUNet-20 (Appendix A): DCUNet-20's layout with 45/90/128 channels and 90-channel decoders."""

    def __init__(self, channels=(45, 45, 90, 90, 90, 90, 90, 90, 90, 128), kernels=_K20, strides=_S20,
                 decoder_channels=(90, 90, 90, 90, 90, 90, 90, 90, 90), mask: str = "BDT", norm: str = "complex",
                 negative_slope: float = 0.01) -> None:
        super().__init__(channels, kernels, strides, decoder_channels, mask, norm, negative_slope)
