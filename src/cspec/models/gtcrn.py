"""GTCRN: the ultralight causal grouped temporal convolutional recurrent network of Rong et al. (2024).

Xiaobin Rong et al., "GTCRN: A speech enhancement model requiring ultralow computational resources", ICASSP 2024
(Fig. 1, Sec. 2). STFT: 512-point, 256 hop, square-root Hann window at 16 kHz (257 bins). The input features are
``[|Y|, Re Y, Im Y]`` per bin (3 channels); then

1. ERB band merging: the 65 lowest bins are kept, the 192 above are merged into 64 ERB bands (129 bands);
2. subband feature extraction (SFE): each band gets its two neighbours' features (3 -> 9 channels);
3. encoder: two conv blocks (kernel 1 x 5, stride 1 x 2 in frequency, 16 channels, the second in 2 groups;
   BN, PReLU; 129 -> 65 -> 33 bands) and three GTConv blocks (grouped temporal convolutions, SFE + point-wise +
   causal depth-wise 3 x 3 conv dilated 1, 2, 5 frames + point-wise + temporal recurrent attention, channel
   shuffle);
4. two grouped dual-path RNNs (intra-frame grouped GRU bidirectional over frequency, inter-frame grouped GRU
   forward in time);
5. a mirrored decoder (GTConv dilated 5, 2, 1, then two transposed conv blocks 33 -> 65 -> 129), each layer fed
   with the sum of the previous output and the mirrored encoder output; the last block has 2 channels and tanh;
6. ERB band splitting back to 257 bins gives a complex ratio mask ``M`` (real and imaginary parts in (-1, 1),
   times ``mask_gain``), applied as ``S = M Y`` (:func:`cspec.spectral.masks.apply_mask`).

Everything is causal along time, so with causal framing (constant zero centring = 256 zeros of past on the left,
:mod:`cspec.models.blocks.crn_common`) the model streams frame by frame; :meth:`GTCRN.lookahead` is exact: 510
samples (the sqrt-Hann window's first sample is zero), i.e. the algorithmic latency of one 32 ms window.

Parameters: the paper reports 23.7 k; the authors' repository later reports 48.2 k, counting the fixed ERB
matrices (2 x 64 x 192 = 24,576 values). Here the ERB matrices are buffers: 23.7 k trainable parameters, 48.2 k
with the buffers (``GTCRN.n_parameters_with_erb``). The MACs (33.0 M/s in the paper) were not measured here.

Deviations: the paper's decoder uses transposed convolutions in its GTConv blocks; with stride 1 and a causal
trim they equal convolutions with flipped kernels, so the same block is used (same function class and parameter
count). The ERB triangles are built from the ERB-rate formula (centres rounded to bins, crossing at half height,
summing to one); they agree with the authors' filters to float rounding. The official offline code centres frames
with reflect padding (not causal at the edges); this one pads with zeros.
"""

from __future__ import annotations

import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel, register
from cspec.models.blocks.crn_common import causal_istft, causal_stft, exact_lookahead
from cspec.models.blocks.crn_gtcrn import ERB, GDPRNN, SFE, GTConv
from cspec.models.blocks.grow import check_growth, grow_
from cspec.nn.functional import complex_mul
from cspec.spectral.masks import apply_mask
from cspec.spectral.stft import STFTConfig

__all__ = ["GTCRN", "GTCRN_STFT"]

GTCRN_STFT = STFTConfig(
    512, 256, 512, "sqrt_hann", center=True, pad_mode="constant", sample_rate=16000,
    source="Rong et al. 2024, GTCRN (ICASSP): 512-point sqrt-Hann window, hop 256 at 16 kHz; zero (causal) centring",
)


def _conv_block(c_in: int, c_out: int, groups: int, transposed: bool, last: bool = False) -> nn.Sequential:
    conv_cls = nn.ConvTranspose2d if transposed else nn.Conv2d
    conv = conv_cls(c_in, c_out, (1, 5), (1, 2), (0, 2), groups=groups)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.Tanh() if last else nn.PReLU())


