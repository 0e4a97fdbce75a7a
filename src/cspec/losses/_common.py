"""Helpers shared by the losses: input checks and reductions (no technique lives here)."""

from __future__ import annotations

import torch

from cspec.errors import ConfigError

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> str:
    """Validate a reduction name (``mean``, ``sum`` or ``none``) and return it."""
    if reduction not in REDUCTIONS:
        raise ConfigError(f"unknown reduction '{reduction}'; choose one of {', '.join(REDUCTIONS)}")
    return reduction


def reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply ``reduction`` to a tensor of per-item losses."""
    check_reduction(reduction)
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    return x


def check_waves(est: torch.Tensor, ref: torch.Tensor, what: str) -> torch.Size:
    """Two real waveforms ``(..., samples)`` with the same number of samples and broadcastable leading shapes.

    Returns the broadcast shape. Raises :class:`ConfigError` with what to do otherwise.
    """
    for name, x in (("estimate", est), ("reference", ref)):
        if not torch.is_tensor(x) or x.is_complex() or not x.is_floating_point() or x.dim() == 0:
            raise ConfigError(f"{what}: the {name} must be a real floating tensor (..., samples)")
    if est.shape[-1] != ref.shape[-1]:
        raise ConfigError(
            f"{what}: estimate has {est.shape[-1]} samples but reference has {ref.shape[-1]}; "
            "trim or pad them to the same length"
        )
    try:
        return torch.broadcast_shapes(est.shape, ref.shape)
    except RuntimeError:
        raise ConfigError(
            f"{what}: shapes {tuple(est.shape)} and {tuple(ref.shape)} do not match (nor broadcast); "
            "pass (..., samples) tensors of the same shape"
        ) from None


def check_specs(est: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    """Two complex spectrograms ``(..., freq, frames)`` of the same shape."""
    for name, x in (("estimate", est), ("reference", ref)):
        if not torch.is_tensor(x) or not x.is_complex() or x.dim() < 2:
            raise ConfigError(
                f"{what}: the {name} must be a complex spectrogram (..., freq, frames); "
                "build one with cspec.spectral.stft or torch.complex(real, imag)"
            )
    if est.shape != ref.shape:
        raise ConfigError(
            f"{what}: estimate {tuple(est.shape)} and reference {tuple(ref.shape)} differ; "
            "compute both with the same STFT config and signal length"
        )


def check_same_real(est: torch.Tensor, ref: torch.Tensor, what: str, min_dim: int = 1) -> None:
    """Two real tensors of the same shape with at least ``min_dim`` dimensions."""
    for name, x in (("estimate", est), ("reference", ref)):
        if not torch.is_tensor(x) or x.is_complex() or not x.is_floating_point() or x.dim() < min_dim:
            raise ConfigError(f"{what}: the {name} must be a real floating tensor with at least {min_dim} dims")
    if est.shape != ref.shape:
        raise ConfigError(f"{what}: estimate {tuple(est.shape)} and reference {tuple(ref.shape)} must have one shape")
