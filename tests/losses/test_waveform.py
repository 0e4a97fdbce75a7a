"""SI-SDR against torchmetrics; SNR / SD-SDR / weighted SDR against values worked by hand."""

import math

import pytest
import torch
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as tm_si_sdr

from cspec.errors import ConfigError
from cspec.losses import (
    SDSDRLoss,
    SISDRLoss,
    SNRLoss,
    WeightedSDRLoss,
    pairwise,
    sd_sdr,
    si_sdr,
    snr,
    weighted_sdr,
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("zero_mean", [False, True])
def test_si_sdr_matches_torchmetrics(dtype, zero_mean):
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(4, 3, 1000, generator=g, dtype=dtype)
    est = ref + 0.3 * torch.randn(4, 3, 1000, generator=g, dtype=dtype) + 0.1  # with an offset
    noise = torch.randn(4, 3, 1000, generator=g, dtype=dtype)
    for e in (est, noise, 2.5 * est):
        ours = si_sdr(e, ref, zero_mean=zero_mean)
        theirs = tm_si_sdr(e, ref, zero_mean=zero_mean)
        assert ours.shape == (4, 3)
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


def test_hand_worked_values():
    ref = torch.tensor([1.0, 0.0], dtype=torch.float64)
    half = 0.5 * ref
    # est = 0.5 ref: ||ref||^2 / ||0.5 ref||^2 = 4 -> 6.0206 dB; SD-SDR: ||0.5 ref||^2 / ||0.5 ref||^2 = 1 -> 0 dB
    assert snr(half, ref).item() == pytest.approx(10 * math.log10(4), abs=1e-9)
    assert sd_sdr(half, ref).item() == pytest.approx(0.0, abs=1e-9)
    # est = [0.5, 0.5]: alpha = 0.5, target = [0.5, 0], error to target = [0, 0.5], error to ref = [-0.5, 0.5]
    est = torch.tensor([0.5, 0.5], dtype=torch.float64)
    assert si_sdr(est, ref).item() == pytest.approx(0.0, abs=1e-9)  # 0.25 / 0.25
    assert snr(est, ref).item() == pytest.approx(10 * math.log10(1 / 0.5), abs=1e-9)  # +3.0103 dB
    assert sd_sdr(est, ref).item() == pytest.approx(10 * math.log10(0.25 / 0.5), abs=1e-9)  # -3.0103 dB


def test_weighted_sdr_hand_worked():
    y = torch.tensor([1.0, 0.0], dtype=torch.float64)
    mix = torch.tensor([1.0, 1.0], dtype=torch.float64)  # noise z = [0, 1], alpha = 1 / (1 + 1) = 0.5
    # perfect estimate: both cosines are 1
    assert weighted_sdr(y, y, mix).item() == pytest.approx(-1.0, abs=1e-7)
    # est = [1, 0.5]: cos(y, est) = 1/sqrt(1.25); z_hat = [0, 0.5] is parallel to z: cos = 1
    est = torch.tensor([1.0, 0.5], dtype=torch.float64)
    assert weighted_sdr(est, y, mix).item() == pytest.approx(-0.5 / math.sqrt(1.25) - 0.5, abs=1e-7)
    # no enhancement (est = mix): cos(y, mix) = 1/sqrt(2); z_hat = 0 contributes 0
    assert weighted_sdr(mix, y, mix).item() == pytest.approx(-0.5 / math.sqrt(2), abs=1e-7)
    assert WeightedSDRLoss()(est[None], y[None], mix[None]).item() == pytest.approx(-0.5 / math.sqrt(1.25) - 0.5, abs=1e-7)


def test_invariances_and_loss_modules():
    g = torch.Generator().manual_seed(1)
    ref = torch.randn(3, 500, generator=g, dtype=torch.float64)
    est = ref + 0.5 * torch.randn(3, 500, generator=g, dtype=torch.float64)
    torch.testing.assert_close(si_sdr(7.0 * est, ref), si_sdr(est, ref))
    assert torch.all(sd_sdr(7.0 * est, ref) < sd_sdr(est, ref))  # scale-dependent: penalised
    assert torch.all(sd_sdr(est, ref) <= si_sdr(est, ref) + 1e-9)
    loss = SISDRLoss()(est, ref)
    torch.testing.assert_close(loss, -si_sdr(est, ref, zero_mean=True).mean())
    torch.testing.assert_close(SNRLoss(reduction="sum")(est, ref), -snr(est, ref, zero_mean=True).sum())
    assert SDSDRLoss(reduction="none")(est, ref).shape == (3,)


def test_pairwise_matrix_matches_loop():
    g = torch.Generator().manual_seed(2)
    est, ref = torch.randn(2, 3, 200, generator=g), torch.randn(2, 3, 200, generator=g)
    m = SISDRLoss().pairwise(est, ref)
    assert m.shape == (2, 3, 3)
    for i in range(3):
        for j in range(3):
            torch.testing.assert_close(m[:, i, j], -si_sdr(est[:, i], ref[:, j], zero_mean=True))
    torch.testing.assert_close(pairwise(snr, est, ref)[:, 1, 2], snr(est[:, 1], ref[:, 2]))


def test_user_errors():
    with pytest.raises(ConfigError, match="same length"):
        si_sdr(torch.randn(2, 100), torch.randn(2, 99))
    with pytest.raises(ConfigError, match="do not match"):
        snr(torch.randn(2, 100), torch.randn(3, 100))
    with pytest.raises(ConfigError, match="reduction"):
        SISDRLoss(reduction="avg")
    with pytest.raises(ConfigError, match="real floating"):
        si_sdr(torch.randn(2, 100, dtype=torch.complex64), torch.randn(2, 100))
