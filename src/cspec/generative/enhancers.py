"""The registered enhancers: SGMSE+ (``"sgmse"``), the Schrödinger bridge (``"sbridge"``), FlowSE (``"flowse"``) and
their predictive twin (``"predictive"``), one backbone interface and one data path (:mod:`cspec.generative.model`).

Each constructor takes plain values (its defaults are its paper's) and ``steps``, the number of network passes of
one enhancement:

=============  ===========================================  ============================  ==================
name           sampler                                      passes per step               default steps
=============  ===========================================  ============================  ==================
``sgmse``      PC: reverse diffusion + annealed Langevin     1 + corrector_steps (2)       60 (N = 30)
``sbridge``    first-order bridge, ``"sde"`` or ``"ode"``    1                             50
``flowse``     ODE, ``"euler"`` or ``"midpoint"``            1 (euler), 2 (midpoint)       5
``predictive`` one pass ``net([y, y], t=1) -> x``            1                             1
=============  ===========================================  ============================  ==================

``steps=None`` (the default) means the paper's number of sampler steps times the passes per step, so that
``corrector="none"`` gives 30 passes and ``solver="midpoint"`` 10.
"""

from __future__ import annotations

import torch

from cspec.errors import ConfigError
from cspec.generative.base import bcast, uniform_time
from cspec.generative.bridge import (BRIDGE_SAMPLERS, SchrodingerBridgeVE, bridge_sample, bridge_trajectory,
                                     data_prediction_loss)
from cspec.generative.flow import FLOW_SOLVERS, ConditionalFlow, flow_matching_loss, flow_sample
from cspec.generative.model import GenerativeEnhancer
from cspec.generative.samplers import CORRECTORS, PREDICTORS, pc_passes_per_step, pc_sample
from cspec.generative.sde import OUVESDE, score_matching_loss
from cspec.models.base import register

__all__ = ["SGMSEPlus", "SBridgeEnhancer", "FlowSEEnhancer", "PredictiveEnhancer"]


@register("sgmse")
class SGMSEPlus(GenerativeEnhancer):
    """SGMSE+ (Richter et al. 2023, IEEE/ACM TASLP): OUVE SDE, denoising score matching, PC sampling.

    The network output is the score; with ``score_scaling="sigma"`` (default) it is divided by the kernel's std
    ``std(t)``, so that the loss ``|std * score + z|^2`` becomes ``|net + z|^2`` (the network predicts ``-z``, a
    well-conditioned target at every ``t``); ``"none"`` takes the output as the score itself. Both minimise the same
    objective (:func:`cspec.generative.score_matching_loss`). Defaults: ``gamma 1.5, sigma_min 0.05, sigma_max 0.5,
    t_eps 0.03``, 30 PC steps with ``snr r = 0.5`` (60 passes).
    """

    paper = "Richter, Welker, Lemercier, Lay, Gerkmann 2023, SGMSE+ (IEEE/ACM TASLP 31)"

    def __init__(self, backbone="ncsnpp", backbone_options: dict | None = None, preset: str = "sgmse",
                 gamma: float = 1.5, sigma_min: float = 0.05, sigma_max: float = 0.5, t_eps: float = 0.03,
                 steps: int | None = None, predictor: str = "reverse_diffusion", corrector: str = "ald",
                 snr: float = 0.5, corrector_steps: int = 1, score_scaling: str = "sigma", normalize: bool = True,
                 seed: int = 0):
        super().__init__(backbone, backbone_options, preset, seed, normalize)
        self.process = OUVESDE(gamma=gamma, sigma_min=sigma_min, sigma_max=sigma_max, t_eps=t_eps)
        PREDICTORS.get(predictor), CORRECTORS.get(corrector)
        if score_scaling not in ("sigma", "none"):
            raise ConfigError(f"score_scaling must be 'sigma' or 'none', got '{score_scaling}'")
        self.predictor, self.corrector, self.snr = predictor, corrector, float(snr)
        self.corrector_steps, self.score_scaling = int(corrector_steps), score_scaling
        self.steps = steps

    @property
    def passes_per_step(self) -> int:
        return pc_passes_per_step(self.corrector, self.corrector_steps)

    def score(self, x, y, t):
        out = self.net_call(x, y, t)
        return out / bcast(self.process.std(t), out) if self.score_scaling == "sigma" else out

    def _sample(self, y, generator):
        process = self.process.copy(N=self.sampler_steps)
        x, _ = pc_sample(process, self.score, y, self.predictor, self.corrector, self.snr, self.corrector_steps,
                         generator=generator)
        return x

    def _loss(self, y, x0, clean_wave, ctx):
        t = uniform_time(len(y), self.process.t_eps, self.process.T, device=y.device)
        x_t, z = self.process.sample_marginal(x0, y, t)
        score = self.score(x_t, y, t)
        loss = score_matching_loss(ctx.crop(score), ctx.crop(z), self.process.std(t))
        return loss, {"score_matching": loss.detach()}


