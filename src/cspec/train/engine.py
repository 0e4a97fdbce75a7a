"""``train(recipe)``: check everything a recipe names, then train it with Lightning; resume after a crash.

Order of work: the recipe is read and checked against the schema (:mod:`cspec.train.recipe`), then everything
it names is built before Lightning starts: the model (registry), the losses, the discriminator, the optimiser
settings, the metric names and the datasets. Only then does training begin, so a typo fails in a second.

The run folder (``output_dir``) receives ``recipe.yaml``, ``checkpoints/``, ``tensorboard/``, ``model/`` (the
final weights) and ``summary.json``. With ``resume=True`` the latest complete checkpoint is loaded (weights,
optimiser, scheduler, EMA, discriminator, step) and training continues at the next step with the same data
order; with no checkpoint yet it starts from scratch, so a job scheduler can rerun the same command.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Sequence

import torch

from cspec.audio.fs import check_writable
from cspec.errors import ConfigError, CspecError
from cspec.models import build as build_model
from cspec.models import list_models
from cspec.train.checkpoint import CKPT_DIR, clean_checkpoints, latest_checkpoint, load_checkpoint
from cspec.train.data import build_dataset, make_train_loader, make_valid_loader
from cspec.train.objective import Objective, loss_stft
from cspec.train.optim import check_optim
from cspec.train.recipe import load_recipe, recipe_from_dict, recipe_to_dict
from cspec.train.schema import LossSection, Recipe

__all__ = ["Experiment", "prepare", "train", "RESUMABLE_SECTIONS"]

log = logging.getLogger("cspec.train")


class _NoAdverts(logging.Filter):
    """Drops Lightning's start-up advertisement ("Tip: ... try installing litlogger ..."), not its real notices."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in str(record.msg)


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_NoAdverts())

#: sections that must be equal in the checkpoint and the recipe to resume (``trainer`` may change)
RESUMABLE_SECTIONS = ("seed", "stft", "model", "loss", "data", "optim", "schedule", "ema", "discriminator")


@dataclasses.dataclass
class Experiment:
    """Everything built from a recipe before training starts."""

    recipe: Recipe
    model: torch.nn.Module
    objective: Objective
    gan: torch.nn.Module | None
    train_set: object
    valid_set: object | None
    metrics: tuple[str, ...]
    run_dir: Path


def _positive(value, path: str, minimum=1) -> None:
    if value is not None and value < minimum:
        raise ConfigError(f"recipe key '{path}' must be >= {minimum}, got {value}")


def _check_numbers(r: Recipe) -> None:
    t = r.trainer
    for value, path, low in ((t.devices, "trainer.devices", 1), (t.num_nodes, "trainer.num_nodes", 1),
                             (t.log_every, "trainer.log_every", 1), (r.checkpoint.every, "checkpoint.every", 0),
                             (r.checkpoint.keep, "checkpoint.keep", 0), (r.validation.every, "validation.every", 0),
                             (r.data.batch_size, "data.batch_size", 1), (r.data.num_workers, "data.num_workers", 0),
                             (r.ema.start, "ema.start", 0), (r.seed, "seed", 0)):
        _positive(value, path, low)
    if t.grad_clip is not None and t.grad_clip < 0:
        raise ConfigError(f"recipe key 'trainer.grad_clip' must be >= 0 (0 or null: off), got {t.grad_clip}")
    if not 0.0 <= r.ema.decay < 1.0:
        raise ConfigError(f"recipe key 'ema.decay' must lie in [0, 1) (0: off), got {r.ema.decay}")


