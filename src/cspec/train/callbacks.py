"""Callbacks of the engine: the EMA of the weights, and the run keeper (checkpoints, validation, export).

Both act after each training batch, in that order (the EMA is updated before a checkpoint saves it), on the
step count of :class:`~cspec.train.module.SpeechTask` (which survives a resume), not on Lightning's counters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from pathlib import Path

import lightning.pytorch as pl
import torch

from cspec.models.io import atomic_write_text
from cspec.models.io import save as save_model
from cspec.train.checkpoint import save_checkpoint
from cspec.train.validation import validate

__all__ = ["EMA", "RunKeeper"]

log = logging.getLogger("cspec.train")


def _same_buffers(model) -> None:
    """Give every process rank 0's buffers (batch-norm statistics are updated per process under DDP), so that
    each process validates the model that rank 0 saves."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        for buf in model.buffers():
            dist.broadcast(buf.data, src=0)


class EMA(pl.Callback):
    """Exponential moving average of the model's weights (Polyak & Juditsky 1992, averaging of iterates):
    after step ``s``, ``ema = d * ema + (1 - d) * w`` for ``s > start``, ``ema = w`` before, with ``d = decay``,
    or with ``warmup`` ``d = min(decay, (1 + t) / (10 + t))``, ``t = s - start`` (TensorFlow's
    ``ExponentialMovingAverage(num_updates=t)``). Integer buffers (counters) are copied."""

    def __init__(self, decay: float, start: int = 0, shadow: dict | None = None, warmup: bool = False):
        self.decay, self.start, self.shadow, self.warmup = float(decay), int(start), shadow, bool(warmup)

    def rate(self, step: int) -> float:
        """The decay used after ``step``."""
        t = step - self.start
        return min(self.decay, (1.0 + t) / (10.0 + t)) if self.warmup else self.decay

    def on_fit_start(self, trainer, pl_module) -> None:
        weights = pl_module.model.state_dict()
        if self.shadow is None:
            self.shadow = {k: v.detach().clone() for k, v in weights.items()}
        else:
            self.shadow = {k: self.shadow[k].to(device=v.device, dtype=v.dtype) for k, v in weights.items()}

    @torch.no_grad()
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        weights = pl_module.model.state_dict()
        step = pl_module.step
        d = self.rate(step)
        for k, w in weights.items():
            s = self.shadow[k]
            if step <= self.start or not w.is_floating_point() and not w.is_complex():
                s.copy_(w)
            else:
                s.mul_(d).add_(w.detach(), alpha=1.0 - d)

    @contextlib.contextmanager
    def applied(self, model):
        """Run a block with the EMA weights in ``model``, then restore the trained weights."""
        backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            model.load_state_dict(backup)


class RunKeeper(pl.Callback):
    """Checkpoints every ``checkpoint.every`` steps and at the end; validation every ``validation.every`` steps
    and at the end; the final model (EMA weights when the EMA is on) in ``<run>/model``; ``<run>/summary.json``.

    ``valid_loader(rank, world)`` makes the dev-set loader (``None`` when the recipe has no dev set).
    """

    def __init__(self, run_dir: str | Path, recipe, recipe_dict: dict, ema: EMA | None, valid_loader, metrics):
        self.run_dir, self.recipe, self.recipe_dict = Path(run_dir), recipe, recipe_dict
        # the scale (level and polarity of the estimate) is always scored: every quality metric is blind to it
        metrics = tuple(metrics) + (() if "scale" in metrics else ("scale",))
        self.ema, self.make_valid, self.metrics = ema, valid_loader, metrics
        self.loader, self.scores, self.summary = None, {}, {}

    def _validate(self, trainer, pl_module) -> None:
        if self.make_valid is None:
            return
        if self.loader is None:
            self.loader = self.make_valid(trainer.global_rank, trainer.world_size)
        ema = self.ema if (self.ema is not None and self.recipe.validation.use_ema) else None
        ctx = ema.applied(pl_module.model) if ema is not None else contextlib.nullcontext(pl_module.model)
        with ctx as model:
            _same_buffers(model)
            self.scores = validate(model, self.loader, self.metrics, pl_module.model.sample_rate, pl_module.device,
                                   reduce=lambda t: trainer.strategy.reduce(t, reduce_op="sum"))
        step = pl_module.step
        if trainer.is_global_zero:
            text = ", ".join(f"{k} {v:.3f}" for k, v in self.scores.items())
            log.info("step %d: validation %s", step, text)
            if self.scores.get("scale", math.nan) < 0:
                log.warning("step %d: the estimates are inverted (mean scale %.2f on the dev set): the model outputs "
                            "the speech times a negative gain, which PESQ, STOI and SI-SDR cannot see; a real mask "
                            "can converge there (see GTCRN.negate_mask)", step, self.scores["scale"])
            if pl_module.logger is not None:
                pl_module.logger.log_metrics({f"valid/{k}": v for k, v in self.scores.items()
                                              if math.isfinite(v)}, step=step)

    def _save(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        state = {"recipe": self.recipe_dict, "training": pl_module.training_state(),
                 "ema": self.ema.shadow if self.ema is not None else None, "valid": self.scores}
        save_checkpoint(self.run_dir, pl_module.step, pl_module.model, state, keep=self.recipe.checkpoint.keep)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step, r = pl_module.step, self.recipe
        if step >= r.trainer.max_steps:
            return  # the end is handled by on_train_end
        if r.validation.every and step % r.validation.every == 0:
            self._validate(trainer, pl_module)
        if r.checkpoint.every and step % r.checkpoint.every == 0:
            self._save(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self._validate(trainer, pl_module)
        self._save(trainer, pl_module)
        if not trainer.is_global_zero:
            return
        model = pl_module.model
        final = save_model(model, self.run_dir / "model", state_dict=self.ema.shadow if self.ema else None)
        self.summary = {"steps": pl_module.step, "skipped": pl_module.skipped,
                        "loss": {k: float(v) for k, v in pl_module.last_terms.items()},
                        "valid": self.scores, "model": str(final), "ema": self.ema is not None}
        atomic_write_text(self.run_dir / "summary.json", json.dumps(self.summary, indent=2) + "\n")
