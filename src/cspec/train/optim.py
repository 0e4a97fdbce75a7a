"""Optimisers and learning-rate schedules of a recipe (``optim`` and ``schedule`` sections).

Schedules are multiplicative factors of ``optim.lr`` per optimiser step, applied with ``LambdaLR`` (whose state
is plain numbers, so it resumes from JSON): a linear warm-up from ``1 / warmup_steps`` to 1 over
``warmup_steps`` steps, then

* ``constant``: 1;
* ``cosine``: ``r + (1 - r) (1 + cos(pi t)) / 2`` (Loshchilov & Hutter 2017, SGDR without restarts), ``t`` the
  fraction of the steps after warm-up done, ``r = min_lr_ratio``;
* ``linear``: ``1 - (1 - r) t``;
* ``exponential``: ``gamma ** (steps / step_size)`` (MP-SENet and CMGAN decay by 0.99 per epoch);
* ``step``: ``gamma ** floor(steps / step_size)`` (Conv-TasNet halves the rate on plateaus; a fixed step
  schedule is its deterministic stand-in).
"""

from __future__ import annotations

import math

import torch

from cspec.errors import ConfigError
from cspec.train.schema import OptimSection, ScheduleSection

__all__ = ["build_optimizer", "schedule_factor", "build_scheduler", "check_optim"]


def check_optim(optim: OptimSection, schedule: ScheduleSection, max_steps: int) -> None:
    """Range checks with the recipe paths in the messages."""
    if optim.lr <= 0:
        raise ConfigError(f"recipe key 'optim.lr' must be > 0, got {optim.lr}")
    if optim.name in ("adam", "adamw") and (len(optim.betas) != 2 or not all(0 <= float(b) < 1 for b in optim.betas)):
        raise ConfigError(f"recipe key 'optim.betas' must be two numbers in [0, 1), got {optim.betas}")
    if optim.weight_decay < 0 or optim.eps <= 0 or optim.momentum < 0:
        raise ConfigError("recipe keys 'optim.weight_decay' and 'optim.momentum' must be >= 0, 'optim.eps' > 0")
    s = schedule
    if s.warmup_steps < 0 or not 0 <= s.min_lr_ratio <= 1 or s.gamma <= 0 or s.step_size < 1:
        raise ConfigError("recipe 'schedule': warmup_steps >= 0, min_lr_ratio in [0, 1], gamma > 0, step_size >= 1")
    if max_steps < 1:
        raise ConfigError(f"recipe key 'trainer.max_steps' must be >= 1, got {max_steps}")


def build_optimizer(optim: OptimSection, params) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if optim.name == "sgd":
        return torch.optim.SGD(params, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay)
    cls = torch.optim.AdamW if optim.name == "adamw" else torch.optim.Adam
    return cls(params, lr=optim.lr, betas=tuple(float(b) for b in optim.betas), eps=optim.eps,
               weight_decay=optim.weight_decay)


def schedule_factor(schedule: ScheduleSection, max_steps: int, step: int) -> float:
    """The factor of ``optim.lr`` at optimiser step ``step`` (0-based)."""
    warm = schedule.warmup_steps
    if step < warm:
        return (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, max_steps - warm))
    r = schedule.min_lr_ratio
    if schedule.name == "cosine":
        return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * t))
    if schedule.name == "linear":
        return 1 - (1 - r) * t
    if schedule.name == "exponential":
        return schedule.gamma ** ((step - warm) / schedule.step_size)
    if schedule.name == "step":
        return schedule.gamma ** ((step - warm) // schedule.step_size)
    return 1.0


def build_scheduler(opt: torch.optim.Optimizer, schedule: ScheduleSection, max_steps: int):
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: schedule_factor(schedule, max_steps, step))
