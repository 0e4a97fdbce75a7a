"""Conditional flow matching for speech enhancement (FlowSE): the probability path, its loss and ODE solvers.

Seonggyu Lee, Sein Cheong, Sangwook Han, Jong Won Shin, "FlowSE: Flow matching-based speech enhancement", ICASSP
2025 (code: github.com/seongq/flowmse). On the compressed complex STFT of SGMSE+, a Gaussian conditional
probability path (Lipman et al. 2023, "Flow matching for generative modeling", ICLR, Sec. 4, with a linear mean
as in their optimal-transport path) runs from the clean spectrogram ``x0`` at ``t = 0`` to the noisy ``y`` at
``t = 1``:

    x_t = mean_t + std_t z,   mean_t = (1 - t) x0 + t y,   std_t = (1 - t) sigma_min + t sigma_max,

whose conditional vector field (Lipman et al. 2023, Theorem 3: ``u_t = std_t'/std_t (x - mean_t) + mean_t'``) is

    u_t(x | x0, y) = (y - x0) + (sigma_max - sigma_min) z.

The network ``v(x_t, y, t)`` is trained with the conditional flow matching loss ``|v - u_t|^2`` for
``t ~ U[t_eps, 1]``; inference integrates ``dx/dt = v`` from ``x_1 = y + sigma_max z`` back to ``t = 0``. FlowSE's
defaults (the official code): ``sigma_min = 0``, ``sigma_max = 0.5``, ``t_eps = 0.03``, ``T = 1``; the paper's
headline setting is 5 network passes (NFE = 5) with the Euler solver on the grid ``linspace(1, t_eps, N)``, whose
last step runs from ``t_eps`` to 0 (flowmse ``get_white_box_solver``). With ``sigma_min = 0`` the path ends exactly
on ``x0``, so one Euler step with the velocity of a perfect data estimate returns that estimate.

Solvers (:data:`FLOW_SOLVERS`): ``"euler"`` (**1 network pass per step**) and ``"midpoint"`` (the explicit
midpoint rule, second order, **2 passes per step**), on the same grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cspec.errors import ConfigError
from cspec.generative.base import Process, Registry, bcast, randn_like, time_vector

__all__ = ["ConditionalFlow", "FLOW_SOLVERS", "flow_sample", "flow_matching_loss"]

#: ODE solvers: ``fn(velocity_fn, x, y, t, h) -> x_{t-h}``, with their network passes per step
FLOW_SOLVERS = Registry("flow solver")


@dataclass(frozen=True)
class ConditionalFlow(Process):
    """The conditional probability path of FlowSE (Lee et al. 2025; module docstring); defaults are the paper's.

    Attributes:
        sigma_min, sigma_max: the path's std at ``t = 0`` and ``t = 1``.
        t_eps: the smallest training time and the last grid time before 0.
        N: solver steps of :func:`flow_sample`.
        T: the final time (1).
    """

    sigma_min: float = 0.0
    sigma_max: float = 0.5
    t_eps: float = 0.03
    N: int = 5
    T: float = 1.0

    def __post_init__(self):
        self._check(sigma_max=self.sigma_max, T=self.T)
        if self.sigma_min < 0:
            raise ConfigError(f"ConditionalFlow: sigma_min must be >= 0, got {self.sigma_min}")

    def std(self, t: torch.Tensor) -> torch.Tensor:
        return (1 - t) * self.sigma_min + t * self.sigma_max

    def sde(self, x, y, t):
        raise NotImplementedError("a flow-matching path is defined by its marginals and vector field, not an SDE")

    def marginal_prob(self, x0, y, t):
        t = time_vector(t, x0)
        return bcast(1 - t, x0) * x0 + bcast(t, x0) * y, self.std(t)

    def prior_sampling(self, shape, y, generator=None):
        """``x_1 = y + sigma_max z``."""
        if tuple(shape) != tuple(y.shape):
            raise ConfigError(f"prior shape {tuple(shape)} differs from the shape of y {tuple(y.shape)}")
        return y + self.std(time_vector(self.T, y)).reshape(-1, *([1] * (y.dim() - 1))) * randn_like(y, generator)

    def conditional_velocity(self, x0, y, z):
        """The regression target ``u_t = (y - x0) + (sigma_max - sigma_min) z`` of ``x_t = mean_t + std_t z``."""
        return (y - x0) + (self.sigma_max - self.sigma_min) * z

    def velocity_from_data(self, x, y, t, x0_hat):
        """The conditional field ``u_t(x | x0_hat, y) = (y - x0_hat) + std'/std_t (x - mean_t(x0_hat))`` (Lipman et
        al. 2023, Theorem 3): the velocity a data estimate ``x0_hat`` implies (std_t = 0 drops the second term)."""
        t = time_vector(t, x)
        mean, std = self.marginal_prob(x0_hat, y, t)
        gain = torch.where(std > 0, (self.sigma_max - self.sigma_min) / std.clamp_min(1e-30), torch.zeros_like(std))
        return (y - x0_hat) + bcast(gain, x) * (x - mean)


@FLOW_SOLVERS.register("euler", passes=1)
def _euler(velocity_fn, x, y, t, h):
    return x - bcast(h, x) * velocity_fn(x, y, t)


@FLOW_SOLVERS.register("midpoint", passes=2)
def _midpoint(velocity_fn, x, y, t, h):
    x_mid = x - bcast(h / 2, x) * velocity_fn(x, y, t)
    return x - bcast(h, x) * velocity_fn(x_mid, y, t - h / 2)


@torch.no_grad()
def flow_sample(process: ConditionalFlow, velocity_fn, y: torch.Tensor, solver: str = "euler",
                generator: torch.Generator | None = None, x_init: torch.Tensor | None = None):
    """Integrate ``dx/dt = v(x, y, t)`` from ``x_1`` (``x_init`` or a prior draw) to ``t = 0`` in ``process.N`` steps.

    Args:
        velocity_fn: ``velocity_fn(x, y, t) -> v`` (complex like ``x``; ``t`` of shape ``(batch,)``).
        solver: ``"euler"`` or ``"midpoint"`` (:data:`FLOW_SOLVERS`).

    Returns:
        ``(x, nfe)`` with ``nfe = process.N * FLOW_SOLVERS.passes(solver)``.
    """
    step = FLOW_SOLVERS.get(solver)
    x = process.prior_sampling(y.shape, y, generator) if x_init is None else x_init
    grid = torch.linspace(process.T, process.t_eps, process.N, dtype=y.real.dtype, device=y.device)
    for i in range(process.N):
        h = grid[i] - grid[i + 1] if i + 1 < process.N else grid[i]
        x = step(velocity_fn, x, y, time_vector(grid[i], y), time_vector(h, y))
    return x, process.N * FLOW_SOLVERS.passes(solver)


def flow_matching_loss(v: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Conditional flow matching loss ``mean |v - u|^2`` (Lipman et al. 2023, Eq. (9); FlowSE's ``mse`` loss, which
    sums over bins and halves: a constant factor)."""
    return (v - u).abs().pow(2).mean()
