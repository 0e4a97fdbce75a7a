"""The Schrödinger bridge between clean and noisy spectrograms (SB-VE), its data-prediction loss and samplers.

Ante Jukić, Roman Korostik, Jagadeesh Balam, Boris Ginsburg, "Schrödinger bridge for generative speech
enhancement", Interspeech 2024, pp. 1175-1179 (after Chen et al. 2023, "Schrödinger bridges beat diffusion models
on text-to-speech synthesis", the tractable SB with Gaussian boundary conditions). The reference SDE
``dx = f(t) x dt + g(t) dw`` with the variance-exploding schedule of the paper's Table 1,

    f(t) = 0,   g(t)^2 = c k^{2t},   alpha_t = 1,   sigma_t^2 = int_0^t g^2 = c (k^{2t} - 1) / (2 log k),

bridges ``x_0 = x`` (clean) and ``x_T = y`` (noisy). With ``sigma_bar_t^2 = sigma_T^2 - sigma_t^2`` (below Eq. (9))
the marginal given both ends is Gaussian (Eq. (11) and below):

    mean = (sigma_bar_t^2 / sigma_T^2) x0 + (sigma_t^2 / sigma_T^2) y,   std = sigma_t sigma_bar_t / sigma_T,

the law of the reference process at ``t`` conditioned on its two ends (checked by Monte Carlo in the tests). The
estimator predicts the clean spectrogram (data prediction) and is trained with ``|x_hat - x0|^2`` on the
spectrogram plus ``0.001 |s_hat - s|`` on the waveform (the paper's auxiliary time-domain loss; weight 0.001 as in
the authors' NeMo recipe ``schroedinger_bridge.yaml``). Paper defaults (the same recipe, also sgmse's ``sbve``):
``k = 2.6``, ``c = 0.4``, training times ``t ~ U[1e-4, 1]``, ``N = 50`` reverse steps.

Samplers (first-order, from ``s`` to ``t < s`` given the estimate ``x_hat`` of the network at ``(x_s, s)``): the SDE
form draws the bridge between ``x_hat`` and ``x_s``, the ODE form keeps the state's offset from the bridge mean in
proportion to the std (NeMo ``SBSampler``, ``process='sde'`` and ``'ode'``; sgmse ``get_sb_sampler``):

    SDE:  x_t = (sigma_t^2/sigma_s^2) x_s + (1 - sigma_t^2/sigma_s^2) x_hat + sigma_t sqrt(1 - sigma_t^2/sigma_s^2) z
    ODE:  x_t = mean_t(x_hat) + (std_t / std_s) (x_s - mean_s(x_hat))

Both start from ``x_T = y`` and make **one network pass per step**. Two deliberate details: the network sees the
time of the state it is given (NeMo's ``estimator_time='previous'``), and the grid ``linspace(T, 0, N + 1)`` ends
at ``t = 0``, where ``sigma_0 = 0`` makes the last update return the estimate itself (NeMo stops at ``t_min =
1e-4``: a difference of ``w_y(1e-4) ~ 3e-5`` of ``y - x_hat``). The ODE's first step from ``x_T = y`` (``std_T = 0``)
is taken without the 0/0 offset term (which vanishes there: ``x_T = mean_T = y``) instead of regularising
``1/sigma_bar_T`` with an epsilon as NeMo does, which leaves an O(1) multiple of ``y`` from the first step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from cspec.errors import ConfigError
from cspec.generative.base import Process, Registry, bcast, randn_like, time_vector

__all__ = ["SchrodingerBridgeVE", "BRIDGE_SAMPLERS", "bridge_sample", "data_prediction_loss"]

#: bridge samplers: ``fn(process, x_s, x_hat, y, s, t, generator) -> x_t``; one network pass per step each
BRIDGE_SAMPLERS = Registry("bridge sampler")


@dataclass(frozen=True)
class SchrodingerBridgeVE(Process):
    """SB-VE of Jukić et al. 2024 (module docstring); defaults are the paper's.

    Attributes:
        k, c: the schedule ``g(t)^2 = c k^{2t}`` (Table 1).
        t_eps: the smallest training time (``t_min = 1e-4``).
        N: reverse steps of :func:`bridge_sample`.
        T: the final time (1), where the bridge reaches ``y``.
    """

    k: float = 2.6
    c: float = 0.4
    t_eps: float = 1e-4
    N: int = 50
    T: float = 1.0

    def __post_init__(self):
        self._check(c=self.c, T=self.T)
        if not self.k > 1:
            raise ConfigError(f"SchrodingerBridgeVE: k must be > 1, got {self.k}")

    def sigma2(self, t: torch.Tensor) -> torch.Tensor:
        """``sigma_t^2 = c (k^{2t} - 1) / (2 log k)``."""
        return self.c * (self.k ** (2 * t) - 1) / (2 * math.log(self.k))

    def weights(self, t: torch.Tensor):
        """``(w_x, w_y, std)``: the bridge mean ``w_x x0 + w_y y`` and its std (Eq. (11))."""
        s2, sT2 = self.sigma2(t), self.sigma2(torch.full_like(t, self.T))
        sbar2 = (sT2 - s2).clamp_min(0)
        return sbar2 / sT2, s2 / sT2, torch.sqrt(s2 * sbar2 / sT2)

    def sde(self, x, y, t):
        """The reference SDE of Table 1: drift 0, diffusion ``sqrt(c) k^t``."""
        t = time_vector(t, x)
        return torch.zeros_like(x), math.sqrt(self.c) * self.k ** t

    def marginal_prob(self, x0, y, t):
        wx, wy, std = self.weights(time_vector(t, x0))
        return bcast(wx, x0) * x0 + bcast(wy, x0) * y, std

    def prior_sampling(self, shape, y, generator=None):
        """The bridge starts at the noisy spectrogram itself: ``x_T = y``."""
        if tuple(shape) != tuple(y.shape):
            raise ConfigError(f"prior shape {tuple(shape)} differs from the shape of y {tuple(y.shape)}")
        return y.clone()


@BRIDGE_SAMPLERS.register("sde")
def _sde_step(process, x, x_hat, y, s, t, generator=None):
    ratio = process.sigma2(t) / process.sigma2(s)  # s > 0 on the grid, so sigma_s > 0
    noise = torch.sqrt((process.sigma2(t) * (1 - ratio)).clamp_min(0))
    return bcast(ratio, x) * x + bcast(1 - ratio, x) * x_hat + bcast(noise, x) * randn_like(x, generator)


@BRIDGE_SAMPLERS.register("ode")
def _ode_step(process, x, x_hat, y, s, t, generator=None):
    mean_s, std_s = process.marginal_prob(x_hat, y, s)
    mean_t, std_t = process.marginal_prob(x_hat, y, t)
    # std_s = 0 only at s = T, where x_s = y = mean_s: the offset term is 0 (not 0/0)
    gain = torch.where(std_s > 0, std_t / std_s.clamp_min(torch.finfo(std_s.dtype).tiny), torch.zeros_like(std_s))
    return mean_t + bcast(gain, x) * (x - mean_s)


@torch.no_grad()
def bridge_sample(process: SchrodingerBridgeVE, data_fn, y: torch.Tensor, sampler: str = "sde",
                  generator: torch.Generator | None = None, x_init: torch.Tensor | None = None):
    """Run ``process.N`` bridge steps from ``x_T = y`` (or ``x_init``) to ``t = 0``, without gradients.

    Args:
        data_fn: ``data_fn(x, y, t) -> x_hat``, the clean-spectrogram estimate at the state's time ``t``.
        sampler: ``"sde"`` or ``"ode"`` (:data:`BRIDGE_SAMPLERS`).

    Returns:
        ``(x, nfe)`` with ``nfe = process.N`` network passes.
    """
    return bridge_trajectory(process, data_fn, y, sampler, generator, x_init)


def bridge_trajectory(process: SchrodingerBridgeVE, data_fn, y: torch.Tensor, sampler: str = "sde",
                      generator: torch.Generator | None = None, x_init: torch.Tensor | None = None):
    """:func:`bridge_sample` with gradients through every pass: the reverse process that the second training stage
    of Lay, Lemercier, Richter & Gerkmann (2023, "Single and few-step diffusion for generative speech enhancement",
    arXiv:2309.09677) solves in training, to compare its end with the clean target under a predictive loss."""
    step = BRIDGE_SAMPLERS.get(sampler)
    x = process.prior_sampling(y.shape, y, generator) if x_init is None else x_init
    grid = torch.linspace(process.T, 0.0, process.N + 1, dtype=y.real.dtype, device=y.device)
    for i in range(process.N):
        s, t = time_vector(grid[i], y), time_vector(grid[i + 1], y)
        x = step(process, x, data_fn(x, y, s), y, s, t, generator)
    return x, process.N


def data_prediction_loss(x_hat: torch.Tensor, x0: torch.Tensor, wave_hat: torch.Tensor | None = None,
                         wave: torch.Tensor | None = None, time_weight: float = 0.001):
    """Jukić et al. 2024 training loss: ``mean |x_hat - x0|^2 + time_weight * mean |wave_hat - wave|``.

    Returns ``(loss, {"data": ..., "time": ...})`` (terms detached; ``"time"`` only with waveforms given).
    """
    data = (x_hat - x0).abs().pow(2).mean()
    terms = {"data": data.detach()}
    if wave_hat is None or time_weight == 0:
        return data, terms
    time = (wave_hat - wave).abs().mean()
    terms["time"] = time.detach()
    return data + time_weight * time, terms