@register("gtcrn")
class GTCRN(SpeechModel):
    """Rong et al. 2024 GTCRN (defaults: the paper's configuration, 23.7 k trainable parameters).

    Args:
        channels: feature channels of the encoder, the G-DPRNNs and the decoder (16).
        hidden: hidden channels of the GTConv blocks (16).
        dilations: time dilations of the encoder's GTConv blocks (1, 2, 5); the decoder mirrors them.
        n_dprnn: grouped dual-path RNN blocks (2).
        erb_low: bins kept as they are below the ERB bands (65).
        erb_bands: ERB bands above them (64).
        lookahead_frames: frames of look-ahead (0, the paper's). With ``L > 0`` the mask the network computes at
            frame ``t + L`` (having seen the input up to there) is applied to frame ``t``: ``L`` x 16 ms more
            latency for more context, as in DeepFilterNet (Schröter et al. 2022, 2 frames). Still causal in the
            sense of :meth:`lookahead`, but :class:`cspec.infer.Stream` and frame-wise ONNX export take only
            ``L = 0``.
        mask_gain: factor on the complex mask (1, the paper's), cspec's option. The tanh bounds each part of the
            mask to (-1, 1) and a trained network saturates well below 1: the bundled ones pass clean speech at about
            0.74 of its level. ``recipes/pool/calibrate_gain.py`` sets this factor to the inverse of the gain
            measured on clean speech, so that speech keeps its level; a uniform factor leaves PESQ, STOI and SI-SDR
            unchanged.
        extra_inputs: further complex spectra that :meth:`mask_pair` takes beside the one it masks (0), cspec's
            option for cascades (:mod:`cspec.models.gtcrn_two_stage`'s ``second_sees_noisy``, after Li et al.
            2021's CTS-Net, whose second stage sees the noisy spectrum too). Their features enter the first
            convolution through weights that start at zero, so the network starts as if they were absent.
        dprnn_scale: multiplies the hidden units of the G-DPRNNs' GRUs (1, the paper's), cspec's option for a wider
            GTCRN; with ``hidden`` it widens the network without changing its feature channels, so a trained GTCRN
            grows into the wider one and keeps its function (:meth:`grow_from`).
        df_order: taps of a deep filter in the ``erb_low`` lowest bins (1: the paper's complex ratio mask). With
            ``N > 1`` the decoder also gives ``N - 1`` complex coefficients per low bin and frame, applied to the
            noisy spectrum's previous frames: ``S(t, f) = sum_k M_k(t, f) Y(t - k, f)``, as DeepFilterNet's deep
            filter below 5 kHz (Schröter et al. 2022, DeepFilterNet; Mack & Habets 2020, deep filtering), here
            causal (past frames only). The first ``erb_low`` bins (2 kHz) are the ones GTCRN keeps unmerged.
            Offline, streaming and both ONNX exports (the streaming state keeps the last ``N - 1`` frames). cspec's option; a trained GTCRN grows into it (:meth:`grow_from`).
    """

    sample_rate = 16000
    stft_config = GTCRN_STFT
    causal = True
    paper = "Rong et al., 2024, ICASSP: GTCRN: A speech enhancement model requiring ultralow computational resources"
    paper_params = 0.0237
    #: options introduced after the bundled ONNX exports, at their defaults left out of ``model_digest``
    added_options = {"dprnn_scale": 1, "df_order": 1}
    FEATURES_PER_INPUT = 9  # input channels a spectrum gives: (magnitude, real, imaginary) x the SFE's 3 neighbours

    def __init__(
        self, channels: int = 16, hidden: int = 16, dilations: tuple = (1, 2, 5), n_dprnn: int = 2,
        erb_low: int = 65, erb_bands: int = 64, lookahead_frames: int = 0, mask_gain: float = 1.0,
        extra_inputs: int = 0, dprnn_scale: int = 1, df_order: int = 1,
    ):
        super().__init__()
        if int(lookahead_frames) < 0:
            raise ConfigError(f"lookahead_frames must be >= 0, got {lookahead_frames}")
        if not 0 < float(mask_gain) < float("inf"):
            raise ConfigError(f"mask_gain must be a positive number, got {mask_gain}")
        if int(df_order) < 1:
            raise ConfigError(f"df_order must be >= 1 (1: a complex ratio mask), got {df_order}")
        self.df_order = int(df_order)
        if int(extra_inputs) < 0:
            raise ConfigError(f"extra_inputs must be >= 0, got {extra_inputs}")
        self.lookahead_frames, self.mask_gain = int(lookahead_frames), float(mask_gain)
        self.extra_inputs = int(extra_inputs)
        cfg = self.stft_config
        self.erb = ERB(int(erb_low), int(erb_bands), cfg.n_fft, cfg.sample_rate)
        self.sfe = SFE(3)
        bands = int(erb_low) + int(erb_bands)
        width = ((bands - 1) // 2) // 2 + 1  # 129 -> 65 -> 33
        if (bands - 1) % 4:
            raise ConfigError(f"erb_low + erb_bands - 1 must be divisible by 4 (two stride-2 layers), got {bands}")
        dil = [int(d) for d in dilations]
        self.encoder = nn.ModuleList(
            [_conv_block(self.FEATURES_PER_INPUT * (1 + self.extra_inputs), channels, 1, False),
             _conv_block(channels, channels, 2, False)]
            + [GTConv(channels, hidden, d) for d in dil]
        )
        self.dprnn = nn.Sequential(*[GDPRNN(channels, width, dprnn_scale) for _ in range(int(n_dprnn))])
        self.decoder = nn.ModuleList(
            [GTConv(channels, hidden, d) for d in dil[::-1]]
            + [_conv_block(channels, channels, 2, True), _conv_block(channels, 2 * self.df_order, 1, True, last=True)]
        )
        # cspec's choice, not the paper's: the mask starts as the same real gain tanh(0.5) = 0.46 in every bin (the
        # last normalisation's scale at zero, as the zero-initialised last BatchNorm of each residual block in Goyal et
        # al. 2017), in phase with the input. With the default init, the sign of the initial mask in the speech bins
        # is a coin flip of the seed, and a mostly magnitude loss keeps an inverted start inverted (the first bundled
        # models: output = clean speech x -0.45; see negate_mask).
        with torch.no_grad():
            self.mask_norm.weight.zero_()
            self.mask_norm.bias.zero_()
            self.mask_norm.bias[0] = 0.5  # the deep filter's further taps start at zero
            self.input_conv.weight[:, self.FEATURES_PER_INPUT:].zero_()  # the extra inputs' weights

    @property
    def input_conv(self) -> nn.Conv2d:
        """The first convolution; its input channels are ``FEATURES_PER_INPUT`` per spectrum, the masked one first."""
        return self.encoder[0][0]

    @property
    def mask_norm(self) -> nn.BatchNorm2d:
        """The BatchNorm before the mask's tanh (channels: real, imaginary)."""
        return self.decoder[-1][1]

    def lookahead(self) -> int:
        return exact_lookahead(self.stft_config) + self.lookahead_frames * self.stft_config.hop_length

    @torch.no_grad()
    def negate_mask(self) -> "GTCRN":
        """Multiply the complex mask by -1, in place: the output's polarity flips and nothing else changes.

        The mask's last block is conv -> BatchNorm -> tanh, and tanh is odd, so negating the BatchNorm's affine
        weight and bias negates the mask exactly. For a network that a magnitude-dominated loss (0.9 |.| + 0.1
        real-imaginary, with a sign-blind SI-SDR term) left in the inverted solution, which the real-imaginary term
        then also pulls towards a lower level: after the flip both terms agree (recipes/pool/flip_polarity.py,
        the first-generation tiny-pol stage in the bundled cards' Lineage tables).
        """
        self.mask_norm.weight.neg_()
        self.mask_norm.bias.neg_()
        return self

    @torch.no_grad()
    def grow_from(self, small: "GTCRN") -> "GTCRN":
        """Take a trained GTCRN's weights into this larger one so that it computes the same function (in place).

        ``small`` must have the same options except a smaller or equal ``hidden`` (the GTConv blocks' hidden
        channels), ``dprnn_scale`` (the G-DPRNNs' GRU units), ``n_dprnn`` and ``df_order`` (new taps start at
        zero). New units start with zero outgoing weights (:mod:`cspec.models.blocks.grow`, after Net2Net, Chen et
        al. 2016); new G-DPRNN blocks come after the trained ones with their layer norms' affine parameters at zero,
        so each adds nothing to its residual (an identity, as Net2DeeperNet's). The way to a larger causal student
        that keeps what a model learnt.
        """
        check_growth(self, small, ("hidden", "dprnn_scale", "n_dprnn", "df_order"))
        blocks = {}
        for k in range(len(self.dprnn)):
            blocks[f"dprnn.{k}.intra_fc"] = 4  # two groups x two directions
            blocks[f"dprnn.{k}.inter_fc"] = 2  # two groups
        new = [f"dprnn.{k}." for k in range(len(small.dprnn), len(self.dprnn))]
        grow_(self, small, blocks, new_modules=new)  # new deep-filter taps keep __init__'s zero mask_norm: zero taps
        for block in list(self.dprnn)[len(small.dprnn):]:
            for ln in (block.intra_ln, block.inter_ln):
                ln.weight.zero_()
                ln.bias.zero_()
        return self

    def n_parameters_with_erb(self) -> int:
        """Trainable parameters plus the fixed ERB matrices (the count of the authors' repository, 48.2 k)."""
        return self.n_parameters() + 2 * self.erb.fb.numel()

    def _features(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """``(B, 9, T + L, 129)``: magnitude, real and imaginary parts on the ERB bands, with their neighbours."""
        r, i = re.transpose(1, 2), im.transpose(1, 2)  # (B, T, F)
        la = self.lookahead_frames
        if la:  # L frames of zeros after the end; the mask of frame t is the network's output at t + L
            r, i = nn.functional.pad(r, (0, 0, 0, la)), nn.functional.pad(i, (0, 0, 0, la))
        mag = torch.sqrt(r.square() + i.square() + 1e-12)
        return self.sfe(self.erb.bm(torch.stack([mag, r, i], dim=1)))

    def mask_pair(self, re: torch.Tensor, im: torch.Tensor, *extra: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real and imaginary parts ``(B, 257, frames)`` of the complex ratio mask, from those of the noisy
        spectrum: the network on real tensors, shared by :meth:`estimate_mask` and the streaming/ONNX path.
        ``extra``: the real and imaginary parts of the ``extra_inputs`` further spectra, in turn. With a deep filter
        (``df_order > 1``) this is its tap on the current frame; :meth:`enhance_pair` applies all taps."""
        m = self._taps(re, im, *extra)
        return m[:, 0].transpose(1, 2), m[:, 1].transpose(1, 2)

    def enhance_pair(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The enhanced spectrum's real and imaginary parts ``(B, 257, frames)``: ``S = M Y``, or with a deep filter
        ``S(t, f) = sum_k M_k(t, f) Y(t - k, f)`` in the ``erb_low`` lowest bins (``Y`` zero before the start)."""
        return self._apply_taps(re, im, self._taps(re, im))

    def _apply_taps(self, re: torch.Tensor, im: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = m.transpose(2, 3)  # (B, 2 N, 257, T)
        sr, si = complex_mul(re, im, m[:, 0], m[:, 1])
        if self.df_order == 1:
            return sr, si
        low, n, p = self.erb.n_low, re.shape[-1], self.df_order - 1
        hr, hi = self._history(re, im)
        ar, ai = sr[:, :low], si[:, :low]
        for k in range(1, self.df_order):  # + M_k Y(t - k) in the low bins
            tr, ti = complex_mul(hr[..., p - k: p - k + n], hi[..., p - k: p - k + n],
                                 m[:, 2 * k, :low], m[:, 2 * k + 1, :low])
            ar, ai = ar + tr, ai + ti
        return torch.cat([ar, sr[:, low:]], dim=1), torch.cat([ai, si[:, low:]], dim=1)

    def _history(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The low bins of ``Y`` with the ``df_order - 1`` frames before them: zeros before the start (offline);
        :class:`cspec.infer.Stream` puts the previous call's last frames there."""
        low, p = self.erb.n_low, self.df_order - 1
        return nn.functional.pad(re[:, :low], (p, 0)), nn.functional.pad(im[:, :low], (p, 0))

    def _taps(self, re: torch.Tensor, im: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        """The decoder's output on the bins, ``(B, 2 df_order, T, 257)``: real and imaginary part of each tap."""
        if len(extra) != 2 * self.extra_inputs:
            raise ConfigError(f"this GTCRN takes {self.extra_inputs} extra spectra (as real, imaginary pairs), "
                              f"got {len(extra)} tensors")
        la = self.lookahead_frames
        x = self._features(re, im)
        if extra:
            x = torch.cat([x] + [self._features(extra[k], extra[k + 1]) for k in range(0, len(extra), 2)], dim=1)
        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        x = self.dprnn(x)
        for k, layer in enumerate(self.decoder):
            x = layer(x + skips[-1 - k])
        m = self.erb.bs(x)[:, :, la:]  # (B, 2 df_order, T, 257)
        if self.mask_gain != 1.0:
            m = m * self.mask_gain
        return m

    def estimate_mask(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex ratio mask ``(B, 257, frames)`` from the noisy spectrum ``(B, 257, frames)``."""
        return torch.complex(*self.mask_pair(spec.real, spec.imag))

    def forward(self, wave: torch.Tensor) -> dict:
        wave = self._check_input(wave)
        noisy = causal_stft(wave, self.stft_config)
        if self.df_order == 1:
            mask = self.estimate_mask(noisy)
            spec = apply_mask(noisy, mask)
        else:  # the first tap's mask is reported
            taps = self._taps(noisy.real, noisy.imag)
            mask = torch.complex(taps[:, 0], taps[:, 1]).transpose(1, 2)
            spec = torch.complex(*self._apply_taps(noisy.real, noisy.imag, taps))
        return {"wave": causal_istft(spec, self.stft_config, wave.shape[-1]), "spec": spec, "mask": mask}
