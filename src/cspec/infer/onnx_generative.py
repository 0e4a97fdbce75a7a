"""The offline ONNX graphs of the generative enhancers and their predictive twin (:mod:`cspec.generative`).

:class:`GenerativeGraph` is :meth:`cspec.generative.GenerativeEnhancer.forward` on real pairs: the peak
normalisation, zero padding of inputs shorter than half a window, :class:`cspec.spectral.export.ConvSTFT`, the
preset's power-law compression (``0.15 |X|^0.5 e^{j angle X}``, SGMSE+), zero padding of the frames to the
backbone's ``multiple``, the sampler, cropping, decompression and :class:`cspec.spectral.export.ConvISTFT`. A
complex spectrogram ``(B, F, T)`` travels as a real ``(B, 2, F, T)`` (real, imaginary), which is also the
backbone's layout, so the samplers of :mod:`cspec.generative` run unchanged on it: every one of their operations
is real-linear in the state (sums, per-item real gains, norms), with ``net(cat([x, y]), t)`` in place of
``net_call``. The loop is unrolled: ``model.steps`` network passes, fixed at export time (the graph grows with
it; 60 passes of SGMSE+'s PC sampler are 60 copies of the backbone's nodes sharing one set of weights).

The samplers' random draws cannot be reproduced by a runtime's generator, so they are an input: ``noise``
``(draws, B, 2, F_pad, T_pad)``, the standard complex normal draws in the order the sampler makes them (the graph
reads the ``i``-th where the sampler calls ``torch.randn`` for the ``i``-th time). :func:`draw_noise` makes them
as ``forward`` does (one ``torch.Generator`` seeded with the model's ``seed``, complex draws of the padded
spectrogram's shape), so :class:`cspec.infer.OnnxModel` equals PyTorch to float rounding; any other noise gives
another sample of the same sampler. The metadata (``generative``) records the number of draws, the backbone's
``multiple``, the seed and ``steps``. Models without draws (``predictive``; ``sbridge`` with the ``"ode"`` sampler)
take ``wave`` only. ``OnnxModel.steps`` is the exported number of passes and cannot be changed (``Enhancer(...,
steps=k)`` with another ``k`` raises); a model whose ``steps`` was set after it was built is refused (the export's
digest, :func:`cspec.models.io.model_digest`, records its config, which would then say otherwise): build it with
``steps=k`` to export ``k`` passes.

Covered: ``sgmse`` (Richter et al. 2023; PC sampler, any predictor and corrector), ``sbridge`` (Jukić et al.
2024; ``"sde"`` and ``"ode"``), ``flowse`` (Lee et al. 2025; ``"euler"`` and ``"midpoint"``) and ``predictive``
(one pass).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from cspec.errors import ConfigError
from cspec.spectral.export import ConvISTFT, ConvSTFT
from cspec.spectral.features import COMPRESS_FLOOR
from cspec.spectral.stft import STFTConfig, n_frames

__all__ = ["GenerativeGraph", "draw_noise", "noise_shape", "GENERATIVE_MODELS"]

#: registry names of the models exported by this module
GENERATIVE_MODELS = ("sgmse", "sbridge", "flowse", "predictive")


_REAL = torch.Tensor.real.__get__


class _NoiseFeed(TorchFunctionMode):
    """Inside the ``with`` block, the ``i``-th ``torch.randn`` returns ``noise[i]`` (or counts, for ``noise=None``),
    and ``.real`` of a real tensor is the tensor itself (the samplers read ``y.real.dtype``, which the exporter
    would record as an ``aten::real`` it cannot convert)."""

    def __init__(self, noise: torch.Tensor | None = None) -> None:
        super().__init__()
        self.noise, self.draws = noise, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func == _REAL and not args[0].is_complex():
            return args[0]
        if func is not torch.randn:
            return func(*args, **kwargs)
        i, self.draws = self.draws, self.draws + 1
        if self.noise is None:  # counting
            return func(*args, **{k: v for k, v in kwargs.items() if k != "generator"})
        return self.noise[i]


def _compress(re, im, c: float, beta: float):
    """:func:`cspec.spectral.features.compress` on a pair: ``X beta |X|^(c-1)`` (``c < 1``: gain floored) or
    ``X beta |X|^(c-1)`` with 0 at 0 (``c >= 1``)."""
    mag = torch.sqrt(re * re + im * im)
    if c < 1.0:
        gain = beta * mag.clamp_min(COMPRESS_FLOOR).pow(c - 1.0)
    else:
        pos = mag > 0
        gain = torch.where(pos, beta * torch.where(pos, mag, torch.ones_like(mag)).pow(c - 1.0), torch.zeros_like(mag))
    return re * gain, im * gain


class GenerativeGraph(nn.Module):
    """``GenerativeEnhancer.forward`` on real pairs, ``(wave[, noise]) -> enhanced`` (module docstring)."""

    def __init__(self, model) -> None:
        super().__init__()
        if model.name not in GENERATIVE_MODELS:
            raise ConfigError(f"model '{model.name}' does not export to ONNX; covered generative enhancers: "
                              f"{', '.join(GENERATIVE_MODELS)}")
        built = model.config.get("steps") or model.fixed_steps or model.process.N * model.passes_per_step
        if model.steps != built:  # the export's digest (cspec.models.io.model_digest) records the config
            raise ConfigError(f"{model.name}: steps was set to {model.steps} after building (config: {built}); to "
                              f"export {model.steps} passes, build the model with steps={model.steps}")
        cfg: STFTConfig = model.stft_config
        self.model, self.stft, self.istft = model, ConvSTFT(cfg), ConvISTFT(cfg)
        self.min_length, self.multiple = cfg.n_fft // 2 + 1, model.multiple
        keep = torch.ones(cfg.n_freqs, 1, dtype=torch.bool)
        keep[0] = False
        if cfg.n_fft % 2 == 0:
            keep[-1] = False
        self.register_buffer("keep", keep, persistent=False)
        self._counting = True  # a dry run with a zero network counts the draws (they do not depend on it)
        with torch.no_grad(), _NoiseFeed() as feed:
            self._run(torch.zeros(1, 2 * self.min_length))
        self._counting, self.draws = False, feed.draws

    def _net(self, x, y, t):
        if self._counting:
            return torch.zeros_like(x)
        return self.model.net(torch.cat([x, y], dim=1), t)

    def _sample(self, y: torch.Tensor) -> torch.Tensor:
        """The model's ``_sample`` with its network on real pairs (state and condition ``(B, 2, F, T)``)."""
        from cspec.generative import bridge_sample, flow_sample, pc_sample
        from cspec.generative.base import bcast

        m = self.model
        if m.name == "predictive":
            return self._net(y, y, torch.ones(y.shape[0], dtype=y.dtype))
        process = m.process.copy(N=m.sampler_steps)
        if m.name == "sgmse":
            def score(x, y_, t):
                out = self._net(x, y_, t)
                return out / bcast(m.process.std(t), out) if m.score_scaling == "sigma" else out

            return pc_sample(process, score, y, m.predictor, m.corrector, m.snr, m.corrector_steps)[0]
        if m.name == "sbridge":
            return bridge_sample(process, self._net, y, m.sampler)[0]
        return flow_sample(process, self._net, y, m.solver)[0]

    def _run(self, wave: torch.Tensor) -> torch.Tensor:
        cfg, m = self.model.stft_config, self.model
        n = wave.shape[-1]
        scale = torch.ones_like(wave[:, :1])
        if m.normalize:
            peak = wave.abs().amax(-1, keepdim=True)
            scale = torch.where(peak > 0, peak, scale)
        x = F.pad(wave / scale, (0, self.min_length))  # inputs shorter than half a window: zeros up to it
        length = torch._shape_as_tensor(wave)[-1]
        x = x.index_select(-1, torch.arange(torch.clamp(length, min=self.min_length)))
        re, im = self.stft(x)
        im = torch.where(self.keep, im, torch.zeros_like(im))
        if cfg.compress:
            re, im = _compress(re, im, cfg.compress, cfg.compress_scale)
        frames = torch._shape_as_tensor(re)[-1]
        bins, mult = cfg.n_freqs, self.multiple
        grow_f = -bins % mult
        y = F.pad(torch.stack([re, im], dim=1), (0, mult - 1, 0, grow_f))  # frames padded below in the graph
        padded = torch.div(frames + mult - 1, mult, rounding_mode="floor") * mult
        y = y.index_select(-1, torch.arange(padded))
        out = self._sample(y)[:, :, :bins]
        out = out.index_select(-1, torch.arange(frames))
        re, im = out[:, 0], out[:, 1]
        if cfg.compress:
            re, im = _compress(re / cfg.compress_scale, im / cfg.compress_scale, 1.0 / cfg.compress, 1.0)
        return self.istft(re, im, length=n) * scale

    def forward(self, wave: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        with _NoiseFeed(noise):
            return self._run(wave)


def noise_shape(meta: dict, batch: int, length: int) -> tuple[int, int, int]:
    """``(batch, F_pad, T_pad)``: the complex spectrogram the sampler draws for ``length`` samples."""
    cfg, mult = STFTConfig(**meta["stft"]), int(meta["generative"]["multiple"])
    frames = n_frames(max(int(length), cfg.n_fft // 2 + 1), cfg)
    return batch, -(-cfg.n_freqs // mult) * mult, -(-frames // mult) * mult


def draw_noise(meta: dict, batch: int, length: int) -> torch.Tensor:
    """The ``noise`` input ``(draws, B, 2, F_pad, T_pad)`` that ``forward`` draws for ``(batch, length)``: complex
    standard normal draws from a ``torch.Generator`` seeded with the model's seed (float32)."""
    gen = meta["generative"]
    rng = torch.Generator().manual_seed(int(gen["seed"]))
    shape = noise_shape(meta, batch, length)
    draws = [torch.view_as_real(torch.randn(shape, generator=rng, dtype=torch.complex64)).movedim(-1, 1)
             for _ in range(int(gen["draws"]))]
    return torch.stack(draws)
