"""Flip the output polarity of a GTCRN model folder (``GTCRN.negate_mask``) and report its level on dev pairs.

The tiny chain's first stage (recipes/pool/tiny.yaml, 0.9 compressed magnitude + 0.1 compressed real-imaginary,
plus a sign-blind SI-SDR term) converged to an inverted mask: its output is the clean speech times about -0.45.
PESQ, STOI and SI-SDR do not see the sign, but the real-imaginary term does, and it holds the level down; gradient
steps cannot leave that basin (the mask would have to pass through zero, which the magnitude term forbids). This
script negates the mask exactly and writes a new folder, from which recipes/pool/tiny-pol.yaml trains on:

    python recipes/pool/flip_polarity.py runs/pool/tiny-deb2/model runs/pool/tiny-flip

It measures the mean projection scale <y, s> / <s, s> of the output on the shared dev pairs (clean speech s):
negative when inverted, near 1 for an output at the clean level. A model already in phase (a chain started with
the current GTCRN init, whose mask starts as a positive real gain) is copied unchanged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from cspec.audio import load
from cspec.errors import CspecError
from cspec.metrics import scale as metric_scale
from cspec.models.io import load as load_model
from cspec.models.io import save as save_model
from cspec.train.data import data_root


def mean_scale(model, files: list[tuple[Path, Path]]) -> float:
    """Mean over ``(input, reference)`` file pairs of ``cspec.metrics.scale`` of the reference in the output."""
    values = []
    for src, ref in files:
        x = load(src, sr=model.sample_rate, mono=True)[0]
        s = load(ref, sr=model.sample_rate, mono=True)[0]
        with torch.no_grad():
            y = model(x)["wave"][..., : s.shape[-1]]
        values.append(float(metric_scale(s[0].double().numpy(), y[0].double().numpy(), model.sample_rate)))
    return sum(values) / max(len(values), 1)


def scale(model, pairs: Path) -> float:
    """Mean over the dev pairs of the least-squares scale of the clean speech in the model's output."""
    return mean_scale(model, [(pairs / "noisy" / c.name, c) for c in sorted((pairs / "clean").glob("*.flac"))])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path, help="a GTCRN model folder (config.json, model.safetensors)")
    ap.add_argument("dst", type=Path, help="the new folder (must not exist)")
    ap.add_argument("--pairs", type=Path, default=None, help="dev pairs folder (default: $CSPEC_DATA/dev_pairs)")
    args = ap.parse_args(argv)
    if args.dst.exists():
        print(f"error: {args.dst} exists; give a new folder", file=sys.stderr)
        return 2
    try:
        model = load_model(args.src).eval()
    except CspecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not hasattr(model, "negate_mask"):
        print(f"error: {args.src} holds a {type(model).__name__}; only GTCRN models have negate_mask", file=sys.stderr)
        return 2
    pairs = args.pairs or data_root() / "dev_pairs"
    if not (pairs / "clean").is_dir():
        print(f"error: no dev pairs under {pairs}: set CSPEC_DATA or give --pairs", file=sys.stderr)
        return 2
    before = scale(model, pairs)
    if before > 0:  # e.g. a chain started with today's GTCRN init, whose mask starts in phase
        save_model(model, args.dst)
        print(f"scale of the clean speech in the output: {before:.3f}, already in phase; copied unchanged")
    else:
        save_model(model.negate_mask(), args.dst)  # the output is exactly negated: its scale becomes -before
        print(f"scale of the clean speech in the output: {before:.3f} -> {-before:.3f}")
    print(f"wrote {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
