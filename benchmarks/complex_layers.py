"""Forward+backward time and peak memory of a DCCRN-size complex encoder: cspec against its peers.

The network (Hu et al., 2020, DCCRN, Sec. 3 and Table 1): six complex Conv2d layers, kernel (5, 2), stride (2, 1),
frequency padding 2, causal time padding 1, channels 32-64-128-256-256-256 counted as DCCRN counts them (real +
imaginary, i.e. 16-32-64-128-128-128 complex channels), a split ReLU after each, then a two-layer complex LSTM
of 256 (128 complex units, DCCRN's form of two real LSTMs). Input: the complex STFT of 4 s at 16 kHz with
DCCRN's window 400 / hop 100 / FFT 512, DC bin dropped: (batch, 1, 256, 641).

Implementations (same weights, copied from the cspec model; outputs compared): see
``benchmarks/complex_encoders.py`` (cspec with its defaults, with block or Gauss convolutions everywhere, PyTorch
native complex, asteroid, cplxmodule).

Each implementation runs in its own subprocess so that its peak memory (CPU: high-water RSS above the
baseline; CUDA: ``max_memory_allocated``) is its own. Usage (full run, results into benchmarks/RESULTS.md):

    python benchmarks/complex_layers.py --batch 8 --seconds 4 --repeats 10 --write

Smoke run: ``python benchmarks/complex_layers.py --batch 1 --seconds 0.5 --repeats 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from _results import write_section
from complex_encoders import IMPLS, N_FREQ, CspecEncoder, build  # benchmarks/ is on sys.path when a script here runs

def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def worker(args) -> dict:
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    ref = CspecEncoder().to(dev)
    model = build(args.worker, ref).to(dev).train()
    frames = int(args.seconds * 16000) // 100 + 1
    z = torch.randn(args.batch, 1, N_FREQ, frames, dtype=torch.complex64, device=dev)

    def step():
        model.zero_grad(set_to_none=True)
        y = model(z)
        (y.real.square().mean() + y.imag.square().mean()).backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    base = _rss_kib()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base_cuda = torch.cuda.memory_allocated()
    times = []
    for i in range(args.warmup + args.repeats):
        t0 = time.perf_counter()
        step()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    if dev.type == "cuda":
        peak_mib = (torch.cuda.max_memory_allocated() - base_cuda) / 2 ** 20
    else:
        peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    with torch.no_grad():
        diff = (model(z) - ref(z)).abs().max().item()
        scale = ref(z).abs().max().item()
    return {"impl": args.worker, "median_s": statistics.median(times), "min_s": min(times), "peak_mib": peak_mib,
            "max_abs_diff": diff, "output_max": scale}


def run_all(args) -> list[dict]:
    results = []
    for impl in args.impls.split(","):
        cmd = [sys.executable, __file__, "--worker", impl, "--batch", str(args.batch), "--seconds", str(args.seconds),
               "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--threads", str(args.threads),
               "--device", args.device]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{impl}: skipped ({last})", file=sys.stderr)
            results.append({"impl": impl, "skipped": last})
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), file=sys.stderr)
    return results


def table(args, results: list[dict]) -> str:
    frames = int(args.seconds * 16000) // 100 + 1
    lines = [
        "## Complex layers",
        "",
        f"`python benchmarks/complex_layers.py --batch {args.batch} --seconds {args.seconds} --repeats {args.repeats}"
        f" --device {args.device}` on {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads() if not args.threads else args.threads} threads.",
        f"DCCRN-size encoder (6 complex convs 32-64-128-256-256-256 real+imag channels, 2-layer complex LSTM 256), "
        f"input ({args.batch}, 1, {N_FREQ}, {frames}) complex64, one training step (forward + backward).",
        "",
        "| implementation | median step (s) | min (s) | peak memory (MiB) | max abs diff vs cspec |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['impl']} | skipped: {r['skipped'][:60]} | | | |")
        else:
            lines.append(f"| {r['impl']} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['peak_mib']:.0f} | "
                         f"{r['max_abs_diff']:.2e} |")
    lines += ["", "All implementations share cspec's weights. `native` and `cplxmodule` have no complex LSTM: their "
              "LSTM part is two real `nn.LSTM` applied four times (DCCRN's reference code); `asteroid` wraps "
              "`nn.LSTM` in its `ComplexMultiplicationWrapper`. Peak memory: high-water RSS above the baseline "
              "(CPU) or `max_memory_allocated` (CUDA)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--write", action="store_true", help="write the table into benchmarks/RESULTS.md")
    p.add_argument("--worker", choices=IMPLS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    section = table(args, run_all(args))
    print(section)
    if args.write:
        write_section(Path(__file__).with_name("RESULTS.md"), "## Complex layers", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
