"""Peak memory of ``cspec reconstruct`` and ``cspec plot`` on long files, before and after block-wise processing,
and the quality cost of block-wise phase retrieval.

Memory: a file of N minutes (speech from examples/speech.flac repeated, each repeat at another level, plus
low noise, 16 kHz mono PCM-16) is written block by block into a temporary folder (nothing is kept), then each
command runs in its own subprocess and its peak resident set size is its own ``VmHWM`` (:func:`peak_rss`).
"Before" runs the same command on an old checkout (``git worktree add /tmp/old <commit>``; ``--old-src /tmp/old/src`` puts it first on PYTHONPATH).  A run whose RSS
passes ``--kill-gb`` is stopped (reported as "> limit"), so that an old run cannot take the machine's memory.

Quality (``--quality``): a 45 s speech clip (LJSpeech clips of the shared data, joined) through every method,
whole-signal against block-wise (20 s blocks with 1 s look-ahead, the CLI's defaults, and 5 s blocks), with the
spectral convergence (Sturmel & Daudet 2011, eq. 4) of the whole clip and of the 16 frames around each join, and
wide-band PESQ (ITU-T P.862.2, via cspec.metrics) of the whole clip and of 4 s around each join.

    .venv/bin/python benchmarks/long_memory.py --minutes 3 10 30 60 --old-src /tmp/old/src --old-minutes 3 10 30 \\
        --out benchmarks/RESULTS.md
    .venv/bin/python benchmarks/long_memory.py --quality --out benchmarks/RESULTS.md

The tables replace the sections ``## Long files: memory`` and ``## Long files: block-wise phase retrieval``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from _results import machine, write_section

REPO = Path(__file__).resolve().parents[1]
MEMORY = "## Long files: memory"
QUALITY = "## Long files: block-wise phase retrieval"


def write_long(path: Path, minutes: float, rate: int = 16000) -> int:
    """N minutes of speech (examples/speech.flac repeated at levels -6 ... -26 dB) plus noise at -50 dBFS."""
    speech, sr = sf.read(REPO / "examples" / "speech.flac", dtype="float32")
    assert sr == rate
    rng, total, done, k = np.random.default_rng(0), int(minutes * 60 * rate), 0, 0
    with sf.SoundFile(str(path), "w", rate, 1, "PCM_16") as f:
        while done < total:
            piece = speech[: total - done] * 10 ** (-(6 + 5 * (k % 5)) / 20)
            f.write(piece + 0.003 * rng.standard_normal(piece.shape[0]).astype(np.float32))
            done, k = done + piece.shape[0], k + 1
    return total


def peak_rss(cmd: list[str], env: dict, kill_gb: float) -> tuple[float, int, float, bool]:
    """Run ``cmd``; return (peak RSS in MB, exit code, seconds, killed for memory).

    The peak is the child's own ``VmHWM`` (``/proc/PID/status``: the high-water mark of its address space after
    ``exec``), read every 20 ms until it exits. ``os.wait4``'s ``ru_maxrss`` also counts the parent's pages the
    child starts from, which inflates it whenever the caller holds much memory (torch, long signals); it is the
    fallback only for a child that ends within a few polls (its VmHWM may not have been read at its peak)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed, peak = threading.Event(), [0]

    def watch() -> None:  # the child's high-water mark; stop a run that would take the machine's memory
        while proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/status") as fh:
                    fields = dict(line.split(":", 1) for line in fh if ":" in line)
                rss, hwm = int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
            except (OSError, KeyError, ValueError):
                return
            peak[0] = max(peak[0], hwm)  # Popen returns after the exec: this is the child's own
            if rss > kill_gb * 1024 * 1024:
                killed.set()
                proc.send_signal(signal.SIGKILL)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace").strip().splitlines()
    proc.stderr.close()
    if proc.returncode not in (0,) and not killed.is_set():
        print(f"    exit {proc.returncode}: {err[-1] if err else ''}", flush=True)
    seconds = time.perf_counter() - start
    kb = peak[0] if seconds > 0.2 and peak[0] else usage.ru_maxrss
    return kb / 1024, proc.returncode, seconds, killed.is_set()


def memory(args) -> str:
    rows = []
    sides = [("after", str(REPO / "src"), args.minutes)]
    if args.old_src:
        sides.insert(0, ("before", args.old_src, args.old_minutes))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for minutes in args.minutes:
            src = tmp / f"long{minutes:g}.wav"
            write_long(src, minutes)
            for side, path, which in sides:
                if minutes not in which:
                    continue
                env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", ""))
                env = {k: v for k, v in env.items() if v != ""}
                for name, extra in (("reconstruct", ["-o", str(tmp / "out.wav"), *args.reconstruct_args]),
                                    ("plot", ["-o", str(tmp / "fig.png")])):
                    if name not in args.commands:
                        continue
                    cmd = [sys.executable, "-m", "cspec", name, str(src), *extra, "--overwrite"]
                    rss, rc, secs, killed = peak_rss(cmd, env, args.kill_gb)
                    rows.append((name, minutes, side, rss, rc, secs, killed))
                    print(f"{name:11s} {minutes:5g} min {side:6s} peak RSS {rss:7.0f} MB  exit {rc}  {secs:6.1f} s"
                          + ("  (killed: over the limit)" if killed else ""), flush=True)
            src.unlink()
    lines = ["| command | minutes | code | peak RSS (MB) | exit | wall time (s) |", "|---|---:|---|---:|---:|---:|"]
    for name, minutes, side, rss, rc, secs, killed in sorted(rows, key=lambda r: (r[0] != "reconstruct", r[1],
                                                                                    r[2] != "before")):
        shown = f"> {args.kill_gb * 1024:.0f} (stopped)" if killed else f"{rss:.0f}"
        note = "" if rc == 0 or killed else (" (SIGSEGV in PESQ)" if rc == -11 else "")
        lines.append(f"| {name} | {minutes:g} | {side} | {shown} | {rc}{note} | {secs:.0f} |")
    return "\n".join(lines)


