"""Generator / discriminator training in the engine: the MetricGAN discriminator of CMGAN and MP-SENet.

The discriminator ``D(clean_mag, est_mag)`` (:class:`cspec.losses.MetricDiscriminator`) sees compressed
magnitudes ``|X|^0.3`` of the recipe's STFT and learns to predict the normalised PESQ of the estimate
(MetricGAN, Fu et al. 2019, ICML; CMGAN, Cao et al. 2022, Interspeech; MP-SENet, Lu et al. 2023, Interspeech):

    L_D = mean (D(y, y) - 1)^2 + mean (D(y, y_hat) - Q'(y_hat, y))^2,      L_G,adv = mean (D(y, y_hat) - 1)^2

with ``Q' = (PESQ - 1) / 3.5`` (:func:`cspec.losses.normalize_pesq`). PESQ is computed on the CPU per item;
items where it cannot be computed (silence, too short) are left out of ``L_D`` (CMGAN drops the whole batch).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.losses import MetricDiscriminator, metricgan_discriminator_loss, metricgan_generator_loss, normalize_pesq
from cspec.spectral.stft import STFTConfig, stft
from cspec.train.schema import DiscriminatorSection

__all__ = ["MetricGAN"]


class MetricGAN(nn.Module):
    """The discriminator and its two losses for one recipe (``discriminator`` section)."""

    def __init__(self, section: DiscriminatorSection, stft_config: STFTConfig, sample_rate: int):
        super().__init__()
        try:
            self.disc = MetricDiscriminator(**section.options)
        except TypeError as exc:
            raise ConfigError(f"recipe key 'discriminator.options': {exc}") from None
        self.stft_config, self.sr, self.metric = stft_config, int(sample_rate), section.metric

    def mag(self, wave: torch.Tensor) -> torch.Tensor:
        """Compressed magnitude ``|STFT|^0.3`` of ``(batch, samples)``, as both papers feed the discriminator."""
        return stft(wave, self.stft_config).abs().clamp_min(1e-8).pow(0.3)

    def generator_loss(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return metricgan_generator_loss(self.disc(self.mag(ref), self.mag(est)))

    def scores(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """Normalised PESQ of each estimate (NaN where it cannot be computed)."""
        from cspec.metrics import evaluate

        values = evaluate(ref.detach().float().cpu().numpy(), est.detach().float().cpu().numpy(), self.sr,
                          [self.metric])[self.metric]
        return torch.as_tensor(normalize_pesq(np.asarray(values, dtype=np.float32)), device=est.device)

    def discriminator_loss(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor | None:
        """``L_D`` on the items with a score; ``None`` when no item has one."""
        score = self.scores(est, ref)
        keep = torch.isfinite(score)
        if not bool(keep.any()):
            return None
        ref_mag, est_mag = self.mag(ref[keep]), self.mag(est[keep].detach())
        return metricgan_discriminator_loss(self.disc(ref_mag, ref_mag), self.disc(ref_mag, est_mag), score[keep])
