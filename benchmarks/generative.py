"""Generative enhancement against its predictive twin: PESQ-WB, ESTOI, SI-SDR, DNSMOS OVRL and RTF against the
number of network passes (issue #24).

    CSPEC_DATA=../shared/data python benchmarks/generative.py \
        --model flowse=runs/generative/flowse/model --model predictive=runs/generative/predictive/model \
        --steps 1 2 4 8 30 --sets dev=../shared/data/dev_pairs sentences=~/.cache/cspec/dev-sentences \
        --max-pairs 15 --out benchmarks/RESULTS.md

Every model runs through ``cspec.infer.Enhancer`` (``steps`` = network passes; the predictive twin always makes
one) on one torch thread, one file at a time (``NAME=PATH:sampler=ode`` runs a folder with another option); RTF is enhancement time over audio time (metrics not included).
A sampler that cannot make a given number of passes exactly (e.g. SGMSE+'s PC sampler, 2 passes per step, at an
odd count) gets a dash. The sentence dev set is ``recipes/read/dev_sentences.py``'s (first ``--max-pairs`` pairs).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine, write_section  # noqa: E402

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SECTION = "## Generative enhancement: passes"
METRICS = ("pesq_wb", "estoi", "si_sdr", "dnsmos_ovrl")


def pairs(folder: Path, limit: int) -> list[tuple[Path, Path]]:
    clean = {f.stem: f for f in sorted((folder / "clean").glob("*")) if f.is_file()}
    found = [(clean[f.stem], f) for f in sorted((folder / "noisy").glob("*")) if f.stem in clean]
    if not found:
        sys.exit(f"generative: no clean/noisy pairs with one name under {folder}")
    return found[:limit] if limit else found


def load_pairs(found):
    from cspec import audio

    out = []
    for c, n in found:
        ref = audio.load(c, sr=16000, mono=True)[0][0]
        noisy = audio.load(n, sr=16000, mono=True)[0][0]
        m = min(ref.shape[-1], noisy.shape[-1])
        out.append((ref[:m], noisy[:m]))
    return out


def with_options(path: str, options: str):
    """The model folder ``path`` with sampler options changed (``"sampler=ode,seed=3"``; values read as YAML)."""
    from cspec.models import build, load
    from cspec.train.recipe import parse_override

    model = load(path)
    if not options:
        return model
    changed = dict(model.config)
    for item in options.split(","):
        (key, *deeper), value = parse_override(item)
        if deeper or key not in changed:
            sys.exit(f"generative: {model.name} has no option '{item.partition('=')[0]}' "
                     f"(it has {', '.join(sorted(changed))})")
        changed[key] = value
    other = build(model.name, **changed)
    other.load_state_dict(model.state_dict())
    return other.eval()


def run(model, steps: int | None, clips) -> tuple[dict, float] | None:
    """Mean metrics and RTF of one model at ``steps`` passes (None: its fixed count), or None when the sampler cannot
    make them."""
    import torch

    from cspec.errors import ConfigError
    from cspec.infer import Enhancer
    from cspec.metrics.evaluate import evaluate_clip

    try:
        enh = Enhancer(model, steps=steps)
        enh.enhance(clips[0][1][:1600], 16000)  # warm-up; also refuses an impossible count
    except ConfigError:
        return None
    values, elapsed, seconds = {n: [] for n in METRICS}, 0.0, 0.0
    for ref, noisy in clips:
        start = time.perf_counter()
        with torch.inference_mode():
            est = enh.enhance(noisy, 16000)
        elapsed += time.perf_counter() - start
        seconds += noisy.shape[-1] / 16000
        got, _ = evaluate_clip(ref.double().numpy(), est.double().numpy(), 16000, METRICS)
        for n in METRICS:
            values[n].append(got[n])
    return {n: float(np.nanmean(v)) for n, v in values.items()}, elapsed / seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", required=True, metavar="NAME=PATH[:KEY=VALUE,...]",
                   help="a model folder, optionally with changed sampler options (e.g. sb-ode=RUN/model:sampler=ode)")
    p.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4, 8, 30], help="network passes to try")
    p.add_argument("--sets", nargs="+", default=[f"dev={DATA / 'dev_pairs'}"], metavar="NAME=DIR",
                   help="dev sets (folders with clean/ and noisy/)")
    p.add_argument("--max-pairs", type=int, default=0, help="first N pairs of each set (0: all)")
    p.add_argument("--out", type=Path, help="RESULTS.md whose section is replaced")
    p.add_argument("--section", default=SECTION)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    models = [(name, with_options(*path.partition(":")[::2])) for name, path in (m.partition("=")[::2]
                                                                               for m in args.model)]
    sets = [(s.partition("=")[0], Path(os.path.expanduser(s.partition("=")[2]))) for s in args.sets]
    load_avg = "/".join(f"{v:.1f}" for v in os.getloadavg())
    tables = []
    for set_name, folder in sets:
        clips = load_pairs(pairs(folder, args.max_pairs))
        secs = sum(r.shape[-1] for r, _ in clips) / 16000
        noisy = {n: [] for n in METRICS}
        from cspec.metrics.evaluate import evaluate_clip

        for ref, x in clips:
            got, _ = evaluate_clip(ref.double().numpy(), x.double().numpy(), 16000, METRICS)
            for n in METRICS:
                noisy[n].append(got[n])
        rows = [("noisy input", "—", {n: float(np.nanmean(v)) for n, v in noisy.items()}, math.nan)]
        for name, model in models:
            # the predictive twin (or any model without passes): one run, whatever --steps says
            fixed = getattr(model, "fixed_steps", None) or (None if hasattr(model, "steps") else 1)
            for steps in ([fixed] if fixed else args.steps):
                res = run(model, None if fixed else steps, clips)
                if res is None:
                    rows.append((name, str(steps), None, math.nan))
                    continue
                rows.append((name, str(steps), res[0], res[1]))
                print(f"{set_name:10s} {name:12s} passes {steps:3d}  " + "  ".join(
                    f"{n} {res[0][n]:.3f}" for n in METRICS) + f"  RTF {res[1]:.3f}", flush=True)
        lines = [f"**{set_name}** ({len(clips)} pairs, {secs:.0f} s; `{folder}`)", "",
                 "| model | passes | PESQ-WB | ESTOI | SI-SDR (dB) | DNSMOS OVRL | RTF (1 thread) |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        for name, steps, vals, rtf in rows:
            if vals is None:
                lines.append(f"| {name} | {steps} | — | — | — | — | cannot make {steps} passes |")
                continue
            lines.append(f"| {name} | {steps} | {vals['pesq_wb']:.3f} | {vals['estoi']:.3f} | {vals['si_sdr']:.2f} "
                         f"| {vals['dnsmos_ovrl']:.3f} | {'—' if rtf != rtf else f'{rtf:.3f}'} |")
        tables.append("\n".join(lines))
    if args.out:
        cmd = "python benchmarks/generative.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section(args.out, args.section, "\n".join([
            args.section, "", f"Command: `{cmd}`  ", f"Machine: {machine()}  ",
            f"Date: {time.strftime('%Y-%m-%d %H:%M')}; load average at the start {load_avg}.", "",
            "Each model through `cspec.infer.Enhancer(model, steps=N)` (N network passes), one file at a time on "
            "one torch thread; the predictive twin is the same backbone trained to map noisy to clean in one "
            "pass, with the same data (recipes/generative/; the training steps of each model: its run or the "
            "generative model card).", "", *[t + "\n" for t in tables]]))
        print(f"wrote the '{args.section}' section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