@register("sbridge")
class SBridgeEnhancer(GenerativeEnhancer):
    """Schrödinger bridge (Jukić et al. 2024, Interspeech), SB-VE with data prediction.

    Defaults: ``k 2.6, c 0.4``, training times in ``[1e-4, 1]``, 50 steps of the SDE sampler, time-domain loss
    weight 0.001 (the authors' NeMo recipe).

    ``crp_steps = n > 0`` trains the few-step sampler itself, the second stage of Lay, Lemercier, Richter &
    Gerkmann (2023, arXiv:2309.09677, "correcting the reverse process"): each step runs the ``n``-pass sampler
    from ``x_T = y`` with gradients and applies the same data-prediction loss to its end, so that the
    discretisation error of ``n`` passes is trained away; start it from a model trained the usual way
    (``model.init``) and enhance with ``steps = n``.
    """

    paper = ("Jukić, Korostik, Balam, Ginsburg 2024, Schrödinger bridge for generative speech enhancement "
             "(Interspeech)")

    def __init__(self, backbone="ncsnpp", backbone_options: dict | None = None, preset: str = "sgmse",
                 k: float = 2.6, c: float = 0.4, t_min: float = 1e-4, steps: int | None = None,
                 sampler: str = "sde", time_weight: float = 0.001, crp_steps: int = 0, normalize: bool = True,
                 seed: int = 0):
        super().__init__(backbone, backbone_options, preset, seed, normalize)
        self.process = SchrodingerBridgeVE(k=k, c=c, t_eps=t_min)
        BRIDGE_SAMPLERS.get(sampler)
        if isinstance(crp_steps, bool) or not isinstance(crp_steps, int) or crp_steps < 0:
            raise ConfigError(f"crp_steps must be an integer >= 0 (0: the usual bridge loss), got {crp_steps!r}")
        self.sampler, self.time_weight, self.crp_steps = sampler, float(time_weight), crp_steps
        self.steps = steps

    def _sample(self, y, generator):
        x, _ = bridge_sample(self.process.copy(N=self.sampler_steps), self.net_call, y, self.sampler, generator)
        return x

    def _loss(self, y, x0, clean_wave, ctx):
        if self.crp_steps:
            x_hat, _ = bridge_trajectory(self.process.copy(N=self.crp_steps), self.net_call, y, self.sampler)
        else:
            t = uniform_time(len(y), self.process.t_eps, self.process.T, device=y.device)
            x_t, _ = self.process.sample_marginal(x0, y, t)
            x_hat = self.net_call(x_t, y, t)
        return data_prediction_loss(ctx.crop(x_hat), ctx.crop(x0), self._wave_loss_input(x_hat, ctx), clean_wave,
                                    self.time_weight)


@register("flowse")
class FlowSEEnhancer(GenerativeEnhancer):
    """FlowSE (Lee, Cheong, Han, Shin 2025, ICASSP): conditional flow matching, Euler or midpoint ODE solver.

    Defaults: ``sigma_min 0, sigma_max 0.5, t_eps 0.03``, 5 Euler steps (5 passes), the paper's setting.
    """

    paper = "Lee, Cheong, Han, Shin 2025, FlowSE: flow matching-based speech enhancement (ICASSP)"

    def __init__(self, backbone="ncsnpp", backbone_options: dict | None = None, preset: str = "sgmse",
                 sigma_min: float = 0.0, sigma_max: float = 0.5, t_eps: float = 0.03, steps: int | None = None,
                 solver: str = "euler", normalize: bool = True, seed: int = 0):
        super().__init__(backbone, backbone_options, preset, seed, normalize)
        self.process = ConditionalFlow(sigma_min=sigma_min, sigma_max=sigma_max, t_eps=t_eps)
        FLOW_SOLVERS.get(solver)
        self.solver = solver
        self.steps = steps

    @property
    def passes_per_step(self) -> int:
        return FLOW_SOLVERS.passes(self.solver)

    def _sample(self, y, generator):
        x, _ = flow_sample(self.process.copy(N=self.sampler_steps), self.net_call, y, self.solver, generator)
        return x

    def _loss(self, y, x0, clean_wave, ctx):
        t = uniform_time(len(y), self.process.t_eps, self.process.T, device=y.device)
        x_t, z = self.process.sample_marginal(x0, y, t)
        u = self.process.conditional_velocity(x0, y, z)
        loss = flow_matching_loss(ctx.crop(self.net_call(x_t, y, t)), ctx.crop(u))
        return loss, {"flow_matching": loss.detach()}


@register("predictive")
class PredictiveEnhancer(GenerativeEnhancer):
    """The predictive twin: the same backbone, data path and loss as the bridge's data prediction, in one pass.

    The network sees ``(y, y)`` as (state, condition) and the fixed time ``t = 1`` (the bridge's first input), and is
    trained to return the clean spectrogram: ``|x_hat - x0|^2 + time_weight |s_hat - s|`` (Jukić et al. 2024's loss,
    so that the twin differs from the bridge only by what generation adds). ``steps`` is always 1.
    """

    paper = "predictive twin of the generative enhancers (same backbone, one pass)"
    fixed_steps = 1

    def __init__(self, backbone="ncsnpp", backbone_options: dict | None = None, preset: str = "sgmse",
                 time_weight: float = 0.001, normalize: bool = True):
        super().__init__(backbone, backbone_options, preset, 0, normalize)
        self.time_weight = float(time_weight)

    def _predict(self, y):
        return self.net_call(y, y, torch.ones(len(y), dtype=y.real.dtype, device=y.device))

    def _sample(self, y, generator):
        return self._predict(y)

    def _loss(self, y, x0, clean_wave, ctx):
        x_hat = self._predict(y)
        return data_prediction_loss(ctx.crop(x_hat), ctx.crop(x0), self._wave_loss_input(x_hat, ctx), clean_wave,
                                    self.time_weight)
