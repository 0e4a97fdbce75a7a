"""Validation on the fixed dev set: the recipe's metrics (PESQ, SI-SDR ...) of the model's estimates.

Every process scores its own share of the dev set (items ``rank, rank + world, ...``); sums and counts are
added over the processes, so the means are those of the whole set. Each item is scored on its real samples
(``length``) with :func:`cspec.metrics.evaluate.evaluate_clip`, which applies the canonical preprocessing and
leaves out (counts as NaN) a clip it cannot score. Separated sources are first matched to the references by
permutation-invariant SI-SDR.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from cspec.losses import build as build_loss
from cspec.losses import reorder
from cspec.metrics.evaluate import evaluate_clip

__all__ = ["validate"]


@torch.no_grad()
def validate(model, loader, names: tuple[str, ...], sample_rate: int, device, reduce=None) -> dict[str, float]:
    """Mean of each metric in ``names`` over the dev set (``nan`` where no clip could be scored).

    ``reduce(tensor)`` sums a tensor over the processes (identity when ``None``).
    """
    was_training = model.training
    model.eval()
    sums = torch.zeros(len(names), dtype=torch.float64)
    counts = torch.zeros(len(names), dtype=torch.float64)
    pit = None
    try:
        for batch in loader:
            est = model(batch["mixture"].to(device))["wave"].float().cpu()
            targets = batch["targets"].float()
            lengths = batch["length"].tolist()
            if est.dim() == 3:
                ref = targets[:, : est.shape[1]]
                pit = pit or build_loss("pit", loss="si_sdr")
                _, perm = pit(est, ref)
                est, ref = reorder(est, perm), ref
                lengths = [n for n in lengths for _ in range(est.shape[1])]
                est, ref = est.flatten(0, 1), ref.flatten(0, 1)
            else:
                ref = targets[:, 0]
            for i, n in enumerate(lengths):
                values, _ = evaluate_clip(ref[i, :n].double().numpy(), est[i, :n].double().numpy(), sample_rate,
                                          names)
                for j, name in enumerate(names):
                    if np.isfinite(values[name]):
                        sums[j] += values[name]
                        counts[j] += 1
    finally:
        model.train(was_training)
    if reduce is not None:
        sums, counts = reduce(sums.to(device)).cpu(), reduce(counts.to(device)).cpu()
    return {name: (float(sums[j] / counts[j]) if counts[j] > 0 else math.nan) for j, name in enumerate(names)}
