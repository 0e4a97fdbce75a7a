"""``cspec train RECIPE.yaml [key=value ...]``: train the experiment a recipe describes.

Thin over :func:`cspec.train.train`: the recipe is checked (with the overrides) before anything runs; the run
folder gets checkpoints, TensorBoard logs and the final model; ``--resume`` continues from the latest
checkpoint of the run folder with the same data order.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

_EPILOG = """\
overrides use the recipe's key paths, values are YAML:
  optim.lr=3e-4  trainer.max_steps=20000  model.options.channels=32  loss.weights.si_sdr=1.0

run folder (output_dir, or --out): recipe.yaml, checkpoints/step-NNNNNNNN/ (safetensors + JSON),
tensorboard/ (tensorboard --logdir RUN/tensorboard), model/ (final weights: cspec.models.load), summary.json

examples:
  cspec train recipes/pool/gtcrn.yaml
  cspec train recipes/vbdemand/mpsenet.yaml trainer.max_steps=1000 --out runs/try
  cspec train recipes/pool/gtcrn.yaml --resume          # after a crash or on a requeued SLURM job
  cspec train recipes/pool/gtcrn.yaml --check           # check the recipe only
  torchrun --nproc_per_node 4 -m cspec train recipes/librimix/tfgridnet.yaml trainer.devices=4 \\
      trainer.strategy=ddp                              # see docs/training.md for SLURM
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a model from a YAML recipe (Lightning; checkpoints in safetensors)",
        description="Train the experiment that RECIPE describes: model, STFT, losses, data, optimiser, schedule,\n"
        "length and validation metrics. The recipe and the overrides are checked before training starts.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recipe", metavar="RECIPE.yaml", help="the recipe file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="recipe values to change (YAML values)")
    p.add_argument("--out", metavar="DIR", help="run folder (default: the recipe's output_dir)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint of the run folder (start fresh if there is none)")
    p.add_argument("--check", action="store_true", help="check the recipe and build everything, then stop")
    p.set_defaults(func=run)
    p.__class__ = type("_IntermixedParser", (type(p),), {"parse_known_args": _intermixed})


def _intermixed(self, args=None, namespace=None):
    """Options may stand between the overrides (``RECIPE a=1 --out DIR b=2``): argparse's intermixed parsing."""
    if getattr(self, "_in_intermixed", False):
        return super(type(self), self).parse_known_args(args, namespace)
    self._in_intermixed = True
    try:
        return self.parse_known_intermixed_args(args, namespace)
    finally:
        self._in_intermixed = False


def run(args: argparse.Namespace) -> int:
    from cspec.train import load_recipe, prepare, train

    recipe = load_recipe(args.recipe, args.overrides)
    if args.check:
        exp = prepare(recipe, args.out)
        losses = ("its own objective (training_loss)" if hasattr(exp.model, "training_loss")
                  else f"losses {', '.join(exp.objective.names)}")
        print(f"recipe OK: model {recipe.model.name} ({exp.model.n_parameters() / 1e6:.3f} M parameters), "
              f"{losses}, {len(exp.train_set)} training items, "
              f"{len(exp.valid_set) if exp.valid_set is not None else 0} dev items, run folder {exp.run_dir}")
        return 0
    logging.getLogger("cspec.train").setLevel(logging.INFO)
    if not logging.getLogger("cspec.train").handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("cspec train: %(message)s"))
        logging.getLogger("cspec.train").addHandler(handler)
    summary = train(recipe, output_dir=args.out, resume=args.resume)
    if summary:
        print(json.dumps(summary, indent=2))
    return 0