def quality(args) -> str:
    import csv

    import torch

    from cspec import audio
    from cspec.metrics.intrusive import pesq
    from cspec.metrics.spectral import spectral_convergence_db
    from cspec.phase import reconstruct, reconstruct_blockwise
    from cspec.phase.blockwise import block_frames
    from cspec.spectral.stft import get_preset, stft

    data = Path(args.data)
    with open(data / "manifest.csv", newline="") as fh:
        rows = sorted((r for r in csv.DictReader(fh) if r["path"].startswith("speech/ljspeech/")),
                      key=lambda r: r["path"])
    parts, total = [], 0
    for r in rows:
        wave, _ = audio.load(data / r["path"], sr=16000, mono=True)
        parts.append(wave[0])
        total += wave.shape[-1]
        if total >= args.seconds * 16000:
            break
    x = torch.cat(parts)[: int(args.seconds * 16000)]
    cfg = get_preset("mpsenet")
    mag = stft(x, cfg).abs()
    n = x.shape[-1]

    def around(y: torch.Tensor, joins: list[int]) -> tuple[float, float]:
        est = stft(y, cfg).abs()
        sc = [20 * float(torch.log10((mag[:, j - 8: j + 8] - est[:, j - 8: j + 8]).norm()
                                     / mag[:, j - 8: j + 8].norm())) for j in joins]
        pq = [float(pesq(x[j * cfg.hop_length - 32000: j * cfg.hop_length + 32000],
                         y[j * cfg.hop_length - 32000: j * cfg.hop_length + 32000], 16000)) for j in joins]
        return float(np.mean(sc)), float(np.mean(pq))

    out = ["| method | run | SC (dB) | PESQ-WB | SC at joins (dB): run / whole | PESQ-WB at joins: run / whole "
           "| time (s) |", "|---|---|---:|---:|---:|---:|---:|"]
    block20, context = block_frames(cfg)
    for method, iters in (("pghi+fgla", 100), ("fgla", 100), ("gla", 100), ("pghi", None), ("rtisi", 20)):
        start = time.perf_counter()
        whole = reconstruct(mag, method, iters, cfg, n)
        runs = [("whole signal", whole, time.perf_counter() - start, None)]
        for label, block in (("blocks of 20 s + 1 s", block20), ("blocks of 5 s + 1 s", block20 // 4)):
            start = time.perf_counter()
            y = reconstruct_blockwise(mag, method, iters, cfg, n, block=block, context=context)
            runs.append((label, y, time.perf_counter() - start, list(range(block, mag.shape[-1] - 330, block))))
        for label, y, secs, joins in runs:
            sc, pq = spectral_convergence_db(mag, y, cfg).item(), float(pesq(x, y, 16000))
            if joins:
                (sc_j, pq_j), (sc_w, pq_w) = around(y, joins), around(whole, joins)
                at = f"{sc_j:.2f} / {sc_w:.2f} | {pq_j:.3f} / {pq_w:.3f}"
            else:
                at = "- | -"
            out.append(f"| {method} | {label} | {sc:.2f} | {pq:.3f} | {at} | {secs:.1f} |")
            print(out[-1], flush=True)
    return (f"A {x.shape[-1] / 16000:.0f} s clip of LJSpeech utterances joined, preset mpsenet (n_fft 400, hop 100, "
            f"Hann), 100 iterations (RTISI-LA: 20 per frame) per block.  'At joins': the mean over the block joins "
            f"of SC on the 16 frames around each and of PESQ-WB on the 4 s around each, for the block-wise output and for "
            f"the whole-signal output at the same places (where it has no join).\n\n" + "\n".join(out))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, nargs="+", default=[3, 10, 30, 60])
    p.add_argument("--old-src", default=None, help="src folder of the old checkout for the 'before' rows")
    p.add_argument("--old-minutes", type=float, nargs="+", default=[3, 10, 30])
    p.add_argument("--commands", nargs="+", default=["reconstruct", "plot"])
    p.add_argument("--reconstruct-args", nargs=argparse.REMAINDER, default=[],
                   help="extra arguments of cspec reconstruct (last on the line)")
    p.add_argument("--kill-gb", type=float, default=10.0, help="stop a run whose RSS passes this (GB)")
    p.add_argument("--quality", action="store_true", help="the block-wise quality table instead of memory")
    p.add_argument("--seconds", type=float, default=45.0, help="length of the quality clip")
    p.add_argument("--data", default=os.environ.get("CSPEC_DATA", str(REPO.parent / "shared" / "data")))
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    cmd = "python benchmarks/long_memory.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.quality:
        section, body = QUALITY, quality(args)
    else:
        section, body = MEMORY, (
            "Peak RSS of one `cspec` process (os.wait4 rusage) on a 16 kHz mono PCM-16 file of speech repeated at "
            "levels -6 ... -26 dB plus noise; reconstruct with its defaults (pghi+fgla, 100 iterations, preset "
            f"mpsenet{', ' + ' '.join(args.reconstruct_args) if args.reconstruct_args else ''}), plot with its "
            "defaults (all five panels).  Before: the code before this change; after: this code.  Target: <= 1.5 "
            "GB for one hour.\n\n" + memory(args))
    if args.out:
        text = "\n".join([section, "", f"Command: `{cmd}`  ", f"Machine: {machine()}  ",
                          f"Date: {time.strftime('%Y-%m-%d %H:%M')}; load average at the start {load}.", "", body,
                          ""])
        write_section(args.out, section, text)
        print(f"wrote the '{section}' section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
