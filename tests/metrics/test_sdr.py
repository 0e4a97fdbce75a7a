"""SI-SDR against torchmetrics, the scale by hand, SDR against mir_eval's bss_eval, SNR and segmental SNR against hand-worked values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as tm_si_sdr

from cspec.metrics import MetricError, evaluate, scale, sdr, seg_snr, si_sdr, snr
from cspec.metrics.sdr import loizou_frames


def _mir_eval_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    from mir_eval.separation import bss_eval_sources

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in mir_eval 0.8, still the reference
        return float(bss_eval_sources(ref[None], est[None], compute_permutation=False)[0][0])


@pytest.mark.parametrize("zero_mean", [False, True])
def test_si_sdr_equals_torchmetrics(dev_pairs, zero_mean):
    for c, n, _ in dev_pairs.values():
        ours = si_sdr(c, n, 16000, zero_mean=zero_mean)
        theirs = tm_si_sdr(torch.from_numpy(n), torch.from_numpy(c), zero_mean=zero_mean).item()
        assert ours == pytest.approx(theirs, abs=1e-4)


def test_si_sdr_batched_tensor_matches_rows():
    torch.manual_seed(0)
    ref = torch.randn(3, 2, 4000, dtype=torch.float64)
    est = ref + 0.3 * torch.randn(3, 2, 4000, dtype=torch.float64)
    out = si_sdr(ref, est, 16000)
    assert isinstance(out, torch.Tensor) and out.shape == (3, 2)
    torch.testing.assert_close(out, tm_si_sdr(est, ref), atol=1e-4, rtol=0)
    # scale invariance: SI-SDR of 5 * est is the same
    torch.testing.assert_close(si_sdr(ref, 5 * est, 16000), out, atol=1e-9, rtol=0)


def test_sdr_equals_mir_eval(dev_pairs):
    for name in ["dns3_0015", "vbd_train_p287_002", "pesq_speech_babble0db", "dns1_fileid_44"]:
        c, n, _ = dev_pairs[name]
        c, n = c[:32000], n[:32000]
        assert sdr(c, n, 16000) == pytest.approx(_mir_eval_sdr(c, n), abs=1e-2)


def test_sdr_forgives_a_short_filter_but_si_sdr_does_not():
    torch.manual_seed(1)
    ref = torch.randn(8000, dtype=torch.float64).numpy()
    ref[-8:] = 0  # so that cutting the filtered signal to 8000 samples loses nothing
    est = np.convolve(ref, [0.6, 0.3, -0.2])[:8000]  # a 3-tap filter: no error at all for BSS-eval SDR
    assert sdr(ref, est, 16000) > 100
    assert si_sdr(ref, est, 16000) < 10
    assert _mir_eval_sdr(ref, est) > 100


def test_snr_by_hand():
    t = np.arange(16000) / 16000
    ref = np.sin(2 * np.pi * 440 * t)  # power 1/2
    est = ref + 0.1 * np.sign(np.sin(2 * np.pi * 50 * t))  # error power 0.01 (a +-0.1 square wave)
    assert snr(ref, est, 16000) == pytest.approx(10 * np.log10(0.5 / 0.01), abs=1e-2)  # 16.99 dB
    assert snr(ref, 0 * ref, 16000) == pytest.approx(0.0, abs=1e-12)  # silent estimate: 0 dB, well defined


def test_seg_snr_by_hand_and_against_pysepm(dev_pairs, pysepm_quality):
    sr = 16000
    x = np.random.default_rng(0).standard_normal(sr)
    # error exactly 1/10 of the signal in every frame: 20 dB in each frame, so 20 dB on average
    assert seg_snr(x, 0.9 * x, sr) == pytest.approx(20.0, abs=1e-9)
    assert seg_snr(x, x, sr) == pytest.approx(35.0)  # clamped at the paper's ceiling
    assert seg_snr(x, -x, sr) == pytest.approx(10 * np.log10(1 / 4), abs=1e-9)  # -6.02 dB, within the clamp
    assert seg_snr(x, -20 * x, sr) == pytest.approx(-10.0)  # clamped at the floor
    for name in ["dns3_0015", "vbd_train_p287_003"]:
        c, n, _ = dev_pairs[name]
        assert seg_snr(c, n, sr) == pytest.approx(pysepm_quality.SNRseg(c, n, sr), abs=1e-9)


def test_loizou_framing():
    frames = loizou_frames(np.ones(1000), 16000)  # W = 480, skip = 120: floor(1000/120 - 4) = 4 frames
    assert frames.shape == (4, 480)
    w = 0.5 * (1 - np.cos(2 * np.pi * np.arange(1, 481) / 481))
    np.testing.assert_allclose(frames[2], w)


def test_silent_or_mismatched_inputs():
    x = np.random.default_rng(0).standard_normal(4000)
    with pytest.raises(MetricError, match="estimate is silent"):
        si_sdr(x, 0 * x, 16000)
    with pytest.raises(MetricError, match="reference is silent"):
        sdr(0 * x, x, 16000)
    assert si_sdr(x, x[:3000], 16000) == pytest.approx(si_sdr(x[:3000], x[:3000], 16000))  # 62.5 ms: cut
    with pytest.raises(MetricError, match="broadcast"):
        si_sdr(np.zeros((2, 10)) + 1, np.ones((3, 10)), 16000)


def test_scale_is_the_gain_and_sign_of_the_reference_in_the_estimate():
    # est = g ref + r with r orthogonal to ref: the least-squares gain is exactly g, whatever r's level
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(16000)
    resid = rng.standard_normal(16000)
    resid -= (resid @ ref) / (ref @ ref) * ref
    for g in (1.0, 0.5, -0.45):
        assert scale(ref, g * ref + 3 * resid, 16000) == pytest.approx(g, abs=1e-12)
        # SI-SDR cannot tell the sign: the same value for g and -g
        assert si_sdr(ref, g * ref + resid, 16000) == pytest.approx(si_sdr(ref, -g * ref + resid, 16000), abs=1e-9)
    assert evaluate(ref, -0.5 * ref, 16000, "scale")["scale"] == pytest.approx(-0.5, abs=1e-12)
    with pytest.raises(MetricError, match="silent"):
        scale(np.zeros(16000), ref, 16000)
