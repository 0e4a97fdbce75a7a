"""Evaluation metrics: intrusive (PESQ, STOI, SI-SDR, SDR, composite ...), non-intrusive (DNSMOS), spectral,
and permutation-invariant separation scores (:func:`score_separation`).

One function per metric, each accepting tensors or arrays ``(..., samples)`` and applying the canonical
preprocessing (see :mod:`cspec.metrics.registry`); :func:`evaluate` runs many at once and records a NaN plus a
reason wherever one cannot be computed; :mod:`cspec.metrics.report` scores folders of files in parallel.
"""

from cspec.metrics._common import MetricError
from cspec.metrics.composite import cbak, composite, covl, csig, llr, wss
from cspec.metrics.dnsmos import dnsmos
from cspec.metrics.evaluate import Scores, evaluate
from cspec.metrics.intrusive import estoi, pesq, pesq_nb, pesq_wb, stoi
from cspec.metrics.registry import DEFAULT_METRICS, METRICS, preprocessing
from cspec.metrics.sdr import scale, sdr, seg_snr, si_sdr, snr
from cspec.metrics.separation import SeparationScores, score_separation
from cspec.metrics.spectral import (
    log_spectral_distance,
    spectral_convergence,
    spectral_convergence_db,
    spectral_convergence_wave,
)

__all__ = [
    "MetricError", "Scores", "evaluate", "METRICS", "DEFAULT_METRICS", "preprocessing",
    "pesq", "pesq_wb", "pesq_nb", "stoi", "estoi",
    "si_sdr", "sdr", "snr", "scale", "seg_snr",
    "composite", "csig", "cbak", "covl", "llr", "wss",
    "log_spectral_distance", "spectral_convergence", "spectral_convergence_db", "spectral_convergence_wave",
    "dnsmos", "score_separation", "SeparationScores",
]
