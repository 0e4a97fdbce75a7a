"""The training engine: one YAML recipe per experiment, trained with PyTorch Lightning.

* :mod:`cspec.train.schema` / :mod:`cspec.train.recipe`: the typed recipe and its checks (unknown keys name
  the closest valid one), ``key=value`` overrides;
* :mod:`cspec.train.engine`: :func:`train` (check everything, then train; resume after a crash);
* :mod:`cspec.train.module`, :mod:`~cspec.train.objective`, :mod:`~cspec.train.gan`: the LightningModule, the
  weighted losses and the metric discriminator;
* :mod:`cspec.train.data`: datasets from the recipe and a data order that is a function of (seed, step);
* :mod:`cspec.train.checkpoint` / :mod:`~cspec.train.state`: safetensors + JSON checkpoints, no pickle.

See ``docs/training.md`` for the schema and the multi-GPU / SLURM commands.
"""

from cspec.train.checkpoint import (clean_checkpoints, export_checkpoint, latest_checkpoint, list_checkpoints,
                                   load_checkpoint, save_checkpoint)
from cspec.train.engine import Experiment, prepare, train
from cspec.train.recipe import apply_override, load_recipe, parse_override, recipe_from_dict, recipe_to_dict
from cspec.train.schema import Recipe

__all__ = ["train", "prepare", "Experiment", "Recipe", "load_recipe", "recipe_from_dict", "recipe_to_dict",
           "parse_override", "apply_override", "save_checkpoint", "load_checkpoint", "latest_checkpoint",
           "list_checkpoints", "export_checkpoint", "clean_checkpoints"]
