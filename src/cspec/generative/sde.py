"""The Ornstein-Uhlenbeck variance-exploding SDE of SGMSE+ and its denoising score matching objective.

Julius Richter, Simon Welker, Jean-Marie Lemercier, Bunlong Lay, Timo Gerkmann, "Speech enhancement and
dereverberation with diffusion-based generative models", IEEE/ACM TASLP 31, 2351-2364, 2023 (SGMSE+; the process
of Welker, Richter, Gerkmann, Interspeech 2022), Sec. III: on the compressed complex STFT (0.15 |z|^0.5 e^{j angle z},
preset ``"sgmse"``) the forward process moves the clean spectrogram ``x0`` towards the noisy ``y`` while adding
Gaussian noise,

    dx = gamma (y - x) dt + g(t) dw,   g(t) = sigma_min (sigma_max / sigma_min)^t sqrt(2 log(sigma_max / sigma_min)),

whose perturbation kernel is Gaussian with

    mean(t) = e^{-gamma t} x0 + (1 - e^{-gamma t}) y,
    std(t)^2 = sigma_min^2 ((sigma_max / sigma_min)^{2t} - e^{-2 gamma t}) log(sigma_max/sigma_min)
               / (gamma + log(sigma_max/sigma_min))

(the ``sqrt(2 log(...))`` factor of ``g`` makes ``std(t)`` grow like ``sigma(t) = sigma_min (sigma_max/sigma_min)^t``;
the variance is ``int_0^t e^{-2 gamma (t - s)} g(s)^2 ds``, checked by Monte Carlo in the tests). The paper's
hyper-parameters: ``gamma = 1.5``, ``sigma_min = 0.05``, ``sigma_max = 0.5``, ``t_eps = 0.03`` (smallest training
and sampling time), ``N = 30`` reverse steps of a predictor-corrector sampler with corrector step size ``r = 0.5``
(the values of the paper's Sec. IV, also the defaults of sp-uhh/sgmse: ``--theta 1.5 --sigma-min 0.05
--sigma-max 0.5 --t_eps 0.03``, ``enhance(N=30, snr=0.5)``). The prior is ``x_T ~ CN(y, std(T)^2)``: the mean
``y`` ignores the residual ``e^{-gamma} (x0 - y)``, the known prior mismatch of SGMSE+ (Sec. III-B).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from cspec.errors import ConfigError
from cspec.generative.base import Process, bcast, randn_like, time_vector

__all__ = ["OUVESDE", "score_matching_loss"]


@dataclass(frozen=True)
class OUVESDE(Process):
    """The OUVE SDE of SGMSE+ (Richter et al. 2023, Sec. III); defaults are the paper's (module docstring).

    Attributes:
        gamma: stiffness of the drift towards ``y`` (``theta`` in sgmse's code).
        sigma_min, sigma_max: the noise scale at ``t = 0`` and ``t = 1``.
        t_eps: the smallest time drawn in training and the last time of the sampler's grid.
        N: reverse-process steps (predictor-corrector steps) used by :func:`cspec.generative.pc_sample`.
        T: the final time (1).
    """

    gamma: float = 1.5
    sigma_min: float = 0.05
    sigma_max: float = 0.5
    t_eps: float = 0.03
    N: int = 30
    T: float = 1.0

    def __post_init__(self):
        self._check(sigma_min=self.sigma_min, T=self.T)
        if self.sigma_max <= self.sigma_min:
            raise ConfigError(f"OUVESDE: sigma_max ({self.sigma_max}) must exceed sigma_min ({self.sigma_min})")
        if self.gamma < 0:
            raise ConfigError(f"OUVESDE: gamma must be >= 0, got {self.gamma}")

    @property
    def _logsig(self) -> float:
        return math.log(self.sigma_max / self.sigma_min)

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        """``g(t) = sigma_min (sigma_max/sigma_min)^t sqrt(2 log(sigma_max/sigma_min))``."""
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t * math.sqrt(2 * self._logsig)

    def std(self, t: torch.Tensor) -> torch.Tensor:
        """The standard deviation of ``p_t(x | x0, y)`` (closed form in the module docstring)."""
        ls, g = self._logsig, self.gamma
        var = self.sigma_min ** 2 * (torch.exp(2 * ls * t) - torch.exp(-2 * g * t)) * ls / (g + ls)
        return torch.sqrt(var)

    def sde(self, x, y, t):
        """Drift ``gamma (y - x)`` and diffusion ``g(t)`` (shape ``(batch,)``)."""
        t = time_vector(t, x)
        return self.gamma * (y - x), self.diffusion(t)

    def marginal_prob(self, x0, y, t):
        t = time_vector(t, x0)
        decay = bcast(torch.exp(-self.gamma * t), x0)
        return decay * x0 + (1 - decay) * y, self.std(t)

    def prior_sampling(self, shape, y, generator=None):
        """``x_T = y + std(T) z`` (SGMSE+; sgmse ``OUVESDE.prior_sampling``)."""
        if tuple(shape) != tuple(y.shape):
            raise ConfigError(f"prior shape {tuple(shape)} differs from the shape of y {tuple(y.shape)}")
        std = self.std(time_vector(self.T, y))
        return y + bcast(std, y) * randn_like(y, generator)

    def discretize(self, x, y, t, dt):
        """Euler-Maruyama discretisation of the forward SDE over ``dt`` (``(batch,)``): ``f = drift dt``,
        ``G = g(t) sqrt(dt)`` (Song et al. 2021, ``SDE.discretize``, which SGMSE+ keeps for the OUVE)."""
        drift, g = self.sde(x, y, t)
        return drift * bcast(dt, x), g * torch.sqrt(dt)


def score_matching_loss(score: torch.Tensor, z: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Denoising score matching of SGMSE+ with the ``sigma^2`` weighting: ``mean |std * score + z|^2``.

    With ``x_t = mean + std z`` the target score of the perturbation kernel is ``-z / std``; weighting the squared
    error by ``std^2`` (Song et al. 2021, lambda(t) = sigma(t)^2; Richter et al. 2023, training objective of
    Sec. III; sgmse ``ScoreModel._loss``: ``|score * sigma + z|^2``) gives this form. sgmse sums over bins and halves
    (``0.5 * sum``); the mean over bins used here differs from that by a constant factor only.
    """
    return (bcast(std, z) * score + z).abs().pow(2).mean()
