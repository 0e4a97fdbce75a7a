"""The interface every process of generative enhancement keeps, and the small registries of samplers.

A process lives on complex spectrograms ``x`` (any shape whose first axis is the batch), conditioned on the noisy
spectrogram ``y`` of the same shape, with one time per batch item ``t`` of shape ``(batch,)``. In the spirit of
sgmse (sp-uhh/sgmse, ``sdes.py``) the interface is small:

* ``T``: the final time; ``N``: the number of discretisation steps of the reverse process (the paper's default);
  ``t_eps``: the smallest time drawn in training;
* ``sde(x, y, t) -> (drift, diffusion)``: the forward SDE ``dx = drift dt + diffusion dw`` (diffusion ``(batch,)``);
* ``marginal_prob(x0, y, t) -> (mean, std)``: the Gaussian ``p_t(x | x0, y)`` (std ``(batch,)``);
* ``prior_sampling(shape, y, generator)``: a draw of ``x_T`` given ``y``;
* ``copy(**changes)``: the same process with some fields changed, e.g. ``copy(N=8)`` at inference, so the number
  of reverse steps is set independently of training.

Noise convention (as in sgmse and NeMo, which draw ``torch.randn_like`` on complex spectrograms): ``z ~ CN(0, 1)``,
real and imaginary parts independent with variance 1/2 each, ``E|z|^2 = 1``; ``std`` is the standard deviation of
the complex variable (``E|x - mean|^2 = std^2``), and a score is ``-(x - mean) / std^2`` for a Gaussian, i.e. the
Wirtinger derivative ``d/d conj(x)`` of ``log p`` (half the gradient over the real and imaginary parts), which is the
form that makes the complex reverse SDE ``dx = [f - g^2 s] dt + g dw`` read as in the real case.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Callable

import torch

from cspec.errors import ConfigError

__all__ = ["Process", "Registry", "bcast", "randn_like", "time_vector", "uniform_time"]


def bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-item tensor ``v`` of shape ``(batch,)`` viewed as ``(batch, 1, ..., 1)`` to broadcast against ``x``."""
    return v.reshape(-1, *([1] * (x.dim() - 1)))


def randn_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise of ``x``'s shape, dtype and device: ``CN(0, 1)`` for a complex ``x``."""
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def time_vector(t, x: torch.Tensor) -> torch.Tensor:
    """``t`` (a number, a 0-d or a ``(batch,)`` tensor) as a real ``(batch,)`` tensor on ``x``'s device."""
    real = x.real.dtype if x.is_complex() else x.dtype
    t = torch.as_tensor(t, dtype=real, device=x.device)
    return t.expand(x.shape[0]).clone() if t.dim() == 0 else t


def uniform_time(batch: int, low: float, high: float, device=None, generator: torch.Generator | None = None):
    """Training times ``t ~ U[low, high)``, one per batch item (all three papers draw ``t`` uniformly)."""
    return low + (high - low) * torch.rand(batch, device=device, generator=generator)


class Process:
    """Base class of the processes (frozen dataclasses in the subclasses; see the module docstring)."""

    T: float = 1.0
    N: int = 30
    t_eps: float = 0.0

    def sde(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor):
        raise NotImplementedError

    def marginal_prob(self, x0: torch.Tensor, y: torch.Tensor, t: torch.Tensor):
        raise NotImplementedError

    def prior_sampling(self, shape, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def copy(self, **changes) -> "Process":
        """A copy with some fields changed (``copy(N=4)``: four reverse steps), validated again."""
        try:
            return dataclasses.replace(self, **changes)
        except TypeError as e:
            raise ConfigError(f"{type(self).__name__} has no field among {sorted(changes)}: {e}") from None

    def sample_marginal(self, x0, y, t, generator=None):
        """A draw of ``x_t ~ p_t(x | x0, y)`` and the unit noise ``z`` it used: ``x_t = mean + std * z``."""
        t = time_vector(t, x0)
        mean, std = self.marginal_prob(x0, y, t)
        z = randn_like(x0, generator)
        return mean + bcast(std, x0) * z, z

    def _check(self, **positive) -> None:
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"{type(self).__name__}: {name} must be > 0, got {value}")
        if not 0 <= self.t_eps < self.T:
            raise ConfigError(f"{type(self).__name__}: t_eps must lie in [0, T={self.T}), got {self.t_eps}")
        if int(self.N) != self.N or self.N < 1:
            raise ConfigError(f"{type(self).__name__}: N (reverse steps) must be a positive integer, got {self.N}")


class Registry:
    """Names -> functions, each with the number of network passes it makes per step (``passes``)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, tuple[Callable, int]] = {}

    def register(self, name: str, passes: int = 1):
        def deco(fn):
            key = name.lower()
            if key in self._items and self._items[key][0] is not fn:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[key] = (fn, passes)
            return fn

        return deco

    def names(self) -> list[str]:
        return sorted(self._items)

    def _entry(self, name: str):
        key = str(name).lower()
        if key not in self._items:
            close = difflib.get_close_matches(key, self.names(), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"unknown {self.kind} '{name}'.{hint} Known: {', '.join(self.names())}")
        return self._items[key]

    def get(self, name: str) -> Callable:
        return self._entry(name)[0]

    def passes(self, name: str) -> int:
        """Network passes per step of ``name``."""
        return self._entry(name)[1]
