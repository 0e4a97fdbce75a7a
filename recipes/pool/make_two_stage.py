"""Make a two-stage model (``gtcrn_two_stage``) whose first stage is a trained GTCRN, to train on from there.

Both stages get the trained GTCRN's weights; then the second stage's mask head is reset to the identity (the
last normalisation's scale 0, bias ``identity_bias``; see :mod:`cspec.models.gtcrn_two_stage`). So the new
model's output equals the trained GTCRN's exactly, and training the second stage (the first is frozen) starts from
features that already know speech in noise instead of random ones. ``--fresh-second`` keeps the second stage's
random initialisation (seed ``--seed``) instead; ``--width C`` makes the new stage a fresh GTCRN with ``C`` channels
and hidden units (wider than the paper's 16; its mask head still starts as the identity, so the output is still
the source model's).

Given a trained ``gtcrn_two_stage`` instead, it adds a third stage the same way: the trained cascade becomes the
(frozen) first stage, and the new last stage is a copy of the cascade's last stage with its mask head reset.
``--sees-noisy`` makes a cascade whose new stage reads the noisy spectrum too (``second_sees_noisy``): the weights
that read it start at zero, so the output is still the source model's.

    python recipes/pool/make_two_stage.py runs/pool/tiny-pol4/model runs/pool/two-stage-init

The recipe recipes/pool/default-2s.yaml then trains it (``model.init: runs/pool/two-stage-init``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from cspec.errors import CspecError
from cspec.models import build
from cspec.models.io import load as load_model
from cspec.models.io import save as save_model


def mask_head_prefix(gtcrn) -> str:
    """The state-dict prefix of a GTCRN's mask head (its last normalisation, ``GTCRN.mask_norm``)."""
    return next(n for n, m in gtcrn.named_modules() if m is gtcrn.mask_norm) + "."


def two_stage_from(single, fresh_second: bool = False, seed: int = 0, sees_noisy: bool = False,
                   width: int | None = None):
    """A ``gtcrn_two_stage`` model whose first stage is ``single`` (a GTCRN or a cascade) and whose new last stage
    is a copy of ``single``'s last GTCRN, its mask head reset (and, with ``sees_noisy``, zero weights on the noisy
    spectrum's features); with ``width``, a fresh GTCRN of that many channels and hidden units instead."""
    torch.manual_seed(seed)
    cascade = getattr(single, "registry_name", "") == "gtcrn_two_stage"
    last = single.second if cascade else single
    options = {k: v for k, v in last.config.items() if k not in ("mask_gain", "extra_inputs")}
    if width is not None:
        options.update(channels=int(width), hidden=int(width))
        fresh_second = True
    model = build("gtcrn_two_stage", first=single.config, second=options,
                  first_model="gtcrn_two_stage" if cascade else "gtcrn", second_sees_noisy=sees_noisy)
    model.first.load_state_dict(single.state_dict())
    if not fresh_second:  # everything but the mask's last normalisation, which stays the identity head
        head = mask_head_prefix(model.second)
        weights = {k: v for k, v in last.state_dict().items() if not k.startswith(head)}
        conv, own = model.second.input_conv.weight, model.second.FEATURES_PER_INPUT  # the source's own channels kept
        first_conv = next(n for n, p in model.second.named_parameters() if p is conv)
        weights[first_conv] = torch.cat([weights[first_conv][:, :own], torch.zeros_like(conv[:, own:])], dim=1)
        model.second.load_state_dict(weights, strict=False)
    return model.eval()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path, help="a trained GTCRN or gtcrn_two_stage model folder (config.json, "
                    "model.safetensors)")
    ap.add_argument("dst", type=Path, help="the new folder (must not exist)")
    ap.add_argument("--fresh-second", action="store_true", help="leave the second stage randomly initialised")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random initialisation (0)")
    ap.add_argument("--sees-noisy", action="store_true", help="the new stage reads the noisy spectrum too")
    ap.add_argument("--width", type=int, help="a fresh new stage with this many channels and hidden units")
    args = ap.parse_args(argv)
    try:
        if args.dst.exists():
            raise CspecError(f"{args.dst} exists; give a new folder")
        single = load_model(args.src)
        if getattr(single, "registry_name", "") not in ("gtcrn", "gtcrn_two_stage"):
            raise CspecError(f"{args.src} holds a {type(single).__name__}; the first stage must be a GTCRN or a "
                             "gtcrn_two_stage cascade")
        if args.width is not None and args.width < 1:
            raise CspecError(f"--width must be a positive number of channels, got {args.width}")
        model = two_stage_from(single, args.fresh_second, args.seed, args.sees_noisy, args.width)
    except CspecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_model(model, args.dst)
    print(f"wrote {args.dst} ({model.n_parameters()} trainable parameters in the second stage)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
