"""Learned phase retrieval: a trained phase model behind :func:`cspec.phase.reconstruct` (``method="learned"``).

A learned phase model is trained for one STFT (the magnitudes it reads); the bundled ``phase`` is a family of
them, one model folder per STFT preset in ``pretrained/phase/<preset>/`` (each loaded by
:func:`cspec.models.load`, the one loader), with one model card. :class:`LearnedPhase` picks the member whose
STFT equals the caller's and refuses any other STFT in one line that names those it supports.

Two kinds of model (:mod:`cspec.models`):

* a direct predictor (``nspp``, Ai & Ling 2023): its phase starts ``n_iter`` iterations of fast Griffin-Lim
  (Perraudin et al. 2013; ``n_iter = 0``: the prediction as it is), the hybrid of the issue;
* Deep Griffin-Lim iteration (``degli``, Masuyama et al. 2019/2021): ``n_iter`` DeGLI blocks from a zero phase.

Memory: the predictor runs over blocks of ``block`` frames with its receptive field of context on each side, so
the phase of a long magnitude is exact (the same as in one pass) and the peak memory is a block's; the fast
Griffin-Lim part on long signals runs block by block in :class:`cspec.phase.BlockReconstructor`, which takes this
predictor as its initial phase.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch

from cspec.errors import ConfigError
from cspec.spectral.stft import PRESETS, STFTConfig, get_preset, istft

__all__ = ["LearnedPhase", "learned_reconstruct"]


def _key(cfg: STFTConfig) -> tuple:
    """What must match between the model's STFT and the caller's (the paper note aside)."""
    d = asdict(cfg)
    d.pop("source", None)
    d.pop("compress", None)
    d.pop("compress_scale", None)
    d["win_length"] = cfg.win
    return tuple(sorted(d.items()))


def _name(cfg: STFTConfig) -> str:
    for name, preset in PRESETS.items():
        if _key(preset) == _key(cfg):
            return name
    return f"n_fft {cfg.n_fft} / hop {cfg.hop_length} / {cfg.window}"


class LearnedPhase:
    """A learned phase model family: one trained model per STFT. See the module docstring.

    Args:
        models: the trained models (``nspp`` or ``degli``), each with its ``stft_config``.
        block: frames per pass of the predictor on long magnitudes.
    """

    def __init__(self, models, block: int = 2000) -> None:
        self.models = {}
        for m in models:
            self.models[_key(m.stft_config)] = m.eval()
        if not self.models:
            raise ConfigError("a learned phase model needs at least one trained model")
        self.block = int(block)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike = "phase", **kwargs) -> "LearnedPhase":
        """The bundled family (``"phase"``), a family folder (sub-folders of model folders) or one model folder."""
        from cspec.infer.resolve import locate
        from cspec.models import load

        path = locate(name_or_path, family=True)
        if (path / "config.json").is_file():
            folders = [path]
        else:
            folders = sorted(p for p in path.iterdir() if (p / "config.json").is_file()) if path.is_dir() else []
        if not folders:
            raise ConfigError(f"{path}: no model folder (config.json + model.safetensors) in it")
        models = [load(f) for f in folders]
        for f, m in zip(folders, models):
            if not hasattr(m, "predict_phase") and not hasattr(m, "iterate"):
                raise ConfigError(f"{f}: model '{m.name}' is not a phase model (nspp or degli)")
        return cls(models, **kwargs)

    @property
    def supported(self) -> list[str]:
        """The STFTs this family was trained for (preset names where one matches)."""
        return [_name(m.stft_config) for m in self.models.values()]

    def model_for(self, config: STFTConfig | str):
        """The member trained for ``config``, or a one-line :class:`ConfigError` naming the supported STFTs."""
        cfg = get_preset(config)
        model = self.models.get(_key(cfg))
        if model is None:
            raise ConfigError(f"the learned phase model was trained for {', '.join(self.supported)} only, not "
                              f"{_name(cfg)}; use one of those STFTs or a classical method (pghi+fgla)")
        return model

    def phase(self, magnitude: torch.Tensor, config: STFTConfig | str) -> torch.Tensor:
        """The predicted phase ``(..., freq, frames)`` of a direct predictor, over blocks of frames (exact)."""
        model = self.model_for(config)
        if not hasattr(model, "predict_phase"):
            raise ConfigError(f"model '{model.name}' iterates (DeGLI); it predicts no phase on its own")
        ctx, n = model.receptive_field(), magnitude.shape[-1]
        mag = magnitude.to(torch.float32)
        with torch.inference_mode():
            if n <= self.block + 2 * ctx:
                return model.predict_phase(mag)
            parts = []
            for a in range(0, n, self.block):
                b = min(n, a + self.block)
                lo, hi = max(0, a - ctx), min(n, b + ctx)
                parts.append(model.predict_phase(mag[..., lo:hi])[..., a - lo: a - lo + (b - a)])
            return torch.cat(parts, dim=-1)

    def reconstruct(self, magnitude: torch.Tensor, config: STFTConfig | str, n_iter: int | None = None,
                    length: int | None = None, momentum: float = 0.99) -> torch.Tensor:
        """The waveform ``(..., samples)`` of ``magnitude`` ``(..., freq, frames)`` (see the module docstring)."""
        from cspec.phase.api import LEARNED_ITERS
        from cspec.phase.griffin_lim import check_magnitude, fast_griffin_lim, signal_length

        cfg = get_preset(config)
        model = self.model_for(cfg)
        mag = check_magnitude(magnitude, cfg)
        iters = LEARNED_ITERS if n_iter is None else int(n_iter)
        if iters < 0:
            raise ConfigError(f"n_iter must be >= 0, got {n_iter}")
        if hasattr(model, "predict_phase"):
            phase = self.phase(mag, cfg).to(mag.dtype)
            return fast_griffin_lim(mag, iters, cfg, length, momentum=momentum, init=phase)
        n = signal_length(mag.shape[-1], cfg, length)
        with torch.inference_mode():
            spec = model.iterate(mag.to(torch.float32), torch.zeros_like(mag, dtype=torch.float32), iters, n)
        return istft(spec, cfg, n).to(mag.dtype)


_CACHE: dict[str, LearnedPhase] = {}


def learned_reconstruct(magnitude: torch.Tensor, config: STFTConfig | str, n_iter: int | None = None,
                        length: int | None = None, momentum: float = 0.99,
                        model: str | os.PathLike | LearnedPhase = "phase") -> torch.Tensor:
    """:meth:`LearnedPhase.reconstruct` with a model by name or folder (loaded once per process)."""
    if not isinstance(model, LearnedPhase):
        key = str(model)
        if key not in _CACHE:
            _CACHE[key] = LearnedPhase.from_pretrained(model)
        model = _CACHE[key]
    return model.reconstruct(magnitude, config, n_iter, length, momentum)
