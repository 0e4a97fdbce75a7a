"""Benchmark of ``cspec eval --jobs``: wall time of scoring N pairs with 1 and with 2 worker processes.

Since issue #20 every ``--jobs`` value, 1 included, scores in crash-safe spawned workers
(:mod:`cspec.metrics.workers`: a segfault in a metric's C code costs that metric of that file only);
``--jobs inline`` times the same rows computed in this process (``score_pair`` in a loop, one BLAS thread, not
crash-safe: what ``--jobs 1`` did before) to show what the safety costs.

The N pairs are made from the 15 real pairs of ``$CSPEC_DATA/dev_pairs`` (default ``../shared/data``): pair
``i`` is a crop of ``--seconds`` seconds of dev pair ``i % 15`` starting ``(i // 15) * 0.5`` s in (a short
pair is repeated to length), and the "estimate" is the noisy file, so every metric is computed on real
speech. The pairs go to a temporary folder that is deleted afterwards. Timings include starting the worker
processes (spawn), as a user of ``cspec eval --jobs 2`` would see them.

    .venv/bin/python benchmarks/eval_jobs.py --pairs 100 --seconds 3 --out benchmarks/RESULTS.md

With ``--out`` the table replaces only the ``## Evaluation`` section of that markdown file.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import soundfile as sf
from _results import cpu_name, write_section

from cspec.metrics.registry import resolve, versions
from cspec.metrics.report import evaluate_pairs, pair_folders, score_pair

SECTION = "## Evaluation"
ROOT = Path(__file__).resolve().parents[1]


def make_pairs(folder: Path, n: int, seconds: float) -> None:
    data = Path(os.environ.get("CSPEC_DATA", ROOT.parent / "shared" / "data")) / "dev_pairs"
    names = sorted(p.stem for p in (data / "clean").glob("*.flac"))
    if not names:
        raise SystemExit(f"no dev pairs under {data}; set CSPEC_DATA")
    for d in ("ref", "est"):
        (folder / d).mkdir(parents=True)
    for i in range(n):
        name = names[i % len(names)]
        clean, sr = sf.read(data / "clean" / f"{name}.flac", dtype="float32")
        noisy, _ = sf.read(data / "noisy" / f"{name}.flac", dtype="float32")
        common = min(len(clean), len(noisy))
        length, start = int(seconds * sr), int((i // len(names)) * 0.5 * sr)
        reps = int(np.ceil((start + length) / common))
        sf.write(folder / "ref" / f"pair{i:03d}.wav", np.tile(clean[:common], reps)[start : start + length], sr)
        sf.write(folder / "est" / f"pair{i:03d}.wav", np.tile(noisy[:common], reps)[start : start + length], sr)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children (the spawned workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _close(a, b) -> bool:
    """Equal, or both NaN, or within 1e-9 (ESTOI's last bit varies between runs: NumPy summation order)."""
    if isinstance(a, str):
        return a == b
    return (a != a and b != b) or abs(a - b) <= 1e-9


def inline(pairs, names) -> list[dict]:
    """The rows computed in this process on one torch/BLAS thread (no worker, no crash safety)."""
    import torch

    from cspec.metrics.workers import _blas_one_thread

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with _blas_one_thread():
            return [score_pair(p, names) for p in pairs]
    finally:
        torch.set_num_threads(threads)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=100)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--metrics", default="default", help="comma-separated metric names (default: the default set)")
    p.add_argument("--jobs", default="inline,1,2",
                   help="comma-separated worker counts to time; 'inline': in this process, without workers")
    p.add_argument("--out", type=Path, default=None, help="markdown file whose '## Evaluation' is replaced")
    args = p.parse_args()
    names = resolve(args.metrics)
    jobs = [j.strip() if j.strip() == "inline" else int(j) for j in args.jobs.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        make_pairs(Path(tmp), args.pairs, args.seconds)
        pairs = pair_folders(Path(tmp) / "est", Path(tmp) / "ref")
        reference_rows = None
        for j in jobs:
            load = os.getloadavg()[0]
            cpu0 = _cpu_seconds()
            t0 = time.perf_counter()
            rows = inline(pairs, names) if j == "inline" else evaluate_pairs(pairs, names, jobs=j)
            wall = time.perf_counter() - t0
            cpu = _cpu_seconds() - cpu0
            if reference_rows is None:
                reference_rows = rows
            same = all(_close(a[k], b[k]) for a, b in zip(reference_rows, rows) for k in a)
            results.append((j, wall, same, cpu, load))
            print(f"--jobs {j}: {wall:.1f} s for {len(pairs)} pairs ({wall / len(pairs):.3f} s/pair), CPU {cpu:.1f} s, "
                  f"load before {load:.2f}, same numbers as --jobs {jobs[0]} (1e-9): {same}", flush=True)
    base = results[0][1]
    cmd = "python benchmarks/eval_jobs.py " + " ".join(
        f"--{k} {v}" for k, v in [("pairs", args.pairs), ("seconds", args.seconds), ("metrics", args.metrics),
                                  ("jobs", args.jobs)]
    )
    lines = [
        SECTION, "",
        f"Command: `{cmd}`  ",
        f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}  ",
        f"Date: {datetime.now():%Y-%m-%d %H:%M}; the machine may have been shared with other jobs.  ",
        f"Packages: {versions()}", "",
        f"{args.pairs} pairs of {args.seconds:g} s cropped from the 15 real dev pairs (estimate = the noisy file); "
        f"metrics: {', '.join(names)}. Wall time includes starting the spawned workers (one torch/BLAS thread "
        "each); CPU / wall is the number of cores the run actually got (2 at most here), and the load average "
        "before each run shows how busy the machine was with other jobs. `inline` computes the same rows in the "
        "benchmark's own process (no worker: what `--jobs 1` did before issue #20, when a segfault in a metric's "
        "C code took the whole report down); every `--jobs N` runs crash-safe workers.", "",
        "| --jobs | wall time (s) | s / pair | speed-up | CPU time (s) | CPU / wall | load avg before | "
        "same numbers (1e-9) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [f"| {j} | {w:.1f} | {w / args.pairs:.3f} | {base / w:.2f}x | {c:.1f} | {c / w:.2f} | {ld:.2f} | "
              f"{'yes' if s else 'NO'} |" for j, w, s, c, ld in results]
    if args.out:
        write_section(args.out, SECTION, "\n".join(lines) + "\n")
        print(f"wrote the '{SECTION}' section of {args.out}")
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
