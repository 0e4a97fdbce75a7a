"""evaluate(): the per-metric functions' numbers, NaN + reason for bad clips; registry; summary statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from cspec.metrics import MetricError, evaluate, pesq_wb, si_sdr, stoi
from cspec.metrics.registry import DEFAULT_METRICS, preprocessing, resolve
from cspec.metrics.report import summarize


def test_evaluate_equals_the_metric_functions(dev_pairs):
    c, n, sr = dev_pairs["vbd_train_p287_002"]
    s = evaluate(c, n, sr, metrics="pesq,stoi,si_sdr,composite")
    assert list(s) == ["pesq_wb", "stoi", "si_sdr", "csig", "cbak", "covl"]
    assert s["pesq_wb"] == pesq_wb(c, n, sr)
    assert s["stoi"] == stoi(c, n, sr)
    assert s["si_sdr"] == si_sdr(c, n, sr)
    assert s.reasons == {}


def test_evaluate_batch_with_bad_rows_gives_nan_and_reasons(dev_pairs):
    c, n, sr = dev_pairs["dns3_0015"]
    c, n = c[:24000], n[:24000]
    bad = n.copy()
    bad[100] = np.nan
    ref = torch.from_numpy(np.stack([c, c, np.zeros_like(c)]))
    est = torch.from_numpy(np.stack([n, bad, n]))
    s = evaluate(ref, est, sr, metrics=["pesq_wb", "si_sdr", "snr"])
    assert isinstance(s["pesq_wb"], torch.Tensor) and s["pesq_wb"].shape == (3,)
    assert s["pesq_wb"][0].item() == pesq_wb(c, n, sr)
    assert torch.isnan(s["pesq_wb"][1:]).all() and torch.isnan(s["si_sdr"][1:]).all()
    assert s.reasons["pesq_wb"] == ["", "estimate holds 1 NaN/Inf samples", "reference is silent"]
    assert s.reasons["snr"][2] == "reference is silent"


def test_short_clip_reasons_per_metric(dev_pairs):
    c, n, sr = dev_pairs["dns3_0015"]
    s = evaluate(c[:800], n[:800], sr, metrics="pesq,stoi,si_sdr,csig")
    assert math.isnan(s["pesq_wb"]) and math.isnan(s["stoi"]) and math.isnan(s["csig"])
    assert s.reasons["pesq_wb"].startswith("too short: 0.050 s")
    assert "30 frames" in s.reasons["stoi"]
    assert np.isfinite(s["si_sdr"]) and "si_sdr" not in s.reasons


def test_non_intrusive_without_reference(dev_pairs):
    _, n, sr = dev_pairs["dns3_0015"]
    s = evaluate(None, n, sr, metrics="dnsmos,pesq")
    assert 1 <= s["dnsmos_ovrl"] <= 5
    assert math.isnan(s["pesq_wb"]) and "reference" in s.reasons["pesq_wb"]


def test_resolve_and_preprocessing_line():
    assert resolve(None) == DEFAULT_METRICS
    assert resolve("PESQ, sisdr,composite,pesq_wb") == ("pesq_wb", "si_sdr", "csig", "cbak", "covl")
    with pytest.raises(MetricError, match="unknown metric 'psq'"):
        resolve("psq")
    line = preprocessing(("pesq_wb", "stoi", "si_sdr"))
    assert "soxr-VHQ" in line and "16 kHz: pesq_wb" in line and "10 kHz: stoi" in line
    assert "file rate: si_sdr" in line


def test_summary_mean_ci_and_nan_count():
    vals = [1.0, 2.0, 4.0, float("nan"), 3.0]
    rows = [{"file": str(i), "pesq_wb": v, "reason": ""} for i, v in enumerate(vals)]
    (s,) = summarize(rows, ("pesq_wb",))
    ok = np.array([1.0, 2.0, 4.0, 3.0])
    assert (s.count, s.nan) == (4, 1)
    assert s.mean == pytest.approx(2.5)
    # by hand: sd = sqrt(5/3) = 1.29099, t(0.975, 3) = 3.18245, half-width = 3.18245 * 1.29099 / 2 = 2.05426
    assert s.ci95 == pytest.approx(2.05426, abs=1e-4)
    lo, hi = stats.t.interval(0.95, 3, loc=ok.mean(), scale=stats.sem(ok))
    assert s.ci95 == pytest.approx((hi - lo) / 2)
