"""Set a GTCRN model's ``mask_gain`` so that clean speech passes through it at its own level.

The mask's tanh bounds each part of the complex mask to (-1, 1), and a trained network saturates well below 1:
the seventh stage of the tiny chain (recipes/pool/tiny-pol3.yaml) passed clean speech at 0.74 of its level, and
the speech in noisy input at 0.69 (dev pairs), 2.6-3.2 dB too quiet. This script measures the least-squares gain
``<y, s> / <s, s>`` of the model's output ``y`` for clean input ``s`` (``cspec.metrics.scale``) and writes a new
model folder whose ``mask_gain`` is the old one divided by it. The factor is uniform over time and frequency, so
PESQ, STOI and SI-SDR do not change; only the level does.

Not applied to the bundled models: on the noisy dev pairs their output is at 0.71 of the speech's level, as
RNNoise's (0.71) and close to DeepFilterNet3's (0.76); calibrated (mask_gain 1.3247 for the eighth stage) it rose
to 0.93, but 3 of the 34 real recordings in dev_noisy_real then went past full scale (peaks up to 1.037) and
DNSMOS OVRL on the dev pairs fell from 2.309 to 2.276. Use it where the speech level matters more than headroom.

    python recipes/pool/calibrate_gain.py runs/pool/tiny-pol3/model runs/pool/tiny-cal

The clean speech defaults to the pool's read sentences (``$CSPEC_DATA/manifest.csv``, kind ``clean``, never the
dev pairs that the models are scored on); ``--clean DIR`` takes any folder of clean recordings instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cspec.data import read_pool
from cspec.errors import CspecError
from cspec.models import build
from cspec.models.io import load as load_model
from cspec.models.io import save as save_model
from cspec.train.data import data_root

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flip_polarity import mean_scale  # noqa: E402 - the same measurement, on clean input

AUDIO = (".wav", ".flac", ".ogg", ".mp3")


def clean_files(folder: Path | None, limit: int) -> list[Path]:
    """Up to ``limit`` clean recordings: ``folder``'s audio files (recursively), else the pool's sentences."""
    if folder is not None:
        if not folder.is_dir():
            raise CspecError(f"{folder}: no such folder")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO)
    else:
        files = sorted(item.path for item in read_pool(data_root(), kind="clean"))
    if not files:
        raise CspecError(f"no clean recordings found in {folder or data_root()}")
    return files[:limit]


def passthrough_gain(model, files: list[Path]) -> float:
    """Mean over ``files`` of the least-squares gain of each clean recording in the model's output."""
    return mean_scale(model, [(f, f) for f in files])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path, help="a GTCRN model folder (config.json, model.safetensors)")
    ap.add_argument("dst", type=Path, help="the new folder (must not exist)")
    ap.add_argument("--clean", type=Path, default=None, help="folder of clean speech (default: the pool's sentences)")
    ap.add_argument("--limit", type=int, default=40, help="at most this many recordings (40)")
    args = ap.parse_args(argv)
    try:
        if args.dst.exists():
            raise CspecError(f"{args.dst} exists; give a new folder")
        model = load_model(args.src).eval()
        if getattr(model, "registry_name", "") != "gtcrn":
            raise CspecError(f"{args.src} holds a {type(model).__name__}; only GTCRN models have mask_gain")
        files = clean_files(args.clean, args.limit)
        gain = passthrough_gain(model, files)
        if not gain > 0:
            raise CspecError(f"the output's gain on clean speech is {gain:.3f}: fix the polarity first "
                             "(recipes/pool/flip_polarity.py)")
        options = {**model.config, "mask_gain": model.mask_gain / gain}
        calibrated = build("gtcrn", **options)
        calibrated.load_state_dict(model.state_dict())
    except CspecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_model(calibrated, args.dst)
    # the output is linear in the mask, so the new gain on the same recordings is exactly 1
    print(f"gain on {len(files)} clean recordings: {gain:.3f} -> 1.000 "
          f"(mask_gain {model.mask_gain:.4f} -> {options['mask_gain']:.4f})")
    print(f"wrote {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
