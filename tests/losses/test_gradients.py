"""Every loss back-propagates finite gradients; gradcheck in float64 for SI-SDR and the compressed-spectrum loss."""

import pytest
import torch

from cspec.losses import (
    AntiWrappingPhaseLoss,
    ComplexMSELoss,
    CompressedSpectralLoss,
    ConsistencyLoss,
    MetricDiscriminator,
    MultiResolutionSTFTLoss,
    PITLoss,
    SDSDRLoss,
    SISDRLoss,
    SNRLoss,
    WeightedSDRLoss,
    compressed_spectral_loss,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    metricgan_generator_loss,
    si_sdr,
)
from cspec.spectral.stft import stft


def _finite_grad(leaf):
    assert leaf.grad is not None
    assert torch.isfinite(torch.view_as_real(leaf.grad) if leaf.grad.is_complex() else leaf.grad).all()
    assert leaf.grad.abs().sum() > 0


G = torch.Generator().manual_seed(0)
REF = torch.randn(2, 3200, generator=G)
MIX = REF + torch.randn(2, 3200, generator=G)


@pytest.mark.parametrize("loss", [SISDRLoss(), SNRLoss(), SDSDRLoss(), MultiResolutionSTFTLoss()], ids=type)
def test_waveform_losses_backward(loss):
    est = (REF + 0.5 * torch.randn(2, 3200, generator=G)).requires_grad_()
    loss(est, REF).backward()
    _finite_grad(est)


def test_weighted_sdr_backward():
    est = (REF + 0.5 * torch.randn(2, 3200, generator=G)).requires_grad_()
    WeightedSDRLoss()(est, REF, MIX).backward()
    _finite_grad(est)


def test_mrstft_backward_with_silent_frames():
    est = torch.zeros(1, 3200).requires_grad_()  # log of the floored magnitude stays finite
    MultiResolutionSTFTLoss()(est, REF[:1]).backward()
    assert torch.isfinite(est.grad).all()


@pytest.mark.parametrize("loss", [ComplexMSELoss(), CompressedSpectralLoss(), AntiWrappingPhaseLoss()], ids=type)
def test_spectral_losses_backward(loss):
    ref = stft(REF, "mpsenet")
    est = (ref + 0.3 * torch.randn(ref.shape, generator=G, dtype=ref.dtype)).requires_grad_()
    loss(est, ref).backward()
    _finite_grad(est)


def test_compressed_loss_backward_with_zero_bins():
    ref = torch.randn(1, 5, 4, dtype=torch.complex64)
    est = torch.zeros(1, 5, 4, dtype=torch.complex64).requires_grad_()
    CompressedSpectralLoss()(est, ref).backward()
    assert torch.isfinite(torch.view_as_real(est.grad)).all()


def test_consistency_backward():
    est = torch.randn(2, 201, 33, generator=G, dtype=torch.complex64).requires_grad_()
    ConsistencyLoss("mpsenet", c=0.3)(est).backward()
    _finite_grad(est)


def test_pit_backward():
    est = torch.randn(2, 3, 800, generator=G).requires_grad_()
    ref = torch.randn(2, 3, 800, generator=G)
    loss, _ = PITLoss(SISDRLoss().pairwise)(est, ref)
    loss.backward()
    _finite_grad(est)


def test_adversarial_backward():
    torch.manual_seed(0)
    disc = MetricDiscriminator(ndf=4)
    clean = torch.rand(2, 32, 24)
    est = torch.rand(2, 32, 24).requires_grad_()
    d_est = disc(clean, est)
    feats = [[est * 2.0, est.mean(-1)]]
    total = (metricgan_generator_loss(d_est) + lsgan_generator_loss(d_est) + hinge_generator_loss(d_est)
             + lsgan_discriminator_loss(disc(clean, clean), d_est) + hinge_discriminator_loss(d_est, d_est)
             + feature_matching_loss([[torch.ones(2, 32, 24), torch.ones(2, 32)]], feats))
    total.backward()
    _finite_grad(est)
    for p in disc.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_gradcheck_si_sdr():
    g = torch.Generator().manual_seed(1)
    ref = torch.randn(2, 16, generator=g, dtype=torch.float64)
    est = (ref + 0.5 * torch.randn(2, 16, generator=g, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda e: si_sdr(e, ref), (est,))
    assert torch.autograd.gradcheck(lambda e: si_sdr(e, ref, zero_mean=True), (est,))


def test_gradcheck_compressed_spectral_loss():
    g = torch.Generator().manual_seed(2)
    ref = torch.randn(2, 5, 4, generator=g, dtype=torch.complex128)
    est = torch.randn(2, 5, 4, generator=g, dtype=torch.complex128).requires_grad_()
    assert torch.autograd.gradcheck(lambda e: compressed_spectral_loss(e, ref), (est,))
