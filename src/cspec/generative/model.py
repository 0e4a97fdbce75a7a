"""The data path shared by the generative enhancers and their predictive twin: waveform <-> compressed complex STFT.

:class:`GenerativeEnhancer` is a :class:`cspec.models.SpeechModel` (waveform in, ``{"wave", "spec"}`` out, the input's
length kept) around a backbone ``net(x, t)`` of :mod:`cspec.models.backbones`: ``x`` real ``(B, 4, F, T)`` (real and
imaginary parts of the current state and of the noisy spectrogram ``y``), ``t`` ``(B,)``, output ``(B, 2, F, T)``
(a complex spectrogram: a score, a clean estimate or a velocity, depending on the method). The methods themselves
(:mod:`cspec.generative.enhancers`) only say how to sample and what to train.

The data path of SGMSE+ (Richter et al. 2023, Sec. IV-A; sp-uhh/sgmse ``data_module.py``), which the bridge and the
flow papers keep: each waveform is divided by the noisy waveform's peak (``normalize="noisy"``; NeMo's
``normalize_input``), analysed with the preset's STFT (``"sgmse"``: 510-point periodic Hann, hop 128, 256 bins) and
compressed, ``0.15 |X|^0.5 e^{j angle X}``; the frames (and bins) are zero-padded at the end to a multiple of the
backbone's ``multiple`` and cropped back, and the output is decompressed, inverted and multiplied by the peak again.
Inputs shorter than half a window are zero-padded for the STFT's reflect padding and cropped after.

``steps`` is the number of network passes of one enhancement (the sampler's steps times its passes per step); it
is set at construction (``None``: the paper's number of sampler steps, ``process.N``, times the passes per step) and
may be changed at inference (``model.steps = 4``); a count the sampler cannot make exactly raises
:class:`cspec.errors.ConfigError`. Sampling is reproducible: ``forward`` seeds a
``torch.Generator`` with ``seed`` on every call (one generator for the batch, so an item's draw depends on its place
in the batch). The samplers run without gradients; ``training_loss`` is the differentiable path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel
from cspec.spectral.features import compress, decompress
from cspec.spectral.stft import get_preset, istft, stft

__all__ = ["GenerativeEnhancer"]


class _Context:
    """What ``forward`` needs to undo the preparation of a batch: peak, lengths, bins and frames."""

    def __init__(self, scale, length, padded_length, n_bins, n_frames):
        self.scale, self.length, self.padded_length = scale, length, padded_length
        self.n_bins, self.n_frames = n_bins, n_frames

    def crop(self, spec: torch.Tensor) -> torch.Tensor:
        return spec[..., : self.n_bins, : self.n_frames]


class GenerativeEnhancer(SpeechModel):
    """Base class of the generative enhancers (and the predictive twin); subclasses set ``_sample`` and ``_loss``.

    Args:
        backbone: a name of :func:`cspec.models.backbones.build_backbone`, or an ``nn.Module`` (tests).
        backbone_options: keyword arguments of the backbone (plain values).
        preset: the STFT preset (its compression included); ``"sgmse"`` by default.
        seed: seed of the sampler's random generator.
        normalize: divide by the noisy waveform's peak before the STFT (and multiply back after).
    """

    passes_per_step: int = 1
    #: models of one family may be initialised from each other's weights (``model.init``): one backbone interface
    weight_family = "generative-enhancer"
    #: the only number of passes a one-pass model accepts (``None``: any multiple of ``passes_per_step``)
    fixed_steps: int | None = None

    def __init__(self, backbone="ncsnpp", backbone_options: dict | None = None, preset: str = "sgmse",
                 seed: int = 0, normalize: bool = True):
        super().__init__()
        self.stft_config = get_preset(preset)
        self.sample_rate = self.stft_config.sample_rate
        if isinstance(backbone, nn.Module):
            self.net = backbone
        else:
            from cspec.models.backbones import build_backbone

            self.net = build_backbone(backbone, **dict(backbone_options or {}))
        self.multiple = int(getattr(self.net, "multiple", 1))
        self.seed = int(seed)
        self.normalize = bool(normalize)
        self._steps = 1  # subclasses set self.steps once their sampler is known

    # --- the number of network passes -------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """Network passes per enhancement (``sampler steps * passes_per_step``)."""
        return self._steps

    @steps.setter
    def steps(self, value) -> None:
        p = self.passes_per_step
        if value is None:  # the paper's number of sampler steps
            value = self.fixed_steps or self.process.N * p
        if self.fixed_steps is not None and value != self.fixed_steps:
            raise ConfigError(f"{self.name} makes exactly {self.fixed_steps} network pass(es); got steps={value}")
        if int(value) != value or value < p or value % p:
            raise ConfigError(f"{self.name}: steps counts network passes; its sampler makes {p} per step, so steps "
                              f"must be a positive multiple of {p}, got {value}")
        self._steps = int(value)

    @property
    def sampler_steps(self) -> int:
        return self._steps // self.passes_per_step

    # --- the data path ----------------------------------------------------------------------------------------
    def to_spec(self, wave: torch.Tensor) -> torch.Tensor:
        """Compressed complex spectrogram ``(B, F, T)`` of ``wave`` ``(B, S)`` (the processes' domain)."""
        cfg = self.stft_config
        spec = stft(wave, cfg)
        return compress(spec, cfg.compress, cfg.compress_scale) if cfg.compress else spec

    def to_wave(self, spec_c: torch.Tensor, length: int) -> torch.Tensor:
        """Inverse of :meth:`to_spec`: decompress and iSTFT to ``length`` samples."""
        return istft(self._decompress(spec_c), self.stft_config, length=length)

    def _decompress(self, spec_c):
        cfg = self.stft_config
        return decompress(spec_c, cfg.compress, cfg.compress_scale) if cfg.compress else spec_c

    def _prepare(self, noisy: torch.Tensor, clean: torch.Tensor | None = None):
        noisy = self._check_input(noisy)
        length = noisy.shape[-1]
        scale = torch.ones_like(noisy[:, :1])
        if self.normalize:
            peak = noisy.abs().amax(-1, keepdim=True)
            scale = torch.where(peak > 0, peak, scale)
        pad = max(0, self.stft_config.n_fft // 2 + 1 - length)
        waves = [F.pad(w / scale, (0, pad)) for w in ((noisy,) if clean is None else (noisy, clean))]
        specs = [self.to_spec(w) for w in waves]
        n_bins, n_frames = specs[0].shape[-2:]
        m = self.multiple
        grow = (0, -n_frames % m, 0, -n_bins % m)
        specs = [F.pad(s, grow) for s in specs]
        ctx = _Context(scale, length, length + pad, n_bins, n_frames)
        return specs, waves, ctx

    def net_call(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """One network pass: ``(x, y)`` complex ``(B, F, T)`` and ``t`` ``(B,)`` -> complex ``(B, F, T)``."""
        inp = torch.stack([x.real, x.imag, y.real, y.imag], dim=1)
        out = self.net(inp, t)
        if out.dim() != 4 or out.shape[1] != 2:
            raise ConfigError(f"backbone output must be (batch, 2, freq, frames), got {tuple(out.shape)}")
        return torch.complex(out[:, 0], out[:, 1])

    # --- the SpeechModel contract -----------------------------------------------------------------------------
    def forward(self, wave: torch.Tensor) -> dict:
        """Enhance ``wave`` ``(B, S)`` with ``self.steps`` network passes; ``{"wave": (B, S), "spec": complex}``."""
        (y,), _, ctx = self._prepare(wave)
        generator = torch.Generator(device=y.device)
        generator.manual_seed(self.seed)
        x = ctx.crop(self._sample(y, generator))
        spec = self._decompress(x)
        out = istft(spec, self.stft_config, length=ctx.padded_length)[..., : ctx.length]
        return {"wave": out * ctx.scale, "spec": spec * ctx.scale.unsqueeze(-1)}

    def training_loss(self, noisy: torch.Tensor, clean: torch.Tensor):
        """The method's training objective on one batch (it draws times and noise itself, from torch's global
        generator): ``(loss, {term: detached value})``."""
        noisy, clean = self._check_input(noisy), self._check_input(clean)
        if noisy.shape != clean.shape:
            raise ConfigError(f"noisy {tuple(noisy.shape)} and clean {tuple(clean.shape)} differ in shape")
        (y, x0), (_, clean_n), ctx = self._prepare(noisy, clean)
        return self._loss(y, x0, clean_n, ctx)

    def _sample(self, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def _loss(self, y, x0, clean_wave, ctx):
        raise NotImplementedError

    def _wave_loss_input(self, x_hat, ctx):
        """The waveform of a (padded) clean estimate, for time-domain loss terms."""
        return self.to_wave(ctx.crop(x_hat), ctx.padded_length)
