"""The offline ONNX graphs of the models without a streaming core: non-causal STFT models and separators.

:mod:`cspec.infer.onnx` exports the causal STFT models through their spectral cores (:mod:`cspec.infer.cores`),
which also drive frame-by-frame streaming. The others export whole, ``wave (B, n) -> (B, n)`` or ``(B, C, n)``:

* :class:`SpectralGraph` for the models that map the noisy spectrum to the estimate's on real pairs
  (``pair_forward(re, im)``, the same network their ``forward`` runs on complex tensors): MP-SENet (Lu et al.
  2023), CMGAN (Cao et al. 2022), DCUNet-10/16/20 and Large-DCUNet-20 (Choi et al. 2019) and the separators
  TF-GridNet (Wang et al. 2023) and uPIT-BLSTM (Kolbæk et al. 2017). The graph is ``input_scale`` (the RMS or standard-deviation normalisation the
  models apply to their input, undone on the output), :class:`cspec.spectral.export.ConvSTFT`, ``pair_forward``
  and :class:`cspec.spectral.export.ConvISTFT`. The DFT bases of ConvSTFT leave ``~1e-12`` in the imaginary part
  of the Nyquist bin where the FFT gives an exact 0; the graph sets the DC and Nyquist imaginary parts to 0 as
  the FFT does, so that a phase input (MP-SENet's ``atan2``) sees ``0`` or ``pi`` there and never ``-pi``.
* :class:`WaveGraph` for the time-domain separators, whose ``forward`` traces as it is: Conv-TasNet (Luo &
  Mesgarani 2019) and DPRNN (Luo et al. 2020; its segmentation and overlap-add become identity-kernel
  convolutions during the export, :mod:`cspec.models.dprnn`).

Limits, all of traced shapes: an input shorter than a model's smallest window is not covered (TF-GridNet needs
at least ``kernel`` frames, i.e. 4 frames of 8 ms; DPRNN at least one chunk of frames), which no real clip is.
The phase-retrieval models ``nspp`` and ``degli`` export through :mod:`cspec.infer.onnx_phase`, the generative
enhancers ``sgmse``, ``sbridge``, ``flowse`` and ``predictive`` through :mod:`cspec.infer.onnx_generative`;
:func:`graph_for` dispatches to them.
"""

from __future__ import annotations

import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.infer.onnx_generative import GENERATIVE_MODELS, GenerativeGraph
from cspec.infer.onnx_phase import PHASE_MODELS, phase_graph
from cspec.spectral.export import ConvISTFT, ConvSTFT

__all__ = ["SpectralGraph", "WaveGraph", "graph_for", "has_graph", "COVERED"]

#: registry names of the models exported by this module
COVERED = ("mpsenet", "cmgan", "dcunet-10", "dcunet-16", "dcunet-20", "large-dcunet-20", "tfgridnet",
           "upit", "convtasnet", "dprnn")


class SpectralGraph(nn.Module):
    """``wave -> input_scale -> ConvSTFT -> model.pair_forward -> ConvISTFT -> / input_scale`` (module docstring)."""

    def __init__(self, model) -> None:
        super().__init__()
        cfg = model.stft_config
        self.model, self.stft, self.istft = model, ConvSTFT(cfg), ConvISTFT(cfg)
        keep = torch.ones(cfg.n_freqs, 1, dtype=torch.bool)
        keep[0] = False
        if cfg.n_fft % 2 == 0:
            keep[-1] = False
        self.register_buffer("keep", keep, persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        scale = self.model.input_scale(wave) if hasattr(self.model, "input_scale") else None
        re, im = self.stft(wave if scale is None else wave * scale)
        im = torch.where(self.keep, im, torch.zeros_like(im))  # the FFT's exact zeros at DC and Nyquist
        re, im = self.model.pair_forward(re, im)
        out = self.istft(re, im, length=wave.shape[-1])
        if scale is None:
            return out
        return out / (scale.unsqueeze(1) if out.dim() == 3 else scale)


class WaveGraph(nn.Module):
    """A time-domain model's own ``forward``: ``wave (B, n)`` -> ``out["wave"]``."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(wave)["wave"]


def has_graph(model) -> bool:
    """Whether :func:`graph_for` exports ``model``."""
    return getattr(model, "name", None) in (*COVERED, *PHASE_MODELS, *GENERATIVE_MODELS)


def graph_for(model, n_iter: int | None = None) -> nn.Module:
    """The offline graph of ``model`` (see the module docstring), or :class:`ConfigError` naming the covered ones.
    ``n_iter``: the iterations of a phase model's graph (:mod:`cspec.infer.onnx_phase`); other models take none."""
    name = getattr(model, "name", type(model).__name__)
    if name in PHASE_MODELS:
        return phase_graph(model, n_iter)
    if n_iter is not None:
        raise ConfigError(f"n_iter sets the iterations of a phase model ({', '.join(PHASE_MODELS)}); '{name}' has none")
    if name in GENERATIVE_MODELS:
        return GenerativeGraph(model)
    if name not in COVERED:
        raise ConfigError(f"model '{name}' does not export to ONNX; covered: gtcrn, gtcrn_two_stage, crn, gcrn, "
                          f"dccrn-e/r/c/cl, {', '.join(COVERED + PHASE_MODELS + GENERATIVE_MODELS)}")
    if hasattr(model, "pair_forward"):
        return SpectralGraph(model)
    return WaveGraph(model)
