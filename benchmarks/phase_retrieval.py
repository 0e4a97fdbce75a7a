"""Phase retrieval side by side: cspec GLA / FGLA / RTISI-LA / PGHI / PGHI+FGLA against librosa.griffinlim.

One process, the same clips, the same STFT (n_fft 512, periodic Hann, zero centre padding as librosa pads by
default) at hop 128 and hop 256.  For every method it reports the mean spectral convergence in dB (Sturmel &
Daudet 2011, eq. 4, via cspec.metrics.spectral), the mean wide-band PESQ (ITU-T P.862.2 through the ``pesq``
package at 16 kHz; a clip where PESQ fails counts as NaN and is left out of the mean) and the real-time factor
(wall-clock processing time / audio duration; cspec batches all clips in one call, librosa runs clip by clip).
It also counts the iterations of PGHI-initialised FGLA needed to reach the SC of random-init FGLA at --iters.

    .venv/bin/python benchmarks/phase_retrieval.py --n-clips 20 --iters 100 --repeats 3 --out benchmarks/RESULTS.md

Smoke run: ``--n-clips 3 --iters 10``.  Timings need a quiet machine: other jobs on the CPUs hurt multi-threaded
torch far more than single-threaded numpy (compare the "1 thread" row).

The table replaces only the ``## Phase retrieval`` section of --out.

``--per-clip``: one clip at a time, as users call it: ``cspec.phase.reconstruct(mag, "fgla", 100)`` with torch's
default threads against ``librosa.griffinlim`` (momentum 0.99, same n_fft 512 / hop 128 / Hann, zero padding),
each clip timed --repeats times (interleaved, the fastest kept) after a warm-up, on an idle machine and beside a competing process (numpy matmuls
busy-looping on one core), also with the thread policy switched off (the code before it: torch's threads in
every iteration).  Reports the median and max seconds per clip, the median and worst per-clip speed-up over
librosa (target >= 5x in both conditions) and the mean SC of both; replaces ``## Phase retrieval: one clip at a
time``.

    .venv/bin/python benchmarks/phase_retrieval.py --per-clip --n-clips 20 --repeats 3 --out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from _results import cpu_name, write_section

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Phase retrieval"
PER_CLIP = "## Phase retrieval: one clip at a time"
_BUSY = "import numpy as np\na = np.random.rand(400, 400)\nwhile True:\n    a @ a\n"


def pick_clips(data: Path, n: int, min_s: float, max_s: float) -> list[str]:
    """Clean speech of min_s..max_s seconds from the manifest, one per speaker in turn (speakers sorted)."""
    by_speaker: dict[str, list[str]] = defaultdict(list)
    with open(data / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            kind = row["kind"]
            if row["path"].startswith("speech/") and kind.startswith("clean") and "radio" not in kind \
                    and min_s <= float(row["duration_s"]) <= max_s:
                by_speaker[row["speaker"]].append(row["path"])
    lists = [sorted(by_speaker[s]) for s in sorted(by_speaker)]
    picked: list[str] = []
    for rank in range(max(map(len, lists), default=0)):
        picked += [paths[rank] for paths in lists if rank < len(paths)]
    if len(picked) < n:
        sys.exit(f"only {len(picked)} clean clips of {min_s}-{max_s} s in {data}/manifest.csv; lower --n-clips")
    return picked[:n]


def pesq_wb(ref: np.ndarray, deg: np.ndarray) -> float:
    from pesq import pesq

    try:
        return float(pesq(16000, ref.astype(np.float64), deg.astype(np.float64), "wb"))
    except Exception:  # NoUtterancesError, BufferTooShortError ...: scored as missing
        return math.nan


def machine() -> str:
    cpu = cpu_name()
    import librosa

    return (f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), librosa {librosa.__version__}, numpy {np.__version__}, "
            f"Python {platform.python_version()}, {platform.system()}")


def buckets(frames: list[int], ratio: float = 1.25) -> list[list[int]]:
    """Clip indices grouped by frame count (sorted, a new group when one is ``ratio`` x the group's first)."""
    order = sorted(range(len(frames)), key=frames.__getitem__)
    groups: list[list[int]] = []
    for i in order:
        if groups and frames[i] <= ratio * frames[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def run_hop(clips, hop: int, args) -> tuple[list[tuple], str]:
    import librosa

    from cspec.metrics.spectral import spectral_convergence_db
    from cspec.phase import fast_griffin_lim, pghi_phase, rtisi_la
    from cspec.spectral.stft import STFTConfig, istft, stft

    cfg = STFTConfig(512, hop, window="hann", pad_mode="constant")
    mags = [stft(x, cfg).abs() for x in clips]
    lengths = [x.shape[-1] for x in clips]
    seconds = sum(lengths) / 16000
    groups = buckets([m.shape[-1] for m in mags])
    batches = []  # (clip indices, zero-padded magnitudes, padded length) per group of similar length
    for idx in groups:
        frames = max(mags[i].shape[-1] for i in idx)
        batch = torch.stack([torch.nn.functional.pad(mags[i], (0, frames - mags[i].shape[-1])) for i in idx])
        batches.append((idx, batch, cfg.hop_length * (frames - 1)))

    def score(name: str, waves, elapsed: float, note: str = "") -> tuple:
        waves = [torch.as_tensor(w)[..., :n].float() for w, n in zip(waves, lengths)]
        sc = [spectral_convergence_db(m, w, cfg).item() for m, w in zip(mags, waves)]
        pq = [pesq_wb(x.numpy(), w.numpy()) for x, w in zip(clips, waves)] if not args.no_pesq else [math.nan]
        fails = int(np.isnan(pq).sum()) if not args.no_pesq else 0
        row = (name, note, float(np.mean(sc)), float(np.nanmean(pq)) if fails < len(pq) else math.nan, fails,
               elapsed / seconds, elapsed)
        print(f"hop {hop:3d}  {name:28s} SC {row[2]:7.2f} dB  PESQ {row[3]:.3f}  RTF {row[5]:.4f}", flush=True)
        return row

    def batched(fn, extra=None):
        """Run fn(batch, length, extra_of_group) over the groups; (waves in clip order, seconds, outputs)."""
        waves, outs, elapsed = [None] * len(clips), [], 0.0
        for g, (idx, batch, length) in enumerate(batches):
            best = math.inf
            for _ in range(args.repeats):  # the fastest of --repeats runs
                start = time.perf_counter()
                out = fn(batch, length, None if extra is None else extra[g])
                best = min(best, time.perf_counter() - start)
            elapsed += best
            outs.append(out)
            for row, i in enumerate(idx):
                waves[i] = out[row]
        return waves, elapsed, outs

    rows, it = [], args.iters
    librosa.griffinlim(mags[0][:, :20].numpy(), n_iter=2, hop_length=hop, n_fft=512)  # warm-up (numba), untimed
    for name, alpha in (("librosa GLA", 0.0), ("librosa FGLA", 0.99)):
        waves, elapsed = [], 0.0
        for m, n in zip(mags, lengths):
            best = math.inf
            for _ in range(args.repeats):
                start = time.perf_counter()
                wave = librosa.griffinlim(m.numpy(), n_iter=it, hop_length=hop, n_fft=512, window="hann",
                                          length=n, momentum=alpha, random_state=args.seed)
                best = min(best, time.perf_counter() - start)
            waves.append(wave)
            elapsed += best
        rows.append(score(name, waves, elapsed, f"{it} it, clip by clip, numpy"))
    with torch.inference_mode():
        fast_griffin_lim(batches[0][1][:1, :, :8], 1, cfg)  # warm-up of the torch FFT plans, untimed
        for name, alpha in (("cspec GLA", 0.0), ("cspec FGLA", 0.99)):
            waves, el, _ = batched(lambda b, n, _: fast_griffin_lim(b, it, cfg, n, momentum=alpha, seed=args.seed))
            rows.append(score(name, waves, el, f"{it} it, batched"))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        waves, el, _ = batched(lambda b, n, _: fast_griffin_lim(b, it, cfg, n, momentum=0.99, seed=args.seed))
        torch.set_num_threads(threads)
        rows.append(score("cspec FGLA, 1 thread", waves, el, f"{it} it, batched"))
        waves, el, _ = batched(lambda b, n, _: rtisi_la(b, cfg, n, n_iter=args.rtisi_iters, lookahead=3))
        rows.append(score("cspec RTISI-LA", waves, el, f"{args.rtisi_iters} updates/frame, L=3"))
        _, el_pghi, phases = batched(lambda b, n, _: pghi_phase(b, cfg, tol=1e-5, seed=args.seed))
        waves, _, _ = batched(lambda b, n, ph: istft(torch.polar(b, ph), cfg, n), phases)
        rows.append(score("cspec PGHI", waves, el_pghi, "tol 1e-5, gamma 0.25645 L^2"))
        waves, el, _ = batched(lambda b, n, ph: fast_griffin_lim(b, it, cfg, n, momentum=0.99, init=ph), phases)
        rows.append(score("cspec PGHI+FGLA", waves, el + el_pghi, f"{it} it"))
        if args.lp is not None:
            import _phase_learned as pl

            more, lines, _ = pl.learned_rows(args.lp, cfg, mags, lengths, batches, batched, score,
                                             args.learned_iters, args.repeats, seconds)
            rows += more
            args.learned_lines = getattr(args, "learned_lines", []) + [f"hop {hop}: {line}" for line in lines]

        # iterations of PGHI-started FGLA needed to reach random-start FGLA-`it`'s mean SC (exact per clip)
        target = rows[3][2]
        curve = np.zeros((it + 1, len(clips)))
        for (idx, batch, length), ph in zip(batches, phases):
            def track(n, rebuilt, idx=idx, length=length):
                x = istft(rebuilt, cfg, length)  # x_n, whose STFT is `rebuilt`
                for row, i in enumerate(idx):
                    curve[n - 1, i] = spectral_convergence_db(mags[i], x[row, :lengths[i]], cfg).item()

            fast_griffin_lim(batch, it + 1, cfg, length, momentum=0.99, init=ph, callback=track)
    # the output of k iterations is x_{k+1}: the callback's value at iteration k + 1
    mean_curve = curve.mean(axis=1)
    reached = next((k for k in range(it + 1) if mean_curve[k] <= target), None)
    need = f"{reached}" if reached is not None else f"> {it}"
    speedup = rows[1][6] / rows[3][6]
    summary = (f"hop {hop}: PGHI+FGLA needs {need} iterations to reach random-init FGLA-{it}'s mean SC "
               f"({target:.2f} dB) [target <= 40: {'met' if reached is not None and reached <= 40 else 'NOT met'}]; "
               f"cspec FGLA is {speedup:.1f}x faster than librosa FGLA ({rows[1][6] / rows[4][6]:.1f}x on 1 "
               f"thread) at SC {rows[3][2]:.2f} vs {rows[1][2]:.2f} dB [target >= 5x: "
               f"{'met' if speedup >= 5 else 'NOT met'}]; cspec ran {len(batches)} batches of similar length")
    print(summary, flush=True)
    return rows, summary


def per_clip(clips, args) -> str:
    """Per-clip FGLA-100 (cspec's default path, and with the thread policy off) against librosa.griffinlim."""
    import subprocess

    import librosa

    from cspec.metrics.spectral import spectral_convergence_db
    from cspec.phase import _fused, _threads, reconstruct
    from cspec.spectral.stft import STFTConfig, stft

    cfg = STFTConfig(512, 128, window="hann", pad_mode="constant")
    mags = [stft(x, cfg).abs() for x in clips]
    it = args.iters

    def run_all(label: str) -> dict:
        out = {"cspec": [], "cspec, torch kernels": [], "cspec, policy off": [], "librosa": [], "sc_cspec": [],
               "sc_librosa": []}
        librosa.griffinlim(mags[0].numpy(), n_iter=2, hop_length=128, n_fft=512)  # warm-ups, untimed
        reconstruct(mags[0], "fgla", 2, cfg, clips[0].shape[-1])
        for x, m in zip(clips, mags):
            n = x.shape[-1]
            times = {"cspec": [], "cspec, torch kernels": [], "cspec, policy off": [], "librosa": []}
            for _ in range(args.repeats):  # interleaved, so that a burst of other work hits all alike
                # cspec as shipped; with the loop's torch kernels; with torch's threads throughout (no policy)
                for key, module, attr, value in (("cspec", None, None, None),
                                                 ("cspec, torch kernels", _fused, "AVAILABLE", False),
                                                 ("cspec, policy off", _threads, "SINGLE_THREAD_WORK", 0)):
                    old = getattr(module, attr) if module else None
                    if module:
                        setattr(module, attr, value)
                    try:
                        start = time.perf_counter()
                        y_key = reconstruct(m, "fgla", it, cfg, n, seed=args.seed)
                        times[key].append(time.perf_counter() - start)
                    finally:
                        if module:
                            setattr(module, attr, old)
                    if key == "cspec":
                        y = y_key
                start = time.perf_counter()
                z = librosa.griffinlim(m.numpy(), n_iter=it, hop_length=128, n_fft=512, window="hann", length=n,
                                       momentum=0.99, random_state=args.seed)
                times["librosa"].append(time.perf_counter() - start)
            for key, v in times.items():
                out[key].append(min(v))
            out["sc_cspec"].append(spectral_convergence_db(m, y, cfg).item())
            out["sc_librosa"].append(spectral_convergence_db(m, torch.from_numpy(z).float(), cfg).item())
        t = {k: np.array(v) for k, v in out.items()}
        print(f"{label}: cspec median {np.median(t['cspec']):.3f} s max {t['cspec'].max():.3f} s, torch kernels median "
              f"{np.median(t['cspec, torch kernels']):.3f}, policy off median "
              f"{np.median(t['cspec, policy off']):.3f} max {t['cspec, policy off'].max():.3f}, librosa median "
              f"{np.median(t['librosa']):.3f}", flush=True)
        return t

    results = [("no competitor started", run_all("no competitor"))]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    busy = subprocess.Popen([sys.executable, "-c", _BUSY], env=env)
    try:
        time.sleep(1.0)
        results.append(("one core busy (numpy matmul loop)", run_all("busy")))
    finally:
        busy.kill()
        busy.wait()
    lines = [f"Each clip timed {args.repeats} times, interleaved, the fastest kept. "
             f"{len(clips)} clips of {min(x.shape[-1] for x in clips) / 16000:.1f}-"
             f"{max(x.shape[-1] for x in clips) / 16000:.1f} s, FGLA {it} iterations, momentum 0.99, n_fft 512, hop "
             f"128, Hann, zero centre padding; torch's default of {torch.get_num_threads()} threads for the caller.", "",
             "| machine | code | median s/clip | max s/clip | speed-up over librosa: median | worst clip | mean SC (dB) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    verdicts = []
    for label, t in results:
        for code in ("cspec", "cspec, torch kernels", "cspec, policy off", "librosa"):
            ratio = t["librosa"] / t[code]
            sc = t["sc_librosa" if code == "librosa" else "sc_cspec"].mean()
            name = {"cspec": "cspec.phase.reconstruct (1 thread below 2^22 samples/iteration, fused compiled passes)",
                    "cspec, torch kernels": "the same thread policy, torch's element-wise kernels (before)",
                    "cspec, policy off": "torch's kernels on torch's threads in every iteration (before that)",
                    "librosa": f"librosa.griffinlim {librosa.__version__}"}[code]
            lines.append(f"| {label} | {name} | {np.median(t[code]):.3f} | {t[code].max():.3f} | "
                         f"{np.median(ratio):.1f}x | {ratio.min():.1f}x | {sc:.2f} |")
        r = t["librosa"] / t["cspec"]
        verdicts.append(f"{label}: median {np.median(r):.1f}x, worst clip {r.min():.1f}x "
                        f"[target >= 5x: {'met' if np.median(r) >= 5 else 'NOT met'} at the median]")
    import _phase_pghi

    return "\n".join(lines + ["", *[f"- {v}" for v in verdicts], "", *_phase_pghi.pghi_rows(clips, args.repeats)])


def main(argv=None) -> int:
    default_data = os.environ.get("CSPEC_DATA", str(REPO.parent / "shared" / "data"))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path(default_data), help="shared data folder (manifest.csv)")
    p.add_argument("--n-clips", type=int, default=20, help="clean utterances of >= --min-seconds")
    p.add_argument("--iters", type=int, default=100, help="iterations of every Griffin-Lim variant")
    p.add_argument("--rtisi-iters", type=int, default=20, help="RTISI-LA updates per frame")
    p.add_argument("--hops", type=int, nargs="+", default=[128, 256])
    p.add_argument("--min-seconds", type=float, default=1.5)
    p.add_argument("--max-seconds", type=float, default=6.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=1, help="time each call this many times, keep the fastest")
    p.add_argument("--no-pesq", action="store_true", help="skip PESQ (faster smoke runs)")
    p.add_argument("--out", type=Path, default=None, help="markdown file whose '## Phase retrieval' is replaced")
    p.add_argument("--per-clip", action="store_true", help="one clip at a time, idle and beside a busy core")
    p.add_argument("--clips", choices=("pool", "read-test", "dev"), default="pool",
                   help="pool: clean clips of the shared manifest; read-test: sentences of speech_read's test "
                   "speakers; dev: the clean side of the dev pairs (default: %(default)s)")
    p.add_argument("--learned", default=None, metavar="NAME|DIR",
                   help="add the learned method (e.g. phase): prediction + FGLA-k for each --learned-iters, batched, "
                   "and one clip at a time on one thread against PGHI+FGLA-100")
    p.add_argument("--learned-iters", type=int, nargs="+", default=[0, 8, 16, 32])
    p.add_argument("--enhanced", default=None, metavar="MODEL",
                   help="with --learned: also rebuild MODEL's enhanced magnitude on the dev pairs with each phase "
                   "(hop 128)")
    p.add_argument("--section", default=None, help="the section of --out to replace (default: per --clips)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from cspec import audio

    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    import _phase_learned as pl

    if args.clips == "read-test":
        paths = pl.read_test_clips(args.data, args.n_clips, args.min_seconds, args.max_seconds)
    elif args.clips == "dev":
        paths = pl.dev_clips(args.data)
    else:
        paths = [args.data / rel for rel in pick_clips(args.data, args.n_clips, args.min_seconds, args.max_seconds)]
    clips = [audio.load(path, sr=16000, mono=True)[0][0] for path in paths]
    section = args.section or (SECTION if args.clips == "pool" and not args.learned else
                               f"{SECTION}: learned, {args.clips} clips")
    args.lp = None
    if args.learned:
        from cspec.infer.phase import LearnedPhase

        args.lp = LearnedPhase.from_pretrained(args.learned)
    total = sum(x.shape[-1] for x in clips) / 16000
    print(f"{len(clips)} clips, {total:.1f} s of speech; {machine()}", flush=True)
    if args.per_clip:
        body = per_clip(clips, args)
        if args.out:
            cmd = "python benchmarks/phase_retrieval.py " + " ".join(argv if argv is not None else sys.argv[1:])
            write_section(args.out, PER_CLIP, "\n".join([
                PER_CLIP, "", f"Command: `{cmd}`  ", f"Machine: {machine()}  ",
                f"Date: {time.strftime('%Y-%m-%d %H:%M')}; load average at the start {load}.", "", body, ""]))
            print(f"wrote the '{PER_CLIP}' section of {args.out}")
        return 0
    tables, summaries = [], []
    for hop in args.hops:
        rows, summary = run_hop(clips, hop, args)
        summaries.append(summary)
        lines = [f"**n_fft 512, hop {hop}, Hann** ({len(clips)} clips, {total:.1f} s)", "",
                 "| method | setting | SC (dB) | PESQ-WB | PESQ fails | RTF | time (s) |",
                 "|---|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.3f} | {r[4]} | {r[5]:.4f} | {r[6]:.2f} |" for r in rows]
        tables.append("\n".join(lines))
    summaries += getattr(args, "learned_lines", [])
    extra = []
    if args.lp is not None and args.enhanced:
        from cspec.spectral.stft import STFTConfig

        extra = [f"**A magnitude-only enhancer's output rebuilt** (dev pairs, the magnitude of `{args.enhanced}`'s "
                 "output at n_fft 512 / hop 128; PESQ-WB and SI-SDR against the clean side)", "",
                 pl.enhanced_section(args.data, args.lp, args.enhanced, args.iters,
                                     STFTConfig(512, 128, window="hann", pad_mode="constant")), ""]
        print("\n".join(extra), flush=True)
    if args.out:
        cmd = "python benchmarks/phase_retrieval.py " + " ".join(argv if argv is not None else sys.argv[1:])
        text = "\n".join([
            section, "",
            f"Command: `{cmd}`  ", f"Machine: {machine()}  ",
            f"Date: {time.strftime('%Y-%m-%d %H:%M')}; load average at the start {load}: other jobs shared the "
            "CPUs when it is above 0.5, and multi-threaded torch suffers most from that.", "",
            "Spectral convergence (SC, lower is better) and PESQ against the original clip; RTF = processing "
            "time / audio duration. librosa runs clip by clip in numpy; cspec runs the clips in a few batches of "
            "similar length (magnitudes zero-padded to the longest of the batch) in float32 torch. Random initial "
            "phases (librosa: RandomState(seed), cspec: torch.Generator(seed)).",
            "", *[t + "\n" for t in tables], *[f"- {s}" for s in summaries], "", *extra,
        ])
        write_section(args.out, section, text)
        print(f"wrote the '{section}' section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
