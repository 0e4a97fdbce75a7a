"""No silent wrong numbers (issue #20, point 4): lengths that differ beyond 0.1 s, and STOI/ESTOI of an estimate
with nothing in it, give NaN and a reason instead of a number."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pystoi import stoi as stoi_ref

from cspec.metrics import MetricError, estoi, evaluate, pesq_wb, sdr, si_sdr, stoi
from cspec.metrics._common import LENGTH_TOLERANCE_SECONDS
from cspec.metrics.registry import DEFAULT_METRICS, preprocessing


def test_one_sample_estimate_against_a_long_reference_is_nan_with_both_lengths(dev_pairs):
    c, n, sr = dev_pairs["dns3_0015"]
    c, n = np.tile(c, 2)[: int(6.5 * sr)], np.tile(n, 2)[: int(6.5 * sr)]
    # the case: SI-SDR 136.5 dB and SDR 2980 dB from comparing one sample with the reference's first one
    s = evaluate(c, n[:1], sr, metrics=None)
    why = f"reference and estimate lengths differ: 6.500 s vs 0.000 s (104000 vs 1 samples at {sr} Hz)"
    for name in DEFAULT_METRICS:
        assert math.isnan(s[name]) and s.reasons[name].startswith(why), name
    with pytest.raises(MetricError, match="104000 vs 1 samples"):
        si_sdr(c, n[:1], sr)
    with pytest.raises(MetricError, match="more than the 0.1 s tolerance"):
        sdr(c[: 2 * sr], n[:1000], sr)


def test_lengths_within_the_tolerance_are_cut_to_the_shorter(dev_pairs):
    c, n, sr = dev_pairs["vbd_train_p287_002"]
    limit = int(LENGTH_TOLERANCE_SECONDS * sr)  # 1600 samples at 16 kHz
    short = len(c) - limit
    assert si_sdr(c, n[:short], sr) == si_sdr(c[:short], n[:short], sr)
    assert pesq_wb(c[:short], n, sr) == pesq_wb(c[:short], n[:short], sr)
    with pytest.raises(MetricError, match="lengths differ"):
        si_sdr(c, n[: short - 1], sr)
    # batched, one tolerance for every row (the rows of an array share a length)
    batch = si_sdr(np.stack([c, c]), np.stack([n, n])[:, :short], sr)
    assert batch.shape == (2,) and batch[0] == si_sdr(c[:short], n[:short], sr)


def test_silent_estimate_has_no_stoi(dev_pairs):
    c, n, sr = dev_pairs["dns3_0015"]
    quiet = 10 ** (-45 / 20) * n  # every frame more than 40 dB below the reference's loudest
    for est in (np.zeros_like(n), quiet):
        for extended in (False, True):
            s = evaluate(c, est, sr, "estoi" if extended else "stoi")
            key = "estoi" if extended else "stoi"
            assert math.isnan(s[key]) and s.reasons[key].startswith("estimate is"), (key, s.reasons)
    # 35 dB down is inside STOI's 40 dB range: scored, and STOI is gain-invariant (Taal et al. 2011, eq. 3)
    assert stoi(c, 10 ** (-35 / 20) * n, sr) == pytest.approx(stoi(c, n, sr), abs=1e-9)


def test_estoi_of_a_partly_silent_estimate_is_the_same_on_every_call(dev_pairs):
    # pystoi adds 2e-16 * N(0, 1) before normalising; with half the estimate zero that noise moved ESTOI by ~0.005
    # from call to call (0.3128, 0.3152, 0.3109 on three calls)
    c, n, sr = dev_pairs["dns3_0015"]
    est = n.copy()
    est[len(est) // 2 :] = 0
    values = {estoi(c, est, sr) for _ in range(3)}
    assert len(values) == 1
    state = np.random.get_state()[1].copy()
    estoi(c, est, sr)
    assert np.array_equal(np.random.get_state()[1], state)  # the caller's random state is left alone
    (value,) = values
    np.random.seed(0)
    assert value == pytest.approx(stoi_ref(*_at_10k(c, est, sr), 10000, extended=True), abs=1e-12)


def _at_10k(c, e, sr):
    import torch

    from cspec.audio import resample

    return (resample(torch.from_numpy(c), sr, 10000).numpy(), resample(torch.from_numpy(e), sr, 10000).numpy())


def test_preprocessing_line_states_the_tolerance_and_the_pesq_segments():
    line = preprocessing(("pesq_wb", "si_sdr"))
    assert "lengths within 0.1 s cut to the shorter signal (larger differences: NaN)" in line
    assert "PESQ beyond 10 s: duration-weighted mean of 5-10 s segments" in line
    assert "PESQ" not in preprocessing(("si_sdr",))
