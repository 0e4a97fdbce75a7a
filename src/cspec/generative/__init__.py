"""Generative enhancement on complex spectrograms: processes, training objectives, samplers, enhancers.

* :class:`OUVESDE` (SGMSE+, Richter et al. 2023) with :func:`score_matching_loss` and :func:`pc_sample`
  (predictors and correctors by name in :data:`PREDICTORS` / :data:`CORRECTORS`);
* :class:`SchrodingerBridgeVE` (Jukić et al. 2024) with :func:`data_prediction_loss` and :func:`bridge_sample`
  (``"sde"`` / ``"ode"``);
* :class:`ConditionalFlow` (FlowSE, Lee et al. 2025) with :func:`flow_matching_loss` and :func:`flow_sample`
  (``"euler"`` / ``"midpoint"``);
* the enhancers registered in :mod:`cspec.models` on import: ``"sgmse"``, ``"sbridge"``, ``"flowse"`` and the
  predictive twin ``"predictive"`` (:mod:`cspec.generative.enhancers`), waveform in and out, ``steps`` = network
  passes.

Every process shares one small interface (:class:`Process`: ``T``, ``N``, ``sde``, ``marginal_prob``,
``prior_sampling``, ``copy``); see :mod:`cspec.generative.base` for the complex-noise convention.
"""

from cspec.generative.base import Process, Registry
from cspec.generative.bridge import (BRIDGE_SAMPLERS, SchrodingerBridgeVE, bridge_sample, bridge_trajectory,
                                     data_prediction_loss)
from cspec.generative.flow import FLOW_SOLVERS, ConditionalFlow, flow_matching_loss, flow_sample
from cspec.generative.samplers import CORRECTORS, PREDICTORS, pc_passes_per_step, pc_sample
from cspec.generative.sde import OUVESDE, score_matching_loss
from cspec.generative.model import GenerativeEnhancer
from cspec.generative.enhancers import FlowSEEnhancer, PredictiveEnhancer, SBridgeEnhancer, SGMSEPlus

__all__ = [
    "Process", "Registry", "OUVESDE", "score_matching_loss", "PREDICTORS", "CORRECTORS", "pc_sample",
    "pc_passes_per_step", "SchrodingerBridgeVE", "BRIDGE_SAMPLERS", "bridge_sample", "bridge_trajectory", "data_prediction_loss",
    "ConditionalFlow", "FLOW_SOLVERS", "flow_sample", "flow_matching_loss", "GenerativeEnhancer", "SGMSEPlus",
    "SBridgeEnhancer", "FlowSEEnhancer", "PredictiveEnhancer",
]
