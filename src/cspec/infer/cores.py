"""The spectral cores of the STFT-based causal models on real/imaginary pairs: noisy ``(re, im)`` in, enhanced out.

Each model's ``forward`` is ``STFT -> core -> iSTFT`` with complex tensors at its edges. Streaming
(:mod:`cspec.infer.stream`) runs the STFT frame by frame itself and needs the core alone; ONNX export
(:mod:`cspec.infer.onnx`) needs it without any complex dtype. Each function below is the model's own core,
written on real pairs with the model's modules (the same arithmetic: a complex mask ``M`` applied as
``(Re Y Re M - Im Y Im M, Re Y Im M + Im Y Re M)``, a phase ``angle(Y)`` kept as ``Y / |Y|``). The tests check
each against the model's ``forward`` (stream equals offline, ONNX equals PyTorch), so a change in a model that
is not mirrored here fails loudly.

Covered: GTCRN (Rong et al. 2024), CRN (Tan & Wang 2018), GCRN (Tan & Wang 2020) and DCCRN-E/R/C/CL
(Hu et al. 2020). Shapes: ``(batch, freq, frames)``.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from cspec.errors import ConfigError

__all__ = ["get_core", "has_core"]

Pair = tuple[Tensor, Tensor]


def _cmul(ar: Tensor, ai: Tensor, br: Tensor, bi: Tensor) -> Pair:
    return ar * br - ai * bi, ar * bi + ai * br


def gtcrn_core(model, re: Tensor, im: Tensor) -> Pair:
    """GTCRN: complex ratio mask from ``[|Y|, Re Y, Im Y]`` (``GTCRN.estimate_mask``), ``S = M Y``."""
    r, i = re.transpose(1, 2), im.transpose(1, 2)  # (B, T, F)
    mag = torch.sqrt(r.square() + i.square() + 1e-12)
    x = model.sfe(model.erb.bm(torch.stack([mag, r, i], dim=1)))
    skips = []
    for layer in model.encoder:
        x = layer(x)
        skips.append(x)
    x = model.dprnn(x)
    for k, layer in enumerate(model.decoder):
        x = layer(x + skips[-1 - k])
    m = model.erb.bs(x)  # (B, 2, T, F)
    return _cmul(re, im, m[:, 0].transpose(1, 2), m[:, 1].transpose(1, 2))


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
    """GCRN: complex spectral mapping (``GCRN.estimate`` on the stacked real and imaginary parts)."""
    x = torch.stack([re, im], dim=1).transpose(2, 3)  # (B, 2, T, F)
    skips = []
    for conv, norm in model.encoder:
        x = F.elu(norm(conv(x)))
        skips.append(x)
    b, c, t, f = x.shape
    h = model.rnn(x.permute(0, 2, 1, 3).reshape(b, t, c * f))
    h = torch.cat([h.reshape(b, t, c, f).permute(0, 2, 1, 3), skips[-1]], dim=1)
    parts = []
    for layers, head in zip(model.decoders, model.heads):
        y = h
        for k, (conv, norm) in enumerate(layers):
            y = norm(conv(y))
            if k < len(layers) - 1:
                y = torch.cat([y, skips[-2 - k]], dim=1)
            y = F.elu(y)
        parts.append(head(y.squeeze(1)).transpose(1, 2))  # (B, F, T)
    return parts[0], parts[1]


def dccrn_core(model, re: Tensor, im: Tensor) -> Pair:
    """DCCRN-E/R/C/CL: complex U-Net + recurrent stage on the bins above DC, masked as ``model.mask`` says."""
    from cspec.models.blocks.cplx_unet import cat_pairs

    x = (re[:, None, 1:], im[:, None, 1:])
    skips = []
    for enc in model.encoders:
        x = enc.forward_pair(*x)
        skips.append(x)
    x = model._recurrent(*x)
    for dec in model.decoders:
        x = dec.forward_pair(*cat_pairs(x, skips.pop()))
    mr, mi = F.pad(x[0][:, 0], (0, 0, 1, 0)), F.pad(x[1][:, 0], (0, 0, 1, 0))
    if model.mask == "R":
        return re * mr, im * mi
    if model.mask == "E":  # bounded tanh mask, cspec.spectral.masks.bounded_mask(raw, "BDT")
        r = torch.sqrt(mr.square() + mi.square())
        small = r < 1e-4
        safe = torch.where(small, torch.ones_like(r), r)
        gain = torch.where(small, 1.0 - r.square() / 3.0, torch.tanh(safe) / safe)
        mr, mi = mr * gain, mi * gain
    return _cmul(re, im, mr, mi)


def _cores() -> dict[type, Callable[..., Pair]]:
    from cspec.models.crn import CRN
    from cspec.models.dccrn import DCCRN
    from cspec.models.gcrn import GCRN
    from cspec.models.gtcrn import GTCRN

    return {GTCRN: gtcrn_core, CRN: crn_core, GCRN: gcrn_core, DCCRN: dccrn_core}


def has_core(model) -> bool:
    """Whether :func:`get_core` knows ``model``'s architecture."""
    return any(isinstance(model, cls) for cls in _cores())


def get_core(model) -> Callable[[Tensor, Tensor], Pair]:
    """``core(re, im) -> (re, im)`` of ``model``, or :class:`ConfigError` for an architecture not covered."""
    for cls, fn in _cores().items():
        if isinstance(model, cls):
            return lambda re, im: fn(model, re, im)
    raise ConfigError(f"model '{getattr(model, 'name', type(model).__name__)}' has no real-pair spectral core; "
                      "covered: gtcrn, crn, gcrn, dccrn-e/r/c/cl")
