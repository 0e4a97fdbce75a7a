"""``evaluate``: many metrics on one clip or a batch, with a NaN and a reason wherever a metric fails.

The canonical preprocessing is described in :mod:`cspec.metrics.registry`; each metric function applies it
itself (the length check, resampling to the metric's rate with soxr VHQ, cutting to the shorter length), so
``evaluate`` and the per-metric functions give the same numbers. :func:`metric_groups` and :func:`score_group`
are the steps of :func:`evaluate_clip`, used one at a time by the crash-safe workers of
:mod:`cspec.metrics.workers`.
"""

from __future__ import annotations

import numpy as np

from cspec.metrics._common import MetricError, as_rows, check_rate, restore
from cspec.metrics.composite import composite, llr, wss
from cspec.metrics.dnsmos import dnsmos
from cspec.metrics.intrusive import pesq, stoi
from cspec.metrics.registry import METRICS, resolve
from cspec.metrics.sdr import scale, sdr, seg_snr, si_sdr, snr
from cspec.metrics.spectral import log_spectral_distance, spectral_convergence_wave

__all__ = ["evaluate", "evaluate_clip", "metric_groups", "score_group", "Scores"]


class Scores(dict):
    """``{metric: value}`` (a float per clip, or an array for a batch) with ``reasons``: ``{metric: why NaN}``.

    For a batch, ``reasons[metric]`` is a list with one entry per clip (``""`` where the value is fine).
    """

    def __init__(self, values: dict, reasons: dict) -> None:
        super().__init__(values)
        self.reasons = reasons


def _group(group: str, ref, est, sr: int, done: dict) -> dict:
    """Compute one group of metrics on one pair of 1-D float64 rows."""
    if group in ("pesq_wb", "pesq_nb"):
        return {group: pesq(ref, est, sr, mode=group[-2:])}
    if group in ("stoi", "estoi"):
        return {group: stoi(ref, est, sr, extended=group == "estoi")}
    if group == "si_sdr":
        return {group: si_sdr(ref, est, sr)}
    if group == "sdr":
        return {group: sdr(ref, est, sr)}
    if group == "snr":
        return {group: snr(ref, est, sr)}
    if group == "scale":
        return {group: scale(ref, est, sr)}
    if group == "ssnr":
        return {group: seg_snr(ref, est, sr)}
    if group == "composite":
        cached = done.get("pesq_wb")
        reuse = cached if cached is not None and np.isfinite(cached) else None
        return composite(ref, est, sr, pesq_value=reuse)
    if group == "llr":
        return {group: llr(ref, est, sr)}
    if group == "wss":
        return {group: wss(ref, est, sr)}
    if group == "lsd":
        return {group: log_spectral_distance(ref, est, sr)}
    if group == "sc":
        return {group: spectral_convergence_wave(ref, est, sr)}
    if group == "dnsmos":
        return dnsmos(est, sr)
    raise MetricError(f"no computation for metric group '{group}'")


def metric_groups(names: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """The computations behind ``names`` in order, each with the names it yields: ``[(group, members)]``."""
    out: dict[str, list[str]] = {}
    for name in names:
        out.setdefault(METRICS[name].group, []).append(name)
    return [(group, tuple(members)) for group, members in out.items()]


def score_group(group: str, members: tuple[str, ...], ref: np.ndarray | None, est: np.ndarray, sr: int,
                done: dict | None = None) -> tuple[dict, dict]:
    """One computation of :func:`metric_groups` on one clip: ``(values, reasons)``, NaN + reason on failure.

    ``done`` holds values already computed for this clip (the composite measures reuse wide-band PESQ).
    """
    try:
        if METRICS[members[0]].intrusive and ref is None:
            raise MetricError("needs a reference (pass --ref)")
        out = _group(group, ref, est, sr, done or {})
        return {n: float(out[n]) for n in members}, {}
    except Exception as exc:  # noqa: BLE001 - a batch must survive any one clip
        reason = str(exc) if isinstance(exc, MetricError) else f"{type(exc).__name__}: {exc}"
        reason = reason.splitlines()[0] if reason else type(exc).__name__
        return {n: float("nan") for n in members}, {n: reason for n in members}


def evaluate_clip(ref: np.ndarray | None, est: np.ndarray, sr: int, names: tuple[str, ...]) -> tuple[dict, dict]:
    """Metrics ``names`` of one clip (1-D rows): ``(values, reasons)``; a failing metric gives NaN + reason.

    Never raises for a bad clip: :class:`MetricError` carries its own reason; any other exception from a
    metric package is recorded as ``"<Type>: <message>"``. (A crash of a package's C code ends the process:
    :mod:`cspec.metrics.workers` runs this in processes that may die.)
    """
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for group, members in metric_groups(names):
        got, why = score_group(group, members, ref, est, sr, values)
        values.update(got)
        reasons.update(why)
    return {n: values[n] for n in names}, reasons


def evaluate(ref, est, sr: int, metrics=None) -> Scores:
    """Every metric in ``metrics`` of ``est`` against ``ref``, with NaN plus a reason where one fails.

    Args:
        ref: clean reference ``(..., samples)``, tensor or array; ``None`` for non-intrusive metrics only.
        est: the estimate, same leading shape (or broadcastable); its length may differ from the reference's by
            up to :data:`~cspec.metrics._common.LENGTH_TOLERANCE_SECONDS` (0.1 s; cut to the shorter), a larger
            difference gives NaN and a reason naming both lengths.
        sr: the sample rate of both (a positive integer).
        metrics: names or aliases, a list or a comma-separated string (see :mod:`cspec.metrics.registry`);
            ``None`` computes :data:`~cspec.metrics.registry.DEFAULT_METRICS`.

    Returns:
        :class:`Scores`: a float per metric for 1-D input, an array (tensor for tensor input) of the leading
        shape for batches; ``.reasons`` says why any value is NaN.
    """
    sr = check_rate(sr)
    names = resolve(metrics)
    e, lead_e, is_torch = as_rows(est, "estimate")
    lead, r = tuple(lead_e), None
    if ref is not None:
        r, lead_r, t_r = as_rows(ref, "reference")
        lead = tuple(np.broadcast_shapes(lead, lead_r))
        r = np.broadcast_to(r.reshape(*lead_r, -1), (*lead, r.shape[-1])).reshape(-1, r.shape[-1])
        is_torch = is_torch or t_r
    e = np.broadcast_to(e.reshape(*lead_e, e.shape[-1]), (*lead, e.shape[-1])).reshape(-1, e.shape[-1])
    rows = [evaluate_clip(None if r is None else r[i], e[i], sr, names) for i in range(e.shape[0])]
    values = {n: restore([v[n] for v, _ in rows], tuple(lead), is_torch) for n in names}
    if not lead:
        return Scores(values, rows[0][1])
    return Scores(values, {n: [why.get(n, "") for _, why in rows] for n in names})
