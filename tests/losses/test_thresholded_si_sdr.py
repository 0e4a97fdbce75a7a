"""The soft-thresholded SI-SDR of MixIT / FUSS (Wisdom et al. 2020, 2021): torchmetrics' SI-SDR when the threshold
is far away, hand-worked values at the threshold and for silent references, and PIT through the training objective
with a silent reference."""

import math

import pytest
import torch
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as tm_si_sdr

from cspec.errors import ConfigError
from cspec.losses import ThresholdedSISDRLoss, build, thresholded_si_sdr
from cspec.spectral.stft import get_preset
from cspec.train.objective import Objective


def test_active_references_are_si_sdr_far_from_the_threshold():
    g = torch.Generator().manual_seed(1)
    ref = torch.randn(3, 2, 800, generator=g, dtype=torch.float64)
    est = 0.7 * ref + 0.2 * torch.randn(3, 2, 800, generator=g, dtype=torch.float64)
    mix = ref.sum(1, keepdim=True)
    ours = thresholded_si_sdr(est, ref, mix, snr_max=200.0)
    torch.testing.assert_close(ours, tm_si_sdr(est, ref, zero_mean=True), atol=1e-9, rtol=0)


def test_hand_worked_values_at_the_threshold_and_for_silence():
    # ref and an orthogonal error of a hundredth of its energy: SI-SDR 20 dB; with snr_max 20 the floor adds
    # another hundredth: 10 log10(1 / 0.02) = 16.9897 dB
    ref = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64) / 2
    err = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64) / 20
    mix = 2 * ref
    assert float(thresholded_si_sdr(ref + err, ref, mix, snr_max=20.0)) == pytest.approx(10 * math.log10(50), abs=1e-9)
    zero = torch.zeros(4, dtype=torch.float64)
    # silent reference, an output of a tenth of the mixture: 10 log10(1 / (0.01 + 0.001)) = 19.586 dB
    assert float(thresholded_si_sdr(0.1 * mix, zero, mix)) == pytest.approx(10 * math.log10(1 / 0.011), abs=1e-9)
    assert float(thresholded_si_sdr(zero, zero, mix)) == pytest.approx(30.0, abs=1e-9)  # perfect: snr_max
    assert float(thresholded_si_sdr(mix, zero, mix)) == pytest.approx(-10 * math.log10(1.001), abs=1e-9)
    loss = ThresholdedSISDRLoss(snr_max=20.0)
    assert float(loss(ref + err, ref, mix)) == pytest.approx(-10 * math.log10(50), abs=1e-9)
    with pytest.raises(ConfigError, match="snr_max"):
        ThresholdedSISDRLoss(snr_max=0)


def test_pit_through_the_objective_with_a_silent_reference():
    """One talker alone: PIT puts it in the output that holds it and asks the other output to be silent; the
    gradient is finite; the value is the mean of the two hand-computable terms."""
    g = torch.Generator().manual_seed(2)
    talker = torch.randn(2, 1600, generator=g)
    targets = torch.stack([torch.zeros_like(talker), talker], dim=1)  # source 0 silent
    out = torch.stack([talker + 0.1 * torch.randn(2, 1600, generator=g), 0.05 * talker], dim=1).requires_grad_()
    obj = Objective({"thresholded_si_sdr": 1.0}, {}, n_sources=2, stft_config=get_preset("mpsenet"), pit=True)
    total, values = obj({"wave": out}, {"targets": targets, "mixture": talker})
    expect = -(thresholded_si_sdr(out[:, 0], talker, talker) + thresholded_si_sdr(out[:, 1], targets[:, 0], talker))
    torch.testing.assert_close(total, expect.mean() / 2, atol=1e-5, rtol=0)
    total.backward()
    assert torch.isfinite(out.grad).all()
    pit = build("pit", loss="thresholded_si_sdr")
    value, perm = pit(out.detach(), targets, mix=talker)
    assert perm.tolist() == [[1, 0], [1, 0]]
    with pytest.raises(ConfigError, match="mixture"):
        ThresholdedSISDRLoss().pairwise(out, targets, talker[:, None])
