"""Deep Complex Convolution Recurrent Network (DCCRN): Hu, Liu, Lv, Xing, Zhang, Fu, Wu, Zhang & Xie (2020),
"DCCRN: Deep complex convolution recurrent network for phase-aware speech enhancement", Interspeech.

Network (Sec. 2, Fig. 1): complex STFT (400-sample sqrt-Hann window, hop 100, 512-point FFT: preset ``dccrn``);
the DC bin is dropped and the 256 other bins go through six encoder blocks -- complex Conv2d (eq. 1) with kernel
(5, 2) and stride (2, 1) (freq, time), causal along time, complex batch norm, PReLU -- a recurrent stage on the
flattened (channel x freq) features, and six mirrored decoder blocks (complex transposed conv, causal) each fed
with the concatenation of the previous output and the encoder output of the same size; the last decoder has no
norm and no activation and gives the complex mask ``M`` (0 on the DC bin). Masking (Sec. 2.3, training target):

* ``E`` (DCCRN-E, DCCRN-CL): polar, ``X = tanh(|M|) |Y| exp(j(theta_Y + theta_M))`` -- exactly DCUNet's "BDT"
  mask, so computed as ``bounded_mask(M, "BDT") * Y``;
* ``C`` (DCCRN-C): complex multiplication ``X = M Y`` (unbounded);
* ``R`` (DCCRN-R): the real and imaginary parts masked separately, ``X = Re(Y) Re(M) + j Im(Y) Im(M)``.

Recurrent stage: DCCRN-E/R/C use a real 2-layer LSTM of 256 units on the real and imaginary features together,
then a dense layer back to the feature size; DCCRN-CL a complex LSTM (eq. 3, two real LSTMs combined as a
complex product: :class:`cspec.nn.ComplexLSTM` ``form="dccrn"``) of 2 layers with 128 units for the real and
128 for the imaginary part, then a dense layer of 1024 real (512 complex) units (:class:`cspec.nn.ComplexLinear`).

Channels: the paper and its code count real and imaginary maps together ({32, 64, 128, 256, 256, 256} for
DCCRN-CL); ``channels`` here counts complex channels, so the defaults are half those numbers. The authors' code
(huyanxin/DeepComplexCRN, ``dc_crn.py``) gives DCCRN-E/R/C the encoder {16, 32, 64, 128, 256, 256} (real +
imaginary), i.e. 8-16-32-64-128-128 complex, which is what makes all four models about 3.7 M parameters (Table 1).

Causality and look-ahead: every layer is causal in frames (left-padded time convolutions, transposed
convolutions that drop their last frame, unidirectional LSTM, batch norm with running statistics in eval), so
output sample ``t`` depends on the frames whose window covers ``t``. With ``a``/``b`` the first/last non-zero
window samples, a frame depends on input up to ``b`` samples after its window start and contributes to output
from ``a`` samples after it, hence the look-ahead ``b - a`` (the default :meth:`SpeechModel.lookahead`): 398
samples = 24.9 ms for the periodic 400-sample sqrt-Hann, whose first sample is 0. The centred STFT's reflect
padding maps sample ``-k`` of the first frames to ``+k`` with ``k`` inside the window span of that frame, so it
adds no look-ahead.

Deviations from the authors' code, all stated: the decoder's causal transposed convolution drops its LAST frame
(the code drops the first, which looks one frame ahead per layer); the CL dense layer is a complex linear layer
(the code uses one real linear layer on each part; same parameter count); the output is not clipped to [-1, 1];
batch norm is the whitening complex BN of the paper (``norm="naive"`` gives the code's per-part BN).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel, register
from cspec.models.blocks.cplx_unet import ComplexDecoderBlock, ComplexEncoderBlock, cat_pairs
from cspec.nn import ComplexLinear, ComplexLSTM
from cspec.spectral.masks import apply_mask, bounded_mask
from cspec.spectral.stft import get_preset, istft, stft

__all__ = ["DCCRN", "DCCRNE", "DCCRNR", "DCCRNC", "DCCRNCL", "MASKS"]

MASKS = ("E", "R", "C")
_PAPER = ("Hu, Liu, Lv, Xing, Zhang, Fu, Wu, Zhang & Xie 2020, DCCRN: Deep complex convolution recurrent network "
          "for phase-aware speech enhancement, Interspeech")
_CH_ERC = (8, 16, 32, 64, 128, 128)
_CH_CL = (16, 32, 64, 128, 128, 128)


class DCCRN(SpeechModel):
    """DCCRN; see the module docstring.

    Args:
        channels: complex output channels of the encoder layers (the paper counts twice these).
        kernel: ``(freq, time)`` kernel of every encoder/decoder layer.
        stride: ``(freq, time)`` stride of every encoder/decoder layer.
        rnn: ``"real"`` (LSTM on stacked real/imaginary features, DCCRN-E/R/C) or ``"complex"`` (DCCRN-CL).
        rnn_units: LSTM units; for ``"complex"`` real plus imaginary (256 = 128 + 128, as the paper counts).
        rnn_layers: number of LSTM layers.
        mask: ``"E"``, ``"R"`` or ``"C"``.
        norm: ``"complex"`` (paper), ``"naive"`` (the authors' code) or ``"none"``.
    """

    sample_rate = 16000
    stft_config = get_preset("dccrn")
    causal = True
    n_sources = 1
    paper = _PAPER
    paper_params = 3.7

    def __init__(self, channels=_CH_ERC, kernel=(5, 2), stride=(2, 1), rnn: str = "real", rnn_units: int = 256,
                 rnn_layers: int = 2, mask: str = "E", norm: str = "complex") -> None:
        super().__init__()
        self.mask = str(mask).upper()
        if self.mask not in MASKS:
            raise ConfigError(f"unknown DCCRN mask '{mask}'; choose one of {', '.join(MASKS)}")
        if rnn not in ("real", "complex"):
            raise ConfigError(f"rnn must be 'real' or 'complex', got '{rnn}'")
        if len(channels) < 1 or rnn_units < 2 or rnn_layers < 1:
            raise ConfigError("DCCRN needs at least one encoder layer, rnn_units >= 2 and rnn_layers >= 1")
        kernel, stride = tuple(kernel), tuple(stride)
        if stride[1] != 1:
            raise ConfigError(f"DCCRN keeps the frame rate: the time stride must be 1, got {stride[1]}")
        kw = dict(causal=True, norm=norm, act="prelu")
        self.encoders, self.decoders = nn.ModuleList(), nn.ModuleList()
        n_freq, c_in = self.stft_config.n_freqs - 1, 1
        for c in channels:
            self.encoders.append(ComplexEncoderBlock(c_in, c, kernel, stride, **kw))
            n_freq, c_in = (n_freq - 1) // stride[0] + 1, c
        outs = (1,) + tuple(channels[:-1])
        for i in reversed(range(len(channels))):
            last = i == 0
            self.decoders.append(ComplexDecoderBlock(2 * channels[i], outs[i], kernel, stride, causal=True,
                                                     norm="none" if last else norm, act="none" if last else "prelu"))
        self.rnn_kind = rnn
        feat = channels[-1] * n_freq  # complex features per frame
        if rnn == "real":
            self.rnn = nn.LSTM(2 * feat, rnn_units, rnn_layers, batch_first=True)
            self.dense = nn.Linear(rnn_units, 2 * feat)
        else:
            self.rnn = ComplexLSTM(feat, rnn_units // 2, rnn_layers, form="dccrn")
            self.dense = ComplexLinear(rnn_units // 2, feat)

    def _recurrent(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, f, t = re.shape
        if self.rnn_kind == "real":
            x = torch.cat([re, im], 1).permute(0, 3, 1, 2).reshape(b, t, 2 * c * f)
            y = self.dense(self.rnn(x)[0]).reshape(b, t, 2 * c, f).permute(0, 2, 3, 1)
            return y[:, :c], y[:, c:]
        xr, xi = (z.permute(0, 3, 1, 2).reshape(b, t, c * f) for z in (re, im))
        yr, yi, _ = self.rnn.forward_pair_state(xr, xi)
        yr, yi = self.dense.forward_pair(yr, yi)
        return tuple(z.reshape(b, t, c, f).permute(0, 2, 3, 1) for z in (yr, yi))

    def raw_mask_pair(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real and imaginary parts ``(B, 257, frames)`` of the unbounded mask: the complex U-Net and recurrent
        stage on the bins above DC (the DC bin's mask is 0), on real pairs; shared by :meth:`forward` and the
        streaming/ONNX path. ``mask`` says how it is applied."""
        x = (re[:, None, 1:], im[:, None, 1:])
        skips = []
        for enc in self.encoders:
            x = enc.forward_pair(*x)
            skips.append(x)
        x = self._recurrent(*x)
        for dec in self.decoders:
            x = dec.forward_pair(*cat_pairs(x, skips.pop()))
        return F.pad(x[0][:, 0], (0, 0, 1, 0)), F.pad(x[1][:, 0], (0, 0, 1, 0))

    def forward(self, wave: torch.Tensor) -> dict:
        wave = self._check_input(wave)
        Y = stft(wave, self.stft_config)  # (B, 257, T)
        raw = torch.complex(*self.raw_mask_pair(Y.real, Y.imag))
        if self.mask == "E":
            mask = bounded_mask(raw, "BDT")
            spec = apply_mask(Y, mask)
        elif self.mask == "C":
            mask = raw
            spec = apply_mask(Y, mask)
        else:
            mask = raw
            spec = torch.complex(Y.real * raw.real, Y.imag * raw.imag)
        return {"wave": istft(spec, self.stft_config, length=wave.shape[-1]), "spec": spec, "mask": mask}


@register("dccrn-e")
class DCCRNE(DCCRN):
    """DCCRN-E: real LSTM, polar mask."""

    def __init__(self, channels=_CH_ERC, kernel=(5, 2), stride=(2, 1), rnn: str = "real", rnn_units: int = 256,
                 rnn_layers: int = 2, mask: str = "E", norm: str = "complex") -> None:
        super().__init__(channels, kernel, stride, rnn, rnn_units, rnn_layers, mask, norm)


@register("dccrn-r")
class DCCRNR(DCCRN):
    """DCCRN-R: real LSTM, real and imaginary parts masked separately."""

    def __init__(self, channels=_CH_ERC, kernel=(5, 2), stride=(2, 1), rnn: str = "real", rnn_units: int = 256,
                 rnn_layers: int = 2, mask: str = "R", norm: str = "complex") -> None:
        super().__init__(channels, kernel, stride, rnn, rnn_units, rnn_layers, mask, norm)


@register("dccrn-c")
class DCCRNC(DCCRN):
    """DCCRN-C: real LSTM, complex ratio mask applied by complex multiplication."""

    def __init__(self, channels=_CH_ERC, kernel=(5, 2), stride=(2, 1), rnn: str = "real", rnn_units: int = 256,
                 rnn_layers: int = 2, mask: str = "C", norm: str = "complex") -> None:
        super().__init__(channels, kernel, stride, rnn, rnn_units, rnn_layers, mask, norm)


@register("dccrn-cl")
class DCCRNCL(DCCRN):
    """DCCRN-CL: complex LSTM (eq. 3) and the polar mask."""

    def __init__(self, channels=_CH_CL, kernel=(5, 2), stride=(2, 1), rnn: str = "complex", rnn_units: int = 256,
                 rnn_layers: int = 2, mask: str = "E", norm: str = "complex") -> None:
        super().__init__(channels, kernel, stride, rnn, rnn_units, rnn_layers, mask, norm)
