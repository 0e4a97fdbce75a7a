"""DNSMOS through speechmos: the same numbers as speechmos itself, offline, with reasons for bad clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cspec.metrics import MetricError, dnsmos


def test_dnsmos_equals_speechmos(dev_pairs):
    from speechmos import dnsmos as sm

    for name in ["dns3_0015", "vbd_train_p287_001"]:  # 5 s and 2 s (repeated to 9.01 s by DNSMOS)
        _, noisy, sr = dev_pairs[name]
        ours = dnsmos(noisy, sr)
        ref = sm.run(noisy, sr)
        for key, theirs in [("dnsmos_sig", "sig_mos"), ("dnsmos_bak", "bak_mos"), ("dnsmos_ovrl", "ovrl_mos"),
                            ("dnsmos_p808", "p808_mos")]:
            assert ours[key] == pytest.approx(float(ref[theirs]), abs=1e-6)
            assert 1.0 <= ours[key] <= 5.0


def test_dnsmos_clean_scores_above_noisy_and_batches(dev_pairs):
    clean, noisy, sr = dev_pairs["dns3_0015"]
    out = dnsmos(torch.from_numpy(np.stack([clean, noisy])), sr)
    assert out["dnsmos_ovrl"].shape == (2,)
    assert out["dnsmos_bak"][0] > out["dnsmos_bak"][1] + 1.0  # the noisy copy has a far worse background


def test_dnsmos_reasons():
    with pytest.raises(MetricError, match="silent"):
        dnsmos(np.zeros(16000), 16000)
    with pytest.raises(MetricError, match="full scale"):
        dnsmos(np.full(16000, 1.5), 16000)
