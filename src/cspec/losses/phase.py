"""Anti-wrapping phase losses (Ai & Ling 2023, APNet; Lu et al. 2023, MP-SENet).

With the anti-wrapping function ``f_AW(x) = |x - 2 pi round(x / 2 pi)|`` (the distance of an angle to the
nearest multiple of ``2 pi``; :func:`cspec.spectral.phase_features.anti_wrap`) and phase spectra ``P``
(reference) and ``Phat`` (estimate) of shape ``(..., freq, frames)``:

    L_IP  = mean f_AW( P - Phat )                                   instantaneous phase
    L_GD  = mean f_AW( Delta_F P - Delta_F Phat )                   group delay
    L_IAF = mean f_AW( Delta_T P - Delta_T Phat )                   instantaneous angular frequency

where ``Delta_F`` and ``Delta_T`` are the forward differences along frequency and time (``torch.diff``), the
GD and IAF as APNet and MP-SENet define them (APNet calls the time one the phase time difference, PTD;
the sign of GD = -Delta_F P does not matter under ``f_AW``). MP-SENet trains with ``L_Pha = L_IP + L_GD + L_IAF``
and weight 0.3 in the generator loss; APNet uses the same three terms with equal weights.

Because ``f_AW`` is ``2 pi``-periodic, each term is unchanged when ``2 pi`` is added to any phase value: the
loss sees angles, not their representation.
"""

from __future__ import annotations

import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.losses._common import check_reduction, check_same_real, reduce
from cspec.spectral.features import silent_bins
from cspec.spectral.phase_features import anti_wrap

__all__ = ["phase_terms", "anti_wrapping_phase_loss", "AntiWrappingPhaseLoss"]


def _as_phase(x: torch.Tensor) -> torch.Tensor:
    """The angle of a complex spectrogram. A bin below :data:`cspec.spectral.features.SILENT_BIN` in modulus (digital silence, or the
    float rounding around it) gets angle 0 and no gradient: there ``torch.angle``'s gradient ``1 / |z|`` is huge, and
    NaN once ``|z|^2`` underflows, which poisoned whole training steps."""
    if not (torch.is_tensor(x) and x.is_complex()):
        return x
    zero = silent_bins(x)
    return torch.angle(torch.where(zero, torch.ones_like(x), x))


def phase_terms(est: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(L_IP, L_GD, L_IAF)`` per item (mean over freq and frames).

    ``est`` and ``ref`` are phase spectra in radians ``(..., freq, frames)`` (real) or complex spectrograms
    whose angles are taken. Needs at least 2 bins and 2 frames.
    """
    est, ref = _as_phase(est), _as_phase(ref)
    check_same_real(est, ref, "phase loss", min_dim=2)
    if est.shape[-1] < 2 or est.shape[-2] < 2:
        raise ConfigError(
            f"phase losses need at least 2 frequency bins and 2 frames, got {tuple(est.shape[-2:])}; use longer inputs"
        )
    d = ref - est
    ip = anti_wrap(d).flatten(-2).mean(-1)
    gd = anti_wrap(torch.diff(d, dim=-2)).flatten(-2).mean(-1)
    iaf = anti_wrap(torch.diff(d, dim=-1)).flatten(-2).mean(-1)
    return ip, gd, iaf


def anti_wrapping_phase_loss(
    est: torch.Tensor, ref: torch.Tensor, weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> torch.Tensor:
    """``w_IP L_IP + w_GD L_GD + w_IAF L_IAF`` per item (MP-SENet's ``L_Pha`` with the default unit weights)."""
    if len(weights) != 3:
        raise ConfigError(f"weights are (ip, gd, iaf), three numbers, got {weights}")
    ip, gd, iaf = phase_terms(est, ref)
    return weights[0] * ip + weights[1] * gd + weights[2] * iaf


class AntiWrappingPhaseLoss(nn.Module):
    """:func:`anti_wrapping_phase_loss` reduced over the items; inputs are phases or complex spectrograms."""

    def __init__(self, weights: tuple[float, float, float] = (1.0, 1.0, 1.0), reduction: str = "mean") -> None:
        super().__init__()
        if len(weights) != 3:
            raise ConfigError(f"weights are (ip, gd, iaf), three numbers, got {weights}")
        self.weights, self.reduction = tuple(float(w) for w in weights), check_reduction(reduction)

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return reduce(anti_wrapping_phase_loss(est, ref, self.weights), self.reduction)
