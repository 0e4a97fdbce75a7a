"""uPIT-BLSTM: T-F masking separation with utterance-level permutation invariant training.

Morten Kolbæk, Dong Yu, Zheng-Hua Tan, Jesper Jensen, "Multitalker speech separation with utterance-level
permutation invariant training of deep recurrent neural networks", IEEE/ACM TASLP 25(10), 2017 (Sec. III-IV).
The mixture's STFT magnitude (32 ms frames, 8 ms shift; 129 bins at 8 kHz in the paper, 257 at 16 kHz here) goes
through a stack of bidirectional LSTMs (3 layers of 896 units per direction in the paper's best system,
"uPIT-BLSTM") and one dense output layer per speaker that gives a T-F mask of the mixture; each masked mixture is
a speaker's spectrum, resynthesised with the mixture's phase. The permutation is chosen once per utterance
(uPIT, eq. 13), which :mod:`cspec.losses.pit` does for any loss.

The paper trains the phase-sensitive approximation (PSA, eq. 6) with ReLU masks; here the masks are sigmoid
magnitude masks (``mask="magnitude"``) or DCUNet's bounded complex masks (``mask="complex"``, Choi et al. 2019,
:func:`cspec.spectral.masks.bounded_mask`), and the loss is whatever the recipe sets (sep2: negative SI-SNR with
uPIT on the waveforms, as Conv-TasNet). Inputs: the log power of the mixture divided by its standard deviation
(``input_scale`` of :class:`~cspec.models.blocks.separation.PairSpectralSeparator`), so the network is blind to
the input level, with a layer norm over frequency. On WSJ0-2mix (8 kHz) the paper's system with speaker tracing,
uPIT-BLSTM-ST, counts 92.7 M parameters and improves the SDR by 10.0 dB (as Conv-TasNet's comparison, Luo &
Mesgarani 2019, Table IV, lists it).
"""

from __future__ import annotations

import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import register
from cspec.models.blocks.grow import check_growth, grow_
from cspec.models.blocks.separation import PairSpectralSeparator
from cspec.spectral.masks import bdt_gain
from cspec.spectral.stft import STFTConfig

__all__ = ["UPIT", "UPIT_STFT"]

UPIT_STFT = STFTConfig(
    512, 128, 512, "hann", sample_rate=16000,
    source="Kolbæk et al. 2017 (uPIT, IEEE/ACM TASLP): 32 ms frames, 8 ms shift (at 16 kHz: 512/128)",
)

_MASKS = ("magnitude", "complex")


@register("upit")
class UPIT(PairSpectralSeparator):
    """uPIT-BLSTM mask estimator (defaults: the paper's 3 x 896 BLSTM; the module docstring says what differs).

    Args:
        hidden: LSTM units per direction.
        layers: stacked bidirectional LSTM layers.
        n_sources: speakers separated.
        mask: ``"magnitude"`` (sigmoid, mixture phase) or ``"complex"`` (bounded tanh, DCUNet's BDT).
        dropout: between LSTM layers (the paper: 0.5 on the input of each layer; 0 here by default).
    """

    stft_config = UPIT_STFT
    sample_rate = 16000
    paper = ("Kolbæk, Yu, Tan & Jensen 2017, Multitalker speech separation with utterance-level permutation "
             "invariant training of deep recurrent neural networks, IEEE/ACM TASLP 25(10)")
    paper_params = None  # the paper's count is for 129 bins at 8 kHz; this is the 16 kHz, 257-bin model

    def __init__(self, hidden: int = 896, layers: int = 3, n_sources: int = 2, mask: str = "magnitude",
                 dropout: float = 0.0):
        super().__init__()
        if mask not in _MASKS:
            raise ConfigError(f"upit mask must be one of {', '.join(_MASKS)}, got '{mask}'")
        if hidden < 1 or layers < 1 or n_sources < 1:
            raise ConfigError("upit needs hidden >= 1, layers >= 1 and n_sources >= 1")
        self.n_sources, self.mask_kind = int(n_sources), mask
        n_freqs = self.stft_config.n_freqs
        self.norm = nn.LayerNorm(n_freqs)
        self.rnn = nn.LSTM(n_freqs, int(hidden), int(layers), batch_first=True, bidirectional=True,
                           dropout=float(dropout) if layers > 1 else 0.0)
        parts = 2 if mask == "complex" else 1
        self.out = nn.Linear(2 * int(hidden), self.n_sources * parts * n_freqs)

    @torch.no_grad()
    def grow_from(self, small: "UPIT") -> "UPIT":
        """Take a trained uPIT-BLSTM's weights into this one with more LSTM units (``hidden``, all other options
        equal), so that it computes the same function (in place): new units start with zero outgoing weights
        (:mod:`cspec.models.blocks.grow`, after Net2Net, Chen et al. 2016). A recipe's ``model.init`` that names a
        smaller model grows it this way."""
        check_growth(self, small, ("hidden",))
        return grow_(self, small, {"out": 2})  # the output layer reads both directions of the last layer

    def pair_forward(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The speakers' spectra ``(B, C, F, T)`` from the scaled mixture's real and imaginary parts ``(B, F, T)``
        (also the ONNX export's core, :mod:`cspec.infer.onnx_graphs`)."""
        feat = torch.log(re.square() + im.square() + 1e-6).transpose(1, 2)  # (B, T, F)
        h = self.rnn(self.norm(feat))[0]
        raw = self.out(h)  # (B, T, C * parts * F)
        b, t, _ = raw.shape
        f = re.shape[1]
        re, im = re.unsqueeze(1), im.unsqueeze(1)
        if self.mask_kind == "magnitude":
            m = torch.sigmoid(raw.view(b, t, self.n_sources, f).permute(0, 2, 3, 1))  # (B, C, F, T)
            return m * re, m * im
        raw = raw.view(b, t, self.n_sources, 2, f).permute(0, 2, 3, 4, 1)  # (B, C, 2, F, T)
        mr, mi = raw[:, :, 0], raw[:, :, 1]
        # DCUNet's BDT, |M| = tanh(|O|) with the phase of O (the 1e-12 keeps sqrt's gradient finite at 0)
        gain = bdt_gain(torch.sqrt(mr.square() + mi.square() + 1e-12))
        mr, mi = mr * gain, mi * gain
        return mr * re - mi * im, mr * im + mi * re