def _initialise(model, source: str) -> None:
    """Copy the weights of the model folder or bundled name ``source`` into ``model``: the same architecture, or two
    registered models that declare the same ``weight_family`` (the generative enhancers and their predictive twin
    share one backbone, so a bridge can start from the twin) with the same tensors, or a smaller model of an
    architecture that can grow (``model.grow_from``: a wider GTCRN or uPIT-BLSTM from a bundled one)."""
    from cspec.infer.enhancer import resolve_model

    try:
        init = resolve_model(os.path.expandvars(source))
    except ConfigError as exc:
        raise ConfigError(f"recipe key 'model.init': {exc}") from None
    shapes = lambda m: {k: tuple(v.shape) for k, v in m.state_dict().items()}  # noqa: E731
    family = getattr(model, "weight_family", None)
    kin = init.registry_name == model.registry_name or (family is not None
                                                        and getattr(init, "weight_family", None) == family)
    if kin and shapes(init) != shapes(model) and hasattr(model, "grow_from"):
        try:  # a wider model of the same architecture grows from the smaller one, keeping its function
            model.grow_from(init)
        except ConfigError as exc:
            raise ConfigError(f"recipe key 'model.init': {exc}") from None
        return
    if not kin or shapes(init) != shapes(model):
        raise ConfigError(f"recipe key 'model.init': {source} is a {init.registry_name} with options "
                          f"{init.config}, the recipe builds {model.registry_name} with {model.config}; "
                          "they must be the same")
    model.load_state_dict(init.state_dict())


def prepare(recipe: Recipe, output_dir: str | Path | None = None) -> Experiment:
    """Build and check everything ``recipe`` names (no training); errors name the recipe key at fault."""
    from cspec.metrics import MetricError
    from cspec.metrics.registry import resolve
    from cspec.train.gan import MetricGAN

    run_dir = Path(output_dir if output_dir is not None else recipe.output_dir)
    check_writable(run_dir / CKPT_DIR / "latest")  # a run folder that cannot be written fails first, in one line
    _check_numbers(recipe)
    check_optim(recipe.optim, recipe.schedule, recipe.trainer.max_steps)
    if not recipe.model.name:
        raise ConfigError(f"recipe key 'model.name' is required; choose one of {', '.join(list_models())}")
    torch.manual_seed(recipe.seed)  # the initial weights depend on the seed only
    try:
        model = build_model(recipe.model.name, **recipe.model.options)
    except ConfigError as exc:
        raise ConfigError(f"recipe key 'model': {exc}") from None
    if recipe.model.init:
        _initialise(model, recipe.model.init)
    try:
        spec = loss_stft(recipe.stft, model)
    except ConfigError as exc:
        raise ConfigError(f"recipe key 'stft': {exc}") from None
    objective = Objective(recipe.loss.weights, recipe.loss.options, model.n_sources, spec, recipe.loss.pit)
    if hasattr(model, "training_loss") and (recipe.loss != LossSection() or recipe.discriminator is not None):
        raise ConfigError(f"recipe keys 'loss'/'discriminator': model '{recipe.model.name}' trains with its own "
                          "objective (its training_loss); remove those sections from the recipe")
    gan = None
    if recipe.discriminator is not None:
        if model.n_sources > 1:
            raise ConfigError("recipe key 'discriminator': the metric discriminator scores one enhanced signal; "
                              f"model '{recipe.model.name}' separates {model.n_sources} sources")
        gan = MetricGAN(recipe.discriminator, spec, model.sample_rate)
    try:
        metrics = resolve(recipe.validation.metrics)
    except MetricError as exc:
        raise ConfigError(f"recipe key 'validation.metrics': {exc}") from None
    d = recipe.data
    train_set = build_dataset(d.train, "data.train", model.sample_rate, model.n_sources, True, recipe.seed)
    valid_set = None
    if d.valid is not None:
        valid_set = build_dataset(d.valid, "data.valid", model.sample_rate, model.n_sources, False, recipe.seed)
    return Experiment(recipe, model, objective, gan, train_set, valid_set, metrics, run_dir)


