"""CSIG / CBAK / COVL and their parts against pysepm-evo's independent LLR, WSS and segSNR, and by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pesq import pesq as pesq_ref
from scipy.linalg import solve_toeplitz

from cspec.metrics import MetricError, cbak, composite, covl, csig, llr, wss
from cspec.metrics.composite import _levinson

NAMES = ["dns3_0015", "vbd_train_p287_002", "pesq_speech_babble0db"]


def _crop(dev_pairs, name, seconds=3.0):
    c, n, sr = dev_pairs[name]
    return c[: int(seconds * sr)], n[: int(seconds * sr)], sr


def test_llr_and_wss_equal_pysepm(dev_pairs, pysepm_quality):
    for name in NAMES:
        c, n, sr = _crop(dev_pairs, name)
        assert llr(c, n, sr) == pytest.approx(pysepm_quality.llr(c, n, sr, used_for_composite=True), abs=1e-8)
        assert wss(c, n, sr) == pytest.approx(pysepm_quality.wss(c, n, sr), abs=1e-8)


def test_composite_equals_published_regression_of_independent_parts(dev_pairs, pysepm_quality):
    for name in NAMES:
        c, n, sr = _crop(dev_pairs, name)
        l_ = pysepm_quality.llr(c, n, sr, used_for_composite=True)
        w = pysepm_quality.wss(c, n, sr)
        s = pysepm_quality.SNRseg(c, n, sr)
        p = pesq_ref(16000, c, n, "wb")
        expect = {  # Hu & Loizou (2008), eqs. 9-11, clipped to [1, 5]
            "csig": np.clip(3.093 - 1.029 * l_ + 0.603 * p - 0.009 * w, 1, 5),
            "cbak": np.clip(1.634 + 0.478 * p - 0.007 * w + 0.063 * s, 1, 5),
            "covl": np.clip(1.594 + 0.805 * p - 0.512 * l_ - 0.007 * w, 1, 5),
        }
        got = composite(c, n, sr)
        for k in expect:
            assert got[k] == pytest.approx(expect[k], abs=1e-6), (name, k)


def test_composite_by_hand_for_a_scaled_copy():
    # est = 0.5 ref: LPC envelopes and spectral slopes are unchanged (LLR = WSS = 0), every frame has
    # segSNR = 10 log10(1 / 0.25) = 6.0206 dB; with PESQ given as 2.0 the regressions give
    # CSIG = 3.093 + 1.206 = 4.299, CBAK = 1.634 + 0.956 + 0.063 * 6.0206 = 2.96930, COVL = 1.594 + 1.61 = 3.204
    ref = np.random.default_rng(0).standard_normal(16000)
    got = composite(ref, 0.5 * ref, 16000, pesq_value=2.0)
    assert got["csig"] == pytest.approx(4.299, abs=1e-6)
    assert got["cbak"] == pytest.approx(2.969298, abs=1e-5)
    assert got["covl"] == pytest.approx(3.204, abs=1e-6)
    assert llr(ref, 0.5 * ref, 16000) == pytest.approx(0.0, abs=1e-9)
    assert wss(ref, 0.5 * ref, 16000) == pytest.approx(0.0, abs=1e-9)


def test_identical_signals_hit_the_ceiling(dev_pairs):
    c, _, sr = dev_pairs["vbd_train_p287_001"]
    out = composite(torch.from_numpy(np.stack([c, c])), torch.from_numpy(np.stack([c, c])), sr)
    for k in ("csig", "cbak", "covl"):
        assert isinstance(out[k], torch.Tensor) and out[k].shape == (2,)
        torch.testing.assert_close(out[k], torch.full((2,), 5.0, dtype=torch.float64))
    c, n, sr = dev_pairs["dns3_0015"]
    assert csig(c, n, sr) == composite(c, n, sr)["csig"]
    assert cbak(c, n, sr) < 5 and covl(c, n, sr) < 5


def test_levinson_solves_the_normal_equations():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 480))
    r = np.stack([[np.dot(f[: 480 - k], f[k:]) for k in range(17)] for f in x])
    a = _levinson(r)
    for i in range(4):
        np.testing.assert_allclose(-a[i, 1:], solve_toeplitz(r[i, :16], r[i, 1:17]), rtol=1e-8, atol=1e-10)


def test_unscorable_clips(dev_pairs):
    c, n, sr = dev_pairs["dns3_0015"]
    with pytest.raises(MetricError, match="too short"):
        composite(c[:800], n[:800], sr)
    with pytest.raises(MetricError, match="estimate is silent"):
        composite(c, 0 * n, sr)
