"""GAN losses against hand-worked values; the MetricGAN discriminator's shape, range and size."""

import pytest
import torch

from cspec.errors import ConfigError
from cspec.losses import (
    MetricDiscriminator,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    metricgan_discriminator_loss,
    metricgan_generator_loss,
    normalize_pesq,
)

T = torch.tensor


def test_least_squares_hand_worked():
    real, fake = T([1.0, 0.5]), T([0.0, 0.5])
    # D: mean((1-1)^2, (0.5-1)^2) + mean(0^2, 0.5^2) = 0.125 + 0.125
    assert lsgan_discriminator_loss(real, fake).item() == pytest.approx(0.25)
    # G: mean((0-1)^2, (0.5-1)^2) = 0.625
    assert lsgan_generator_loss(fake).item() == pytest.approx(0.625)
    # two discriminators: the sum
    assert lsgan_generator_loss([fake, T([1.0])]).item() == pytest.approx(0.625)
    assert lsgan_discriminator_loss([real, real], [fake, fake]).item() == pytest.approx(0.5)


def test_hinge_hand_worked():
    real, fake = T([2.0, 0.5]), T([-2.0, 0.0])
    # relu(1 - real) = [0, 0.5] -> 0.25; relu(1 + fake) = [0, 1] -> 0.5
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.75)
    assert hinge_generator_loss(fake).item() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="one per discriminator"):
        hinge_discriminator_loss([real], [fake, fake])


def test_feature_matching_hand_worked():
    real = [[torch.ones(2, 3), torch.zeros(4)], [torch.full((5,), 3.0)]]
    fake = [[torch.zeros(2, 3, requires_grad=True), torch.full((4,), 2.0, requires_grad=True)],
            [torch.full((5,), 2.5, requires_grad=True)]]
    loss = feature_matching_loss(real, fake)
    assert loss.item() == pytest.approx(1.0 + 2.0 + 0.5)
    loss.backward()
    torch.testing.assert_close(fake[0][0].grad, torch.full((2, 3), -1 / 6))  # d mean|1 - f| / df = -1/N
    flat = feature_matching_loss(real[0], [f.detach() for f in fake[0]])  # one discriminator, flat list
    assert flat.item() == pytest.approx(3.0)


def test_metricgan_losses_hand_worked():
    assert normalize_pesq(4.5) == pytest.approx(1.0)
    assert normalize_pesq(1.0) == pytest.approx(0.0)
    assert normalize_pesq(2.75) == pytest.approx(0.5)
    assert normalize_pesq(2.0, low=-0.5) == pytest.approx(0.5)
    d_clean, d_est, score = T([1.0, 0.8]), T([0.5, 0.2]), T([0.5, 0.4])
    # mean(0, 0.04) + mean(0, 0.04)
    assert metricgan_discriminator_loss(d_clean, d_est, score).item() == pytest.approx(0.04)
    # mean(0.25, 0.64)
    assert metricgan_generator_loss(d_est).item() == pytest.approx(0.445)
    with pytest.raises(ConfigError, match=r"\(batch,\)"):
        metricgan_discriminator_loss(d_clean, d_est, T([0.5]))


def test_metric_discriminator_architecture():
    torch.manual_seed(0)
    disc = MetricDiscriminator(ndf=16)
    # parameters of the CMGAN layout worked out by hand (conv weights 4x4, no bias; affine instance norms;
    # PReLU per channel; two linear layers; one sigmoid slope)
    chans = [2, 16, 32, 64, 128]
    convs = sum(a * b * 16 + 2 * b + b for a, b in zip(chans[:-1], chans[1:]))
    expected = convs + (128 * 64 + 64) + 64 + (64 + 1) + 1
    assert sum(p.numel() for p in disc.parameters()) == expected == 181650
    disc.eval()
    clean, est = torch.rand(3, 201, 40), torch.rand(3, 201, 40)
    out = disc(clean, est)
    assert out.shape == (3,)
    assert torch.all((out >= 0) & (out <= 1))
    torch.testing.assert_close(disc(clean[:, None], est[:, None]), out)
    with pytest.raises(ConfigError, match="16 bins"):
        disc(torch.rand(1, 8, 40), torch.rand(1, 8, 40))
    with pytest.raises(ConfigError, match="16 bins"):
        disc(torch.rand(1, 16, 16), torch.rand(1, 16, 16))
    with pytest.raises(ConfigError, match="real magnitudes"):
        disc(torch.rand(1, 201, 40, dtype=torch.complex64), torch.rand(1, 201, 40))

