"""The spectral cores of the STFT-based causal models on real/imaginary pairs: noisy ``(re, im)`` in, enhanced out.

Each model's ``forward`` is ``STFT -> core -> iSTFT`` with complex tensors at its edges. Streaming
(:mod:`cspec.infer.stream`) runs the STFT frame by frame itself and needs the core alone; ONNX export
(:mod:`cspec.infer.onnx`) needs it without any complex dtype. The networks themselves run on real tensors in
the models (``GTCRN.mask_pair``, ``CRN.estimate``, ``GCRN.estimate_pair``, ``DCCRN.raw_mask_pair``), which the
models' complex ``forward`` calls too; what is left here is applying the result on pairs: a complex mask ``M``
as ``(Re Y Re M - Im Y Im M, Re Y Im M + Im Y Re M)``, a phase ``angle(Y)`` kept as ``Y / |Y|``. The tests
check each against the model's ``forward`` (stream equals offline, ONNX equals PyTorch).

Covered: GTCRN (Rong et al. 2024) and its two-stage cascade, CRN (Tan & Wang 2018), GCRN (Tan & Wang 2020) and
DCCRN-E/R/C/CL (Hu et al. 2020). Shapes: ``(batch, freq, frames)``.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from cspec.errors import ConfigError
from cspec.nn.functional import complex_mul

__all__ = ["get_core", "has_core", "refuse_frame_lookahead"]

Pair = tuple[Tensor, Tensor]


def gtcrn_core(model, re: Tensor, im: Tensor) -> Pair:
    """GTCRN and its two-stage cascade: complex ratio mask (``mask_pair``), ``S = M Y``; GTCRN with a deep filter:
    ``GTCRN.enhance_pair`` (its taps read past frames: ``GTCRN._history``, which the streaming state of
    :class:`cspec.infer.Stream` and of the ONNX frames export carries)."""
    enhance = getattr(model, "enhance_pair", None)  # GTCRN; the cascade applies its masks in turn
    return enhance(re, im) if enhance is not None else complex_mul(re, im, *model.mask_pair(re, im))


def _unit_phase(re: Tensor, im: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``|Y|`` and ``(cos, sin)`` of ``angle(Y)`` (angle 0 at zero bins, as ``torch.angle``)."""
    mag = torch.sqrt(re.square() + im.square())
    safe = torch.where(mag > 0, mag, torch.ones_like(mag))
    return mag, torch.where(mag > 0, re / safe, torch.ones_like(mag)), torch.where(mag > 0, im / safe, 0 * mag)


def crn_core(model, re: Tensor, im: Tensor) -> Pair:
    """CRN: clean magnitude from the noisy magnitude (``CRN.estimate``), noisy phase kept."""
    mag, c, s = _unit_phase(re, im)
    est = model.estimate(mag)
    return est * c, est * s


def gcrn_core(model, re: Tensor, im: Tensor) -> Pair:
    """GCRN: complex spectral mapping (``GCRN.estimate_pair``)."""
    return model.estimate_pair(re, im)


def dccrn_core(model, re: Tensor, im: Tensor) -> Pair:
    """DCCRN-E/R/C/CL: the mask of ``DCCRN.raw_mask_pair``, applied as ``model.mask`` says."""
    mr, mi = model.raw_mask_pair(re, im)
    if model.mask == "R":
        return re * mr, im * mi
    if model.mask == "E":  # bounded tanh mask, cspec.spectral.masks.bounded_mask(raw, "BDT")
        r = torch.sqrt(mr.square() + mi.square())
        small = r < 1e-4
        safe = torch.where(small, torch.ones_like(r), r)
        gain = torch.where(small, 1.0 - r.square() / 3.0, torch.tanh(safe) / safe)
        mr, mi = mr * gain, mi * gain
    return complex_mul(re, im, mr, mi)


def _cores() -> dict[type, Callable[..., Pair]]:
    from cspec.models.crn import CRN
    from cspec.models.dccrn import DCCRN
    from cspec.models.gcrn import GCRN
    from cspec.models.gtcrn import GTCRN
    from cspec.models.gtcrn_two_stage import TwoStageGTCRN

    return {GTCRN: gtcrn_core, TwoStageGTCRN: gtcrn_core, CRN: crn_core, GCRN: gcrn_core, DCCRN: dccrn_core}


def has_core(model) -> bool:
    """Whether :func:`get_core` knows ``model``'s architecture."""
    return any(isinstance(model, cls) for cls in _cores())


def get_core(model) -> Callable[[Tensor, Tensor], Pair]:
    """``core(re, im) -> (re, im)`` of ``model``, or :class:`ConfigError` for an architecture not covered."""
    for cls, fn in _cores().items():
        if isinstance(model, cls):
            return lambda re, im: fn(model, re, im)
    raise ConfigError(f"model '{getattr(model, 'name', type(model).__name__)}' has no real-pair spectral core; "
                      "covered: gtcrn, gtcrn_two_stage, crn, gcrn, dccrn-e/r/c/cl")


def refuse_frame_lookahead(model, instead: str) -> None:
    """:class:`ConfigError` for a model that looks frames ahead (``GTCRN(lookahead_frames=L)``, ``L > 0``): frame-by-
    frame streaming (:class:`cspec.infer.Stream`, ``export_onnx(mode="frames")``) emits frame ``t`` at input
    frame ``t``. ``instead`` names what to use."""
    frames = getattr(model, "lookahead_frames", 0)
    if frames:
        raise ConfigError(f"model '{getattr(model, 'name', type(model).__name__)}' looks {frames} frames ahead; "
                          f"frame-by-frame streaming takes models without frame look-ahead only: {instead}")
