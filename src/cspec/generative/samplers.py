"""Predictor-corrector sampling of a score-based process (SGMSE+), with predictors and correctors chosen by name.

Song, Sohl-Dickstein, Kingma, Kumar, Ermon, Poole, "Score-based generative modeling through stochastic differential
equations", ICLR 2021, Sec. 4.2 and Algorithms 2-5 (predictor-corrector samplers); used by SGMSE+ (Richter et al.
2023, Sec. III-D) with the reverse diffusion predictor and the annealed Langevin corrector of step size ``r = 0.5``,
``N = 30`` steps from ``T = 1`` to ``t_eps = 0.03``. Each PC step runs the corrector, then the predictor, at the same
time (as sp-uhh/sgmse ``get_pc_sampler``); the grid is ``linspace(T, t_eps, N)`` and the last predictor step
integrates from ``t_eps`` to 0. The result is the last predictor's noise-free mean (``denoise=True``).

Network passes: the predictor calls the score once per step, the corrector ``corrector_steps`` times (0 for
``"none"``); a PC sampler with one corrector step makes **2 passes per step** (60 for the paper's N = 30).
"""

from __future__ import annotations

import torch

from cspec.errors import ConfigError
from cspec.generative.base import Registry, bcast, randn_like, time_vector

__all__ = ["PREDICTORS", "CORRECTORS", "pc_sample", "pc_passes_per_step"]

#: predictors: ``fn(process, score_fn, x, y, t, dt, generator) -> (x, x_mean)``
PREDICTORS = Registry("predictor")
#: correctors: ``fn(process, score_fn, x, y, t, snr, n_steps, generator) -> (x, x_mean)``
CORRECTORS = Registry("corrector")


@PREDICTORS.register("reverse_diffusion")
def reverse_diffusion(process, score_fn, x, y, t, dt, generator=None):
    """Reverse diffusion predictor (Song et al. 2021, App. E, "reverse diffusion samplers"): reverses the forward
    discretisation ``x_{i+1} = x_i + f_i + G_i z`` as ``x_i = x_{i+1} - f_{i+1} + G_{i+1}^2 s + G_{i+1} z``.

    With the Euler-Maruyama forward discretisation that SGMSE+ keeps for the OUVE (``process.discretize``) it is
    the same update as :func:`euler_maruyama` (a test checks it); a process with an exact discretisation would differ.
    """
    f, G = process.discretize(x, y, t, dt)
    x_mean = x - f + bcast(G ** 2, x) * score_fn(x, y, t)
    return x_mean + bcast(G, x) * randn_like(x, generator), x_mean


@PREDICTORS.register("euler_maruyama")
def euler_maruyama(process, score_fn, x, y, t, dt, generator=None):
    """Euler-Maruyama step of the reverse SDE ``dx = [f - g^2 s] dt + g dw`` backwards by ``dt`` (Song et al. 2021,
    Eq. (6) and Algorithm 2 without corrector)."""
    drift, g = process.sde(x, y, t)
    x_mean = x - (drift - bcast(g ** 2, x) * score_fn(x, y, t)) * bcast(dt, x)
    return x_mean + bcast(g * torch.sqrt(dt), x) * randn_like(x, generator), x_mean


@CORRECTORS.register("ald", passes=1)
def annealed_langevin(process, score_fn, x, y, t, snr, n_steps, generator=None):
    """Annealed Langevin dynamics (Song & Ermon 2019, Alg. 1; the corrector of SGMSE+, Sec. III-D): step size
    ``eps = 2 (r std(t))^2`` with ``r = snr`` (0.5 in SGMSE+), ``x <- x + eps s + sqrt(2 eps) z`` ``n_steps`` times.

    With ``z ~ CN(0, 1)`` and the Wirtinger score (see :mod:`cspec.generative.base`) this is the real Langevin step
    ``x <- x + (eps/2) grad log p + sqrt(eps) n`` on the real and imaginary parts."""
    std = process.marginal_prob(x, y, t)[1]
    eps = bcast(2 * (snr * std) ** 2, x)
    x_mean = x
    for _ in range(n_steps):
        x_mean = x + eps * score_fn(x, y, t)
        x = x_mean + torch.sqrt(2 * eps) * randn_like(x, generator)
    return x, x_mean


