"""PESQ and STOI equal the reference packages on the real dev pairs, given the canonical preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pesq import pesq as pesq_ref
from pystoi import stoi as stoi_ref

from cspec.audio import resample
from cspec.metrics import MetricError, estoi, pesq_nb, pesq_wb, stoi


def test_pesq_wb_equals_pesq_package_on_dev_pairs(dev_pairs):
    ours = [pesq_wb(c, n, sr) for c, n, sr in dev_pairs.values()]
    theirs = [pesq_ref(16000, c, n, "wb") for c, n, _ in dev_pairs.values()]
    assert ours == theirs  # exactly: same signals, same C code
    assert 1.0 < min(ours) and max(ours) < 4.65


def test_pesq_nb_equals_pesq_package(dev_pairs):
    for c, n, sr in list(dev_pairs.values())[::5]:
        assert pesq_nb(c, n, sr) == pesq_ref(16000, c, n, "nb")


def test_stoi_equals_pystoi_on_dev_pairs(dev_pairs):
    # canonical preprocessing: soxr VHQ to 10 kHz first, so pystoi's own resampler is never used
    for i, (c, n, sr) in enumerate(dev_pairs.values()):
        c10 = resample(torch.from_numpy(c), sr, 10000).numpy()
        n10 = resample(torch.from_numpy(n), sr, 10000).numpy()
        ours = stoi(c, n, sr)
        # equal to the last bits (numpy may sum in another order for another memory alignment)
        assert ours == pytest.approx(stoi_ref(c10, n10, 10000), abs=1e-12)
        if i % 5 == 0:  # within 0.01 of pystoi resampling internally (the size of the resampler effect)
            assert abs(ours - stoi_ref(c, n, sr)) < 0.01


def test_estoi_equals_pystoi_extended(dev_pairs):
    for c, n, sr in list(dev_pairs.values())[::5]:
        c10 = resample(torch.from_numpy(c), sr, 10000).numpy()
        n10 = resample(torch.from_numpy(n), sr, 10000).numpy()
        assert estoi(c, n, sr) == pytest.approx(stoi_ref(c10, n10, 10000, extended=True), abs=1e-12)


def test_batched_tensor_input_keeps_shape_and_kind(dev_pairs):
    c, n, sr = dev_pairs["dns3_0015"]
    ref = torch.from_numpy(np.stack([c, c]))
    est = torch.from_numpy(np.stack([n, c]))
    out = pesq_wb(ref, est, sr)
    assert isinstance(out, torch.Tensor) and out.shape == (2,)
    assert out[0].item() == pesq_ref(16000, c, n, "wb")
    assert out[1].item() == pytest.approx(4.644, abs=1e-3)  # identical signals: the P.862.2 ceiling
    assert isinstance(stoi(c, n, sr), float)


def test_resampled_input_uses_soxr_once(dev_pairs):
    # a 48 kHz pair is brought to 16 kHz by soxr VHQ: the score equals PESQ of the soxr-resampled signals
    c, n, sr = dev_pairs["vbd_train_p287_001"]
    c48 = resample(torch.from_numpy(c), sr, 48000)
    n48 = resample(torch.from_numpy(n), sr, 48000)
    expect = pesq_ref(16000, resample(c48, 48000, 16000).numpy(), resample(n48, 48000, 16000).numpy(), "wb")
    assert pesq_wb(c48, n48, 48000).item() == expect
    assert abs(expect - pesq_ref(16000, c, n, "wb")) < 0.05


def test_unscorable_clips_raise_with_reason(dev_pairs):
    c, n, sr = dev_pairs["dns3_0015"]
    with pytest.raises(MetricError, match="too short: 0.050 s"):
        pesq_wb(c[:800], n[:800], sr)
    with pytest.raises(MetricError, match="reference is silent"):
        pesq_wb(0 * c, n, sr)
    with pytest.raises(MetricError, match="estimate is silent"):
        pesq_wb(c, 0 * n, sr)
    with pytest.raises(MetricError, match="NaN"):
        stoi(c, np.where(np.arange(len(n)) == 5, np.nan, n), sr)
    with pytest.raises(MetricError, match="30 frames"):
        stoi(c[:3000], n[:3000], sr)
    for extended in (False, True):  # pystoi gave 0 (STOI) and a different small number on each call (ESTOI)
        with pytest.raises(MetricError, match="estimate is silent"):
            stoi(c, 0 * n, sr, extended=extended)
    with pytest.raises(MetricError, match="mode"):
        from cspec.metrics import pesq

        pesq(c, n, sr, mode="xx")
