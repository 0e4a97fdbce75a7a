"""Losses by name, so that a recipe can write ``loss: {name: si_sdr, zero_mean: true}``.

``build(name, **kwargs)`` returns an ``nn.Module``; ``list_losses()`` the names. ``build("pit", loss="si_sdr",
...)`` wraps a named loss in :class:`~cspec.losses.pit.PITLoss` (its pairwise matrix when it has one,
otherwise one estimate/reference pair at a time).
"""

from __future__ import annotations

import difflib
import inspect

from torch import nn

from cspec.errors import ConfigError
from cspec.losses import adversarial as adv
from cspec.losses.phase import AntiWrappingPhaseLoss
from cspec.losses.pit import PITLoss
from cspec.losses.spectral import ComplexMSELoss, CompressedSpectralLoss, ConsistencyLoss, MultiResolutionSTFTLoss
from cspec.losses.waveform import (SDSDRLoss, SISDRLoss, SNRLoss, ThresholdedSISDRLoss, WaveformL1Loss,
                                   WeightedSDRLoss)

__all__ = ["build", "list_losses", "register", "FunctionLoss"]


class FunctionLoss(nn.Module):
    """A loss function without parameters as a module: ``forward(*args) = fn(*args, **fixed_kwargs)``."""

    def __init__(self, fn, **kwargs) -> None:
        super().__init__()
        self.fn, self.kwargs = fn, kwargs

    def forward(self, *args, **kwargs):
        return self.fn(*args, **self.kwargs, **kwargs)

    def extra_repr(self) -> str:
        return f"fn={self.fn.__name__}"


def _function(fn):
    def make(**kwargs):
        return FunctionLoss(fn, **kwargs)
    make.__signature__ = inspect.signature(fn)
    return make


_REGISTRY: dict[str, object] = {
    "si_sdr": SISDRLoss,
    "snr": SNRLoss,
    "sd_sdr": SDSDRLoss,
    "weighted_sdr": WeightedSDRLoss,
    "thresholded_si_sdr": ThresholdedSISDRLoss,
    "waveform_l1": WaveformL1Loss,
    "complex_mse": ComplexMSELoss,
    "compressed_spectral": CompressedSpectralLoss,
    "multi_resolution_stft": MultiResolutionSTFTLoss,
    "consistency": ConsistencyLoss,
    "phase": AntiWrappingPhaseLoss,
    "lsgan_generator": _function(adv.lsgan_generator_loss),
    "lsgan_discriminator": _function(adv.lsgan_discriminator_loss),
    "hinge_generator": _function(adv.hinge_generator_loss),
    "hinge_discriminator": _function(adv.hinge_discriminator_loss),
    "feature_matching": _function(adv.feature_matching_loss),
    "metricgan_generator": _function(adv.metricgan_generator_loss),
    "metricgan_discriminator": _function(adv.metricgan_discriminator_loss),
}


def list_losses() -> list[str]:
    """The names :func:`build` accepts (``"pit"`` included)."""
    return sorted([*_REGISTRY, "pit"])


def register(name: str, factory, overwrite: bool = False) -> None:
    """Add a loss factory (a class or a function returning an ``nn.Module``) under ``name``."""
    if not callable(factory):
        raise ConfigError(f"register('{name}', ...) needs a class or function that builds the loss")
    if (name in _REGISTRY or name == "pit") and not overwrite:
        raise ConfigError(f"a loss named '{name}' exists already; pass overwrite=True to replace it")
    _REGISTRY[name] = factory


def _unknown(name: str) -> ConfigError:
    names = list_losses()
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"unknown loss '{name}'.{hint} Valid names: {', '.join(names)}")


def _construct(name: str, factory, kwargs: dict) -> nn.Module:
    try:
        inspect.signature(factory).bind_partial(**kwargs)
    except TypeError as err:
        raise ConfigError(
            f"bad options for loss '{name}': {err}; it accepts {inspect.signature(factory)}"
        ) from None
    return factory(**kwargs)


def build(name: str, **kwargs) -> nn.Module:
    """Build the loss registered as ``name`` with ``kwargs``; unknown names and options raise ConfigError.

    ``build("pit", loss="si_sdr", loss_kwargs={...}, solver="auto", reduction="mean")`` builds the inner loss with
    ``reduction="none"`` and wraps it.
    """
    if name == "pit":
        inner_name = kwargs.pop("loss", None)
        if inner_name is None:
            raise ConfigError("build('pit', ...) needs loss=<name of the loss to wrap>, e.g. loss='si_sdr'")
        inner_kwargs = dict(kwargs.pop("loss_kwargs", None) or {})
        if inner_name not in _REGISTRY:
            raise _unknown(inner_name)
        factory = _REGISTRY[inner_name]
        if "reduction" in inspect.signature(factory).parameters:
            inner_kwargs.setdefault("reduction", "none")
        inner = _construct(inner_name, factory, inner_kwargs)
        has_pairwise = callable(getattr(inner, "pairwise", None))
        mode = kwargs.pop("mode", "pairwise" if has_pairwise else "wo_src")
        fn = inner.pairwise if (mode == "pairwise" and has_pairwise) else inner
        return _construct("pit", lambda solver="auto", reduction="mean": PITLoss(fn, mode, solver, reduction), kwargs)
    if name not in _REGISTRY:
        raise _unknown(name)
    return _construct(name, _REGISTRY[name], kwargs)