@CORRECTORS.register("langevin", passes=1)
def langevin(process, score_fn, x, y, t, snr, n_steps, generator=None):
    """Langevin corrector of Song et al. 2021 (Algorithm 4): step size ``2 (snr |z| / |s|)^2`` from the norms of the
    noise and the score (batch means), for processes without a known noise scale."""
    x_mean = x
    for _ in range(n_steps):
        s = score_fn(x, y, t)
        z = randn_like(x, generator)
        ratio = z.reshape(len(z), -1).norm(dim=-1).mean() / s.reshape(len(s), -1).norm(dim=-1).mean().clamp_min(1e-12)
        eps = 2 * (snr * ratio) ** 2
        x_mean = x + eps * s
        x = x_mean + torch.sqrt(2 * eps) * z
    return x, x_mean


@CORRECTORS.register("none", passes=0)
def no_corrector(process, score_fn, x, y, t, snr, n_steps, generator=None):
    """No correction (a predictor-only sampler)."""
    return x, x


def pc_passes_per_step(corrector: str = "ald", corrector_steps: int = 1) -> int:
    """Network passes per PC step: 1 for the predictor plus ``corrector_steps`` for a corrector other than none."""
    return 1 + CORRECTORS.passes(corrector) * int(corrector_steps)


@torch.no_grad()
def pc_sample(process, score_fn, y: torch.Tensor, predictor: str = "reverse_diffusion", corrector: str = "ald",
              snr: float = 0.5, corrector_steps: int = 1, generator: torch.Generator | None = None,
              x_init: torch.Tensor | None = None, denoise: bool = True):
    """Run ``process.N`` predictor-corrector steps from ``x_T`` (``x_init`` or a prior draw) to ``t = 0``.

    Args:
        process: a score process (:class:`cspec.generative.OUVESDE`); ``process.copy(N=...)`` sets the steps.
        score_fn: ``score_fn(x, y, t) -> score`` (complex like ``x``; ``t`` of shape ``(batch,)``).
        y: the noisy spectrogram (conditioning; the prior's mean).
        predictor, corrector: names in :data:`PREDICTORS` / :data:`CORRECTORS`.
        snr: the corrector's step parameter (``r = 0.5`` in SGMSE+).
        corrector_steps: corrector iterations per step.
        generator: the random generator of every draw (reproducible sampling).
        x_init: the starting state; ``None`` draws it from ``process.prior_sampling``.
        denoise: return the last predictor mean (no noise added at the last step), as SGMSE+ does.

    Returns:
        ``(x, nfe)``: the sample and the number of score evaluations, ``N * pc_passes_per_step(...)``.
    """
    predict, correct = PREDICTORS.get(predictor), CORRECTORS.get(corrector)
    if snr <= 0 or int(corrector_steps) != corrector_steps or corrector_steps < 0:
        raise ConfigError(f"snr must be > 0 and corrector_steps a non-negative integer, got {snr}, {corrector_steps}")
    counted = _Counted(score_fn)
    x = process.prior_sampling(y.shape, y, generator) if x_init is None else x_init
    grid = torch.linspace(process.T, process.t_eps, process.N, dtype=y.real.dtype, device=y.device)
    x_mean = x
    for i in range(process.N):
        t = time_vector(grid[i], y)
        dt = time_vector(grid[i] - grid[i + 1] if i + 1 < process.N else grid[i], y)
        x, x_mean = correct(process, counted, x, y, t, snr, int(corrector_steps), generator)
        x, x_mean = predict(process, counted, x, y, t, dt, generator)
    return (x_mean if denoise else x), counted.calls


class _Counted:
    """Wraps a network function and counts its calls (the sampler's NFE)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args):
        self.calls += 1
        return self.fn(*args)
