"""The training objective of a recipe: a weighted sum of losses from :func:`cspec.losses.build`.

``loss.weights`` names the terms and their weights, ``loss.options`` their keyword arguments. Each loss is fed
what it compares:

* waveform losses (``si_sdr``, ``snr``, ``sd_sdr``, ``multi_resolution_stft`` and losses registered by users):
  ``(estimate, reference)`` waveforms; ``weighted_sdr`` also gets the mixture, and so does ``waveform_l1`` with
  ``mixture_rms: true`` (enhancement models), and ``thresholded_si_sdr`` (separation, also under PIT);
* spectral losses (``complex_mse``, ``compressed_spectral``, ``phase``): the complex STFTs of both waveforms
  with the recipe's ``stft`` preset (the model's own by default);
* ``consistency``: the model's output spectrum ``out["spec"]``.

For separation (``model.n_sources > 1``, or ``loss.pit: true``) the first term is wrapped in
permutation-invariant training (:class:`cspec.losses.PITLoss`); its best permutation reorders the estimates
for the other terms. Adversarial losses belong to the ``discriminator`` section.
"""

from __future__ import annotations

import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.losses import build as build_loss
from cspec.losses import list_losses, reorder
from cspec.spectral.stft import STFTConfig, get_preset, stft
from cspec.train.recipe import unknown_key

__all__ = ["Objective", "loss_stft"]

_SPECTRAL = {"complex_mse", "compressed_spectral", "phase"}
_ADVERSARIAL = {"lsgan_generator", "lsgan_discriminator", "hinge_generator", "hinge_discriminator",
                "feature_matching", "metricgan_generator", "metricgan_discriminator", "pit"}
_WITH_MIXTURE = {"thresholded_si_sdr"}  # waveform losses that also take the mixture, under PIT too


def loss_stft(preset: str | None, model) -> STFTConfig:
    """The STFT of the spectral losses: the recipe's preset, else the model's, else ``mpsenet``'s."""
    if preset is not None:
        return get_preset(preset)
    return model.stft_config if model.stft_config is not None else get_preset("mpsenet")


class Objective(nn.Module):
    """``forward(out, batch) -> (total, {name: value})`` for a model output and a data batch."""

    def __init__(self, weights: dict, options: dict, n_sources: int, stft_config: STFTConfig,
                 pit: bool | None = None):
        super().__init__()
        if not weights:
            raise ConfigError("recipe key 'loss.weights' is empty: name at least one loss, e.g. {si_sdr: 1.0}")
        valid = [n for n in list_losses() if n not in _ADVERSARIAL]
        for name in options:
            if name not in weights:
                raise unknown_key(name, list(weights), "loss.options")
        self.pit = bool(pit) if pit is not None else n_sources > 1
        self.n_sources, self.stft_config = int(n_sources), stft_config
        self.names, self.weights = [], []
        self.terms = nn.ModuleList()
        for i, (name, weight) in enumerate(weights.items()):
            path = f"loss.weights.{name}"
            if name not in valid:
                if name in _ADVERSARIAL:
                    raise ConfigError(f"recipe key '{path}': adversarial losses are set in the 'discriminator' "
                                      "section, not in loss.weights")
                raise unknown_key(name, valid, "loss.weights", "loss")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise ConfigError(f"recipe key '{path}' must be a number (the term's weight), got {weight!r}")
            opts = dict(options.get(name) or {})
            try:
                if i == 0 and self.pit:
                    if name in _SPECTRAL or name in ("consistency", "weighted_sdr"):
                        raise ConfigError(f"the first loss is wrapped in PIT and must compare waveforms; put a "
                                          f"waveform loss (si_sdr, snr ...) before '{name}'")
                    term = build_loss("pit", loss=name, loss_kwargs=opts)
                else:
                    term = build_loss(name, **opts)
            except ConfigError as exc:
                raise ConfigError(f"recipe key 'loss.options.{name}': {exc}") from None
            self.names.append(name)
            self.weights.append(float(weight))
            self.terms.append(term)

    def _spec(self, wave: torch.Tensor) -> torch.Tensor:
        return stft(wave, self.stft_config)

    def forward(self, out: dict, batch: dict) -> tuple[torch.Tensor, dict]:
        est = out["wave"]
        targets = batch["targets"]
        mix = batch["mixture"]
        if self.n_sources > 1 or est.dim() == 3:
            ref = targets[:, : est.shape[1]]
        else:
            ref = targets[:, 0]
        if est.shape[-1] != ref.shape[-1]:
            raise ConfigError(f"the model returned {est.shape[-1]} samples for inputs of {ref.shape[-1]}")
        values, total = {}, est.new_zeros(())
        for i, (name, weight, term) in enumerate(zip(self.names, self.weights, self.terms)):
            if i == 0 and self.pit:
                extra = {"mix": mix.reshape(est.shape[0], -1)} if name in _WITH_MIXTURE else {}
                value, perm = term(est if est.dim() == 3 else est[:, None], ref if ref.dim() == 3 else ref[:, None],
                                   **extra)
                if est.dim() == 3:
                    est = reorder(est, perm)
            else:
                e, r = (est.flatten(0, 1), ref.flatten(0, 1)) if est.dim() == 3 else (est, ref)
                value = self._term(name, term, e, r, mix, out)
            values[name] = value.detach()
            total = total + weight * value
        return total, values

    def _term(self, name: str, term, est, ref, mix, out) -> torch.Tensor:
        if name in _SPECTRAL:
            return term(self._spec(est), self._spec(ref))
        if name == "weighted_sdr":
            if est.shape != mix.shape:
                raise ConfigError("weighted_sdr needs one estimate per mixture (enhancement models)")
            return term(est, ref, mix)
        if name == "waveform_l1" and term.mixture_rms:
            if est.shape != mix.shape:
                raise ConfigError("waveform_l1 with mixture_rms needs one estimate per mixture (enhancement models)")
            return term(est, ref, mix)
        if name in _WITH_MIXTURE:
            if est.shape[0] != mix.shape[0]:  # sources flattened into the batch: one mixture per source
                mix = mix.repeat_interleave(est.shape[0] // mix.shape[0], dim=0)
            return term(est, ref, mix)
        if name == "consistency":
            if "spec" not in out:
                raise ConfigError("the consistency loss needs a model that returns its spectrum ('spec')")
            return term(out["spec"], est.shape[-1])
        return term(est, ref)
