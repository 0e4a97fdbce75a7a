"""Backbones of generative enhancement: networks ``net(x, t)`` of a real tensor and a time (noise level).

A backbone maps ``x`` of shape ``(batch, C_in, freq, frames)`` (real; complex spectrograms enter as their
real and imaginary parts stacked as channels) and ``t`` of shape ``(batch,)`` to ``(batch, C_out, freq,
frames)``. It carries ``multiple`` (``freq`` and ``frames`` must be multiples of it) and ``config`` (the plain
keyword arguments that rebuild it: ``build_backbone(name, **net.config)``). The processes and samplers of
:mod:`cspec.generative` call backbones by name through this registry, independent of the architecture.

``build_backbone("ncsnpp")`` is the NCSN++ of SGMSE+ (Richter et al. 2023) at the paper's size;
``list_backbones()`` names every one.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Callable

from torch import nn

from cspec.errors import ConfigError

__all__ = ["register_backbone", "build_backbone", "list_backbones", "get_backbone"]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
# modules whose import registers built-in backbones (imported on first use, so this file imports no model)
_BUILTIN_MODULES = ("cspec.models.ncsnpp",)
_loaded = False


def register_backbone(name: str) -> Callable:
    """Decorator: register a backbone class or factory under ``name`` (lower case, unique)."""

    def wrap(obj):
        key = name.lower()
        if key in _REGISTRY and _REGISTRY[key] is not obj:
            raise ConfigError(f"backbone name {key!r} is registered twice")
        _REGISTRY[key] = obj
        return obj

    return wrap


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in _BUILTIN_MODULES:
            importlib.import_module(mod)


def list_backbones() -> list[str]:
    """The registered backbone names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_backbone(name: str) -> Callable[..., nn.Module]:
    """The class (or factory) registered as ``name``; unknown names raise :class:`ConfigError`."""
    _load_builtins()
    key = str(name).lower()
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, _REGISTRY, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown backbone {name!r}{hint}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[key]


def build_backbone(name: str, **options) -> nn.Module:
    """Build the backbone ``name`` with keyword ``options`` (plain values, JSON-serialisable)."""
    return get_backbone(name)(**options)
