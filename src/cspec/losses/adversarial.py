"""Adversarial objectives: least-squares and hinge GAN losses, feature matching, MetricGAN.

Discriminator outputs may be one tensor or a list of tensors (one per sub-discriminator, as in MelGAN's
multi-scale and HiFi-GAN's multi-period discriminators); the losses sum over the list and average within
each output. Feature maps for feature matching are a list (per discriminator) of lists (per layer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError

__all__ = [
    "lsgan_generator_loss", "lsgan_discriminator_loss", "hinge_generator_loss", "hinge_discriminator_loss",
    "feature_matching_loss", "normalize_pesq", "metricgan_generator_loss", "metricgan_discriminator_loss",
    "LearnableSigmoid", "MetricDiscriminator",
]


def _outputs(x, what: str) -> list[torch.Tensor]:
    items = [x] if torch.is_tensor(x) else list(x)
    if not items or not all(torch.is_tensor(t) and t.is_floating_point() for t in items):
        raise ConfigError(f"{what} expects a real tensor or a non-empty list of real tensors (discriminator outputs)")
    return items


def _pairs(real, fake, what: str):
    r, f = _outputs(real, what), _outputs(fake, what)
    if len(r) != len(f):
        raise ConfigError(f"{what}: {len(r)} real outputs but {len(f)} fake ones; pass one per discriminator")
    return zip(r, f)


def lsgan_generator_loss(fake) -> torch.Tensor:
    """Least-squares GAN generator loss (Mao et al. 2017, eq. 2 with c = 1): ``sum_k mean (D_k(G(z)) - 1)^2``."""
    return sum((d - 1).square().mean() for d in _outputs(fake, "lsgan_generator_loss"))


def lsgan_discriminator_loss(real, fake) -> torch.Tensor:
    """Least-squares GAN discriminator loss (Mao et al. 2017, eq. 2 with a = 0, b = 1):
    ``sum_k mean (D_k(x) - 1)^2 + mean D_k(G(z))^2`` (pass detached fake outputs)."""
    return sum((r - 1).square().mean() + f.square().mean() for r, f in _pairs(real, fake, "lsgan_discriminator_loss"))


def hinge_generator_loss(fake) -> torch.Tensor:
    """Hinge GAN generator loss (Lim & Ye 2017; MelGAN, Kumar et al. 2019, eq. 2): ``sum_k -mean D_k(G(s))``."""
    return sum(-d.mean() for d in _outputs(fake, "hinge_generator_loss"))


def hinge_discriminator_loss(real, fake) -> torch.Tensor:
    """Hinge GAN discriminator loss (MelGAN, Kumar et al. 2019, eq. 1):
    ``sum_k mean relu(1 - D_k(x)) + mean relu(1 + D_k(G(s)))``."""
    return sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in _pairs(real, fake, "hinge_discriminator_loss"))


def feature_matching_loss(real_feats, fake_feats) -> torch.Tensor:
    """Feature matching loss (MelGAN, Kumar et al. 2019, eq. 3): ``sum_k sum_i 1/N_i || D_k^(i)(x) - D_k^(i)(G(s)) ||_1``.

    ``real_feats[k][i]`` is layer ``i`` of discriminator ``k`` on real audio (detached here: only the generator
    learns from it); a flat list of layers counts as one discriminator. MelGAN weights it by lambda = 10.
    """
    if real_feats and torch.is_tensor(real_feats[0]):
        real_feats, fake_feats = [real_feats], [fake_feats]
    if len(real_feats) == 0 or len(real_feats) != len(fake_feats):
        raise ConfigError("feature_matching_loss needs the same, non-zero number of discriminators for real and fake")
    total = 0.0
    for r_layers, f_layers in zip(real_feats, fake_feats):
        if len(r_layers) != len(f_layers):
            raise ConfigError(f"feature maps: {len(r_layers)} real layers but {len(f_layers)} fake layers")
        for r, f in zip(r_layers, f_layers):
            if r.shape != f.shape:
                raise ConfigError(f"feature map shapes differ: {tuple(r.shape)} vs {tuple(f.shape)}")
            total = total + (r.detach() - f).abs().mean()
    return total


def normalize_pesq(score, low: float = 1.0, high: float = 4.5):
    """PESQ mapped to ``[0, 1]``: ``(score - low) / (high - low)``.

    The defaults (1, 4.5) are those of CMGAN and MP-SENet's ``batch_pesq`` (``(pesq - 1) / 3.5``, wide-band PESQ);
    MetricGAN (Fu et al. 2019) maps the full PESQ range [-0.5, 4.5]: ``low=-0.5``.
    """
    if not high > low:
        raise ConfigError(f"normalize_pesq needs high > low, got low={low}, high={high}")
    return (score - low) / (high - low)


def metricgan_discriminator_loss(d_clean: torch.Tensor, d_est: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    """MetricGAN discriminator loss (Fu, Liao, Tsao & Lin 2019, ICML; CMGAN / MP-SENet form):

        L_D = mean (D(y, y) - 1)^2 + mean (D(y, y_hat) - Q'(y_hat, y))^2

    ``d_clean = D(clean, clean)``, ``d_est = D(clean, est.detach())``, ``score`` the normalised metric
    ``Q'`` of each estimate (:func:`normalize_pesq` of PESQ from :mod:`cspec.metrics`), all of shape ``(batch,)``.
    """
    d_clean, d_est = d_clean.reshape(-1), d_est.reshape(-1)
    score = torch.as_tensor(score, dtype=d_est.dtype, device=d_est.device).reshape(-1)
    if d_clean.shape != d_est.shape or score.shape != d_est.shape:
        raise ConfigError(
            f"metricgan_discriminator_loss: D(clean, clean) {tuple(d_clean.shape)}, D(clean, est) "
            f"{tuple(d_est.shape)} and scores {tuple(score.shape)} must all be (batch,)"
        )
    return (d_clean - 1).square().mean() + (d_est - score).square().mean()


def metricgan_generator_loss(d_est: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """MetricGAN generator loss (Fu et al. 2019): ``mean (D(y, G(x)) - s)^2`` with ``s = 1`` (the best score).

    CMGAN weights it 0.05 and MP-SENet 0.05 in their generator losses.
    """
    return (d_est.reshape(-1) - target).square().mean()


class LearnableSigmoid(nn.Module):
    """``beta * sigmoid(slope * x)`` with a learnable ``slope`` per feature (Fu et al. 2021, MetricGAN+; CMGAN)."""

    def __init__(self, features: int = 1, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta
        self.slope = nn.Parameter(torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.beta * torch.sigmoid(self.slope * x)


class MetricDiscriminator(nn.Module):
    """Metric discriminator of CMGAN (Cao et al. 2022) and MP-SENet (Lu et al. 2023), after MetricGAN (Fu et al. 2019).

    Four blocks of spectral-normalised Conv2d (kernel 4, stride 2, padding 1, no bias), InstanceNorm2d (affine)
    and PReLU with ``ndf, 2 ndf, 4 ndf, 8 ndf`` channels (``ndf = 16``), global max pooling, then
    Linear(8 ndf -> 4 ndf), Dropout(0.3), PReLU, Linear(4 ndf -> 1) (spectral norm) and a learnable sigmoid:
    a predicted normalised score in ``[0, 1]``.

    ``forward(clean_mag, est_mag)`` takes two real magnitudes (the papers use the compressed ``|X|^0.3``) of shape
    ``(batch, freq, frames)`` or ``(batch, 1, freq, frames)`` and returns ``(batch,)``. Inputs need at least
    16 bins and 16 frames, one of them 32 or more (four halvings, then instance norm over 2+ positions).
    """

    def __init__(self, ndf: int = 16, in_channels: int = 2, dropout: float = 0.3) -> None:
        super().__init__()
        if ndf < 1 or in_channels < 1:
            raise ConfigError(f"MetricDiscriminator needs ndf >= 1 and in_channels >= 1, got {ndf}, {in_channels}")
        sn = nn.utils.parametrizations.spectral_norm
        layers: list[nn.Module] = []
        chans = [in_channels, ndf, 2 * ndf, 4 * ndf, 8 * ndf]
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            layers += [sn(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)), nn.InstanceNorm2d(c_out, affine=True),
                       nn.PReLU(c_out)]
        layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), sn(nn.Linear(8 * ndf, 4 * ndf)), nn.Dropout(dropout),
                   nn.PReLU(4 * ndf), sn(nn.Linear(4 * ndf, 1)), LearnableSigmoid(1)]
        self.layers = nn.Sequential(*layers)
        self.in_channels = in_channels

    @staticmethod
    def _four_d(x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x) or x.is_complex() or x.dim() not in (3, 4):
            raise ConfigError("MetricDiscriminator takes real magnitudes (batch, [1,] freq, frames); use spec.abs()")
        return x.unsqueeze(1) if x.dim() == 3 else x

    def forward(self, clean_mag: torch.Tensor, est_mag: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self._four_d(clean_mag), self._four_d(est_mag)], dim=1)
        if x.shape[1] != self.in_channels:
            raise ConfigError(f"MetricDiscriminator built for {self.in_channels} channels, got {x.shape[1]}")
        h, w = x.shape[-2:]
        for _ in range(4):  # kernel 4, stride 2, padding 1 halves each side (rounding down)
            h, w = (h - 2) // 2 + 1, (w - 2) // 2 + 1
        if h < 1 or w < 1 or h * w < 2:
            raise ConfigError(
                f"MetricDiscriminator needs at least 16 bins and 16 frames, one of them 32 or more (instance norm "
                f"needs 2 positions after four halvings), got {tuple(x.shape[-2:])}"
            )
        return self.layers(x).reshape(-1)