def _diff(old, new, path: str = "") -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            found = _diff(old.get(key), new.get(key), f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    return None if old == new else f"recipe key '{path}' was {old!r} in the checkpoint and is {new!r} now"


def _resume_state(exp: Experiment, recipe_dict: dict):
    for left in clean_checkpoints(exp.run_dir):
        log.info("%s: removed %s, left by a run killed while saving", exp.run_dir, left.name)
    ckpt = latest_checkpoint(exp.run_dir)
    if ckpt is None:
        log.info("%s: no checkpoint yet, starting from step 0", exp.run_dir)
        return 0, None, None
    weights, state = load_checkpoint(ckpt)
    old = state.get("recipe", {})
    try:  # keys added to the schema after the checkpoint was written take their defaults
        old = recipe_to_dict(recipe_from_dict(old))
    except ConfigError:
        pass
    for section in RESUMABLE_SECTIONS:
        change = _diff(old.get(section), recipe_dict.get(section), section)
        if change:
            raise ConfigError(f"cannot resume {ckpt}: {change}; resume with the same recipe or start a new run "
                              "(another output_dir)")
    exp.model.load_state_dict(weights)
    training = state["training"]
    if exp.gan is not None and training.get("gan"):
        exp.gan.load_state_dict(training["gan"])
    log.info("resuming from %s (step %d)", ckpt, state["step"])
    return int(state["step"]), training, state.get("ema")


def train(recipe: Recipe | str | Path | dict, overrides: Sequence[str] = (), output_dir: str | Path | None = None,
          resume: bool = False) -> dict:
    """Train a recipe (a :class:`Recipe`, a YAML path or a dict) with ``key=value`` overrides.

    Returns the run summary (steps, skipped steps, last losses, validation scores, the final model folder);
    an empty dict on the non-zero ranks of a multi-process run.
    """
    import lightning.pytorch as pl
    import yaml
    from lightning.pytorch.loggers import TensorBoardLogger

    from cspec.train.callbacks import EMA, RunKeeper
    from cspec.train.module import SpeechTask

    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    elif overrides:
        recipe = load_recipe(recipe_to_dict(recipe), overrides)
    exp = prepare(recipe, output_dir)
    recipe_dict = recipe_to_dict(recipe)
    start, training, ema_state = 0, None, None
    if resume:
        start, training, ema_state = _resume_state(exp, recipe_dict)
    elif latest_checkpoint(exp.run_dir) is not None:
        raise ConfigError(f"{exp.run_dir} already holds checkpoints; pass --resume to continue that run or choose "
                          "another output_dir")
    t = recipe.trainer
    if start >= t.max_steps:
        raise ConfigError(f"{exp.run_dir}: the checkpoint is at step {start}, trainer.max_steps is {t.max_steps}; "
                          f"raise trainer.max_steps to train longer")
    exp.run_dir.mkdir(parents=True, exist_ok=True)
    (exp.run_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe_dict, sort_keys=False), encoding="utf-8")

    task = SpeechTask(recipe, exp.model, exp.objective, exp.gan, start, training)
    ema = EMA(recipe.ema.decay, recipe.ema.start, ema_state, recipe.ema.warmup) if recipe.ema.decay > 0 else None
    valid = None
    if exp.valid_set is not None:
        whole = recipe.data.valid.seconds is None
        valid = lambda rank, world: make_valid_loader(exp.valid_set, recipe.data.batch_size, whole, rank,  # noqa: E731
                                                      world, recipe.data.num_workers)
    keeper = RunKeeper(exp.run_dir, recipe, recipe_dict, ema, valid, exp.metrics)

    class Data(pl.LightningDataModule):
        def train_dataloader(self):
            tr = self.trainer
            return make_train_loader(exp.train_set, recipe.data.batch_size, recipe.seed, start, t.max_steps,
                                     tr.global_rank, tr.world_size, recipe.data.num_workers)

    gpu = t.accelerator in ("gpu", "cuda") or (t.accelerator == "auto" and torch.cuda.is_available())
    precision = ("16-mixed" if gpu else "32-true") if t.precision == "auto" else t.precision
    precision = "32-true" if precision == "32" else precision
    try:
        trainer = pl.Trainer(
            accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy,
            precision=precision, max_epochs=1, deterministic=t.deterministic, use_distributed_sampler=False,
            enable_checkpointing=False, num_sanity_val_steps=0, limit_val_batches=0, enable_model_summary=False,
            enable_progress_bar=t.progress_bar, default_root_dir=str(exp.run_dir), log_every_n_steps=t.log_every,
            logger=TensorBoardLogger(str(exp.run_dir), name="", version="tensorboard", default_hp_metric=False),
            callbacks=[c for c in (ema, keeper) if c is not None],
        )
    except (ValueError, RuntimeError) as exc:
        if isinstance(exc, CspecError):
            raise
        raise ConfigError(f"recipe section 'trainer': Lightning refused it: {exc}") from None
    trainer.fit(task, datamodule=Data())
    if not trainer.is_global_zero:
        return {}
    return {**keeper.summary, "run_dir": str(exp.run_dir), "start_step": start}
