"""The LightningModule of the engine: any :class:`~cspec.models.SpeechModel`, a recipe's objective, and
optionally a discriminator, trained with manual optimisation. A model with a ``training_loss(mixture, target)``
method (the generative enhancers of :mod:`cspec.generative`: score matching, bridge and flow objectives) is
trained on that loss instead of the recipe's objective.

One batch is one step, counted in :attr:`SpeechTask.step` (saved in checkpoints, so a resumed run continues
the count). Per step: the random generators are seeded from ``(seed, step, rank)`` (dropout and the like
repeat exactly after a resume); the generator loss is computed; if it is not finite on any process, the step
is skipped (no update, counted in ``train/skipped`` and logged as a warning); otherwise backward, gradient
clipping (a non-finite gradient norm also skips), an optimiser step and a scheduler step; then, with a
discriminator, its own update. The training loop itself, devices, precision and DDP are Lightning's.
"""

from __future__ import annotations

import logging

import lightning.pytorch as pl
import numpy as np
import torch

from cspec.train.optim import build_optimizer, build_scheduler
from cspec.train.schema import Recipe

__all__ = ["SpeechTask", "step_seed"]

log = logging.getLogger("cspec.train")


def step_seed(seed: int, step: int, rank: int) -> int:
    """The seed of the random generators at ``step`` on process ``rank``."""
    return int(np.random.SeedSequence([int(seed), int(step), int(rank)]).generate_state(1)[0])


class SpeechTask(pl.LightningModule):
    """Train ``model`` with ``objective`` (and ``gan``, a :class:`~cspec.train.gan.MetricGAN`) as ``recipe`` says.

    ``start_step`` is the step to continue from; ``resume_state`` the optimiser/scheduler states of a
    checkpoint (loaded when training starts, after Lightning has set the optimisers up).
    """

    def __init__(self, recipe: Recipe, model, objective, gan=None, start_step: int = 0,
                 resume_state: dict | None = None):
        super().__init__()
        self.automatic_optimization = False
        self.recipe, self.model, self.objective, self.gan = recipe, model, objective, gan
        self.step, self.skipped = int(start_step), 0
        self.resume_state = resume_state
        self.last_terms: dict = {}

    # ----------------------------------------------------------------------------------------- set-up
    def configure_optimizers(self):
        r = self.recipe
        opt = build_optimizer(r.optim, self.model.parameters())
        opts = [opt]
        if self.gan is not None:
            opts.append(torch.optim.AdamW(self.gan.parameters(), lr=r.discriminator.lr,
                                          betas=tuple(float(b) for b in r.discriminator.betas)))
        return opts, [build_scheduler(opt, r.schedule, r.trainer.max_steps)]

    def _optimizers(self) -> list:
        opts = self.optimizers()
        return list(opts) if isinstance(opts, (list, tuple)) else [opts]

    def on_train_start(self) -> None:
        if self.resume_state is None:
            return
        state = self.resume_state
        for opt, sd in zip(self._optimizers(), state["optimizers"]):
            opt.optimizer.load_state_dict(sd)
        sched = self.lr_schedulers()
        sched.load_state_dict(state["scheduler"])
        # the rate of the next step from this recipe's schedule (trainer.max_steps may have changed)
        for group, base, fn in zip(self._optimizers()[0].optimizer.param_groups, sched.base_lrs, sched.lr_lambdas):
            group["lr"] = base * fn(sched.last_epoch)
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        self.skipped = int(state.get("skipped", 0))
        self.resume_state = None

    def training_state(self) -> dict:
        """What a checkpoint needs besides the model weights (tensors and plain values only)."""
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        return {"optimizers": [o.optimizer.state_dict() for o in self._optimizers()],
                "scheduler": self.lr_schedulers().state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "skipped": self.skipped,
                "gan": self.gan.state_dict() if self.gan is not None else None}

    # ----------------------------------------------------------------------------------------- training
    def forward(self, wave: torch.Tensor) -> dict:
        return self.model(wave)

    def _all_finite(self, value: torch.Tensor) -> bool:
        bad = torch.tensor(0.0 if bool(torch.isfinite(value).all()) else 1.0, device=value.device)
        return float(self.trainer.strategy.reduce(bad, reduce_op="sum")) == 0.0

    def _clip(self, opt) -> bool:
        clip = self.recipe.trainer.grad_clip
        if self.trainer.precision == "16-mixed":  # the grad scaler unscales, then skips non-finite steps itself
            if clip:
                self.clip_gradients(opt, gradient_clip_val=clip, gradient_clip_algorithm="norm")
            return True
        params = [p for g in opt.optimizer.param_groups for p in g["params"] if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, clip if clip else float("inf"))
        return bool(torch.isfinite(norm))

    def _skip(self, step: int, what: str, opt) -> None:
        opt.zero_grad(set_to_none=True)
        self.skipped += 1
        log.warning("step %d: non-finite %s, update skipped (%d skipped so far)", step, what, self.skipped)

    def training_step(self, batch: dict, batch_idx: int):
        step = self.step
        torch.manual_seed(step_seed(self.recipe.seed, step, self.global_rank))
        opts = self._optimizers()
        opt = opts[0]
        if hasattr(self.model, "training_loss"):  # a generative model: its own objective (cspec.generative)
            loss, terms = self.model.training_loss(batch["mixture"], batch["targets"][:, 0])
        else:
            out = self.model(batch["mixture"])
            loss, terms = self.objective(out, batch)
        if self.gan is not None:
            self.toggle_optimizer(opt)
            adv = self.gan.generator_loss(out["wave"], batch["targets"][:, 0])
            terms["metricgan_generator"] = adv.detach()
            loss = loss + self.recipe.discriminator.weight * adv
        finite = self._all_finite(loss.detach())
        if not finite:
            self._skip(step, "loss", opt)
        else:
            opt.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            if self._clip(opt):
                opt.step()
                self.lr_schedulers().step()
            else:
                self._skip(step, "gradient norm", opt)
        if self.gan is not None:
            self.untoggle_optimizer(opt)
            if finite:
                self._discriminator_step(opts[1], out["wave"].detach(), batch["targets"][:, 0], terms)
        self.step = step + 1
        self.last_terms = {"loss": loss.detach(), **terms}
        self.log("loss", loss.detach(), prog_bar=True, logger=False, on_step=True, batch_size=len(batch["mixture"]))
        self._log_step(step + 1, loss.detach(), terms)
        return None

    def _discriminator_step(self, dopt, est: torch.Tensor, ref: torch.Tensor, terms: dict) -> None:
        self.toggle_optimizer(dopt)
        d_loss = self.gan.discriminator_loss(est, ref)
        if d_loss is not None:
            dopt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            dopt.step()
            terms["metricgan_discriminator"] = d_loss.detach()
        self.untoggle_optimizer(dopt)

    def _log_step(self, step: int, loss: torch.Tensor, terms: dict) -> None:
        every = max(1, self.recipe.trainer.log_every)
        if self.logger is None or not self.trainer.is_global_zero or step % every:
            return
        metrics = {"train/loss": float(loss), "train/lr": float(self._optimizers()[0].optimizer.param_groups[0]["lr"]),
                   "train/skipped": float(self.skipped)}
        metrics.update({f"train/{k}": float(v) for k, v in terms.items()})
        self.logger.log_metrics(metrics, step=step)
