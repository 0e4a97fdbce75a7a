"""The contract every cspec model keeps, and the registry that names them.

A model takes waveforms and returns waveforms:

* input ``wave`` of shape ``(batch, samples)`` at ``model.sample_rate``;
* output a dict with at least ``"wave"``: ``(batch, samples)`` for enhancement or ``(batch, n_sources, samples)``
  for separation, always of the input's length; plus whatever spectra its losses need (``"spec"``: the complex
  estimate ``(batch, [n_sources,] freq, frames)``; ``"mag"``/``"phase"`` for magnitude-phase models; ``"mask"``).

Each model records its STFT preset (``stft_config``, ``None`` for time-domain models), whether it is causal and
its algorithmic look-ahead in samples (:meth:`SpeechModel.lookahead`), and the keyword arguments it was built
with (``model.config``), which is all :func:`build` needs to build it again.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Callable

import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.spectral.stft import STFTConfig, make_window

__all__ = ["SpeechModel", "register", "build", "list_models", "get_model_class"]

_REGISTRY: dict[str, type["SpeechModel"]] = {}


class SpeechModel(nn.Module):
    """Base class of cspec's architectures.

    Subclasses set the class attributes below (or the instance ones in ``__init__``) and implement
    :meth:`forward`. ``__init__`` arguments must be plain values (numbers, strings, lists) so that the config
    serialises to JSON.

    Attributes:
        sample_rate: the rate the model works at, in Hz.
        stft_config: the STFT it analyses with (``None`` for a learned or no filterbank).
        causal: whether output sample ``t`` depends on input samples ``<= t + lookahead()`` only.
        n_sources: 1 for enhancement, the number of speakers for separation.
        paper: the reference of the architecture (authors, year, venue).
        paper_params: the parameter count (in millions) the paper reports for the default configuration,
            or ``None`` where it reports none; the defaults of ``__init__`` are the paper's configuration.
    """

    sample_rate: int = 16000
    stft_config: STFTConfig | None = None
    causal: bool = False
    n_sources: int = 1
    paper: str = ""
    paper_params: float | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return

        def recording_init(self, *args, _init=init, **kw):
            if not hasattr(self, "_config_recorded"):
                bound = inspect.signature(_init).bind(self, *args, **kw)
                bound.apply_defaults()
                params = dict(bound.arguments)
                params.pop("self")
                extra = params.pop("kwargs", {}) if "kwargs" in inspect.signature(_init).parameters else {}
                object.__setattr__(self, "_config", {**params, **extra})
                object.__setattr__(self, "_config_recorded", True)
            _init(self, *args, **kw)

        recording_init.__doc__ = init.__doc__
        recording_init.__signature__ = inspect.signature(init)
        cls.__init__ = recording_init

    @property
    def config(self) -> dict:
        """The keyword arguments the model was built with (outermost class's ``__init__``)."""
        return dict(getattr(self, "_config", {}))

    @property
    def name(self) -> str:
        return getattr(type(self), "registry_name", type(self).__name__)

    def lookahead(self) -> int:
        """Algorithmic look-ahead in samples: how far past time ``t`` the output at ``t`` may look.

        Default, for a model that is causal frame by frame on top of an STFT: the span of the window's non-zero
        samples minus one (output sample ``t`` is overlap-added from frames whose windows reach at most that far
        past ``t``), e.g. 319 for a 320-sample Hamming window and 510 for a 512-sample sqrt-Hann window, whose
        first sample is zero. ``0`` for time-domain models unless they override it. Meaningless when
        ``causal`` is False.
        """
        if self.stft_config is not None:
            nz = torch.nonzero(make_window(self.stft_config, dtype=torch.float64) > 0).flatten()
            return int(nz[-1] - nz[0]) if len(nz) else 0
        return 0

    def n_parameters(self, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def _check_input(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 1:
            wave = wave.unsqueeze(0)
        if wave.dim() != 2:
            raise ConfigError(f"{self.name} expects a waveform (batch, samples), got shape {tuple(wave.shape)}")
        return wave

    @torch.no_grad()
    def enhance(self, wave: torch.Tensor) -> torch.Tensor:
        """Inference convenience: ``forward(wave)["wave"]`` without gradients."""
        return self(wave)["wave"]


def register(name: str) -> Callable[[type[SpeechModel]], type[SpeechModel]]:
    """Class decorator adding a :class:`SpeechModel` subclass to the registry under ``name``."""

    def deco(cls: type[SpeechModel]) -> type[SpeechModel]:
        key = name.lower()
        if key in _REGISTRY and _REGISTRY[key] is not cls:
            raise ValueError(f"model name '{name}' is registered twice")
        cls.registry_name = key
        _REGISTRY[key] = cls
        return cls

    return deco


#: packages above cspec.models that register models of their own (the generative enhancers wrap a backbone with a
#: process and a sampler); imported on the first lookup that needs them, so that this layer imports nothing above it
#: at import time
PROVIDERS = ("cspec.generative",)
_discovered = False


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        import importlib

        for module in PROVIDERS:
            importlib.import_module(module)


def list_models() -> list[str]:
    """Names accepted by :func:`build`."""
    _discover()
    return sorted(_REGISTRY)


def get_model_class(name: str) -> type[SpeechModel]:
    key = str(name).lower()
    if key not in _REGISTRY:
        _discover()
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list_models(), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown model '{name}'.{hint} Known models: {', '.join(list_models())}")
    return _REGISTRY[key]


def build(name: str, **config) -> SpeechModel:
    """Build a registered model by name; unknown names and unknown options raise :class:`ConfigError`."""
    cls = get_model_class(name)
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = [k for k in config if k not in params]
        if unknown:
            valid = [p for p in params if p != "self"]
            close = difflib.get_close_matches(unknown[0], valid, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"model '{name}' has no option '{unknown[0]}'.{hint} Options: {', '.join(valid)}"
            )
    return cls(**config)
