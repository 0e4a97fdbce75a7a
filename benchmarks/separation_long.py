"""Long files through ``cspec separate``: the speakers' order across chunks, peak memory and speed.

A 10-minute recording in which two ``test`` speakers of speech_read take turns (gaps of 0.1-0.4 s, every third
turn overlapping the previous one by 0.5 s; the same construction as ``tests/infer/test_separator.py``, whose
oracle test checks the stitching itself) is separated by ``cspec separate`` (chunks of 10 s, 2 s overlap, the
CLI's defaults) in a subprocess on one thread (``OMP_NUM_THREADS=1``, ``--backend torch``). Reported:

* order: the outputs are matched to the true sources once for the whole file (the assignment with the largest
  summed correlation); then in every 10 s window, for each talker active there (at least 1 % of its mean power
  over the file), the output with the larger SI-SDR against that talker (torchmetrics, Le Roux et al. 2019) must be
  the one the whole-file assignment gave it. "stable" is the share of (window, talker) pairs where it is;
* SI-SDR of each output against its talker over the whole file, and its improvement over the mixture;
* peak RSS of the subprocess (its own ``VmHWM``, ``long_memory.peak_rss``) and RTF (wall time / audio time, model
  loading included) for the 10-minute file and for 60 minutes (the 10-minute recording written six times, block
  by block).

    .venv/bin/python benchmarks/separation_long.py --model sep2 --out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from _results import machine, write_section
from long_memory import peak_rss
from scipy.optimize import linear_sum_assignment
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as si_sdr

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Separation: long files"
SR = 16000
SPEAKERS = ("ljspeech-lj", "speechocean762-9622")


def speaker_clips(data: Path, speaker: str, seconds: float) -> list[np.ndarray]:
    """The first ``seconds`` of one test speaker's sentences, mono at 16 kHz (cspec.audio: load, soxr VHQ)."""
    from cspec.audio import load, resample

    out, total = [], 0.0
    for r in csv.DictReader(open(data / "speech_read" / "manifest.csv")):
        if r["speaker"] != speaker or r["split"] != "test":
            continue
        wave, sr = load(data / "speech_read" / r["path"], mono=True)
        out.append(resample(wave, sr, SR)[0].numpy())
        total += out[-1].shape[0] / SR
        if total >= seconds:
            break
    return out


def turns(a: list[np.ndarray], b: list[np.ndarray], seconds: float, seed: int = 1) -> np.ndarray:
    """Two talkers taking turns: gaps 0.1-0.4 s, every third turn overlapping the previous one by 0.5 s."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out, pos, k = np.zeros((2, n), np.float32), 0, 0
    while pos < n:
        clip = (a, b)[k % 2][(k // 2) % len((a, b)[k % 2])]
        start = max(0, pos - SR // 2) if k % 3 == 2 else pos + int(rng.uniform(0.1, 0.4) * SR)
        m = min(len(clip), n - start)
        if m <= 0:
            break
        out[k % 2, start: start + m] += clip[:m]
        pos, k = start + m, k + 1
    return out


def order_report(est: torch.Tensor, ref: torch.Tensor, window: float = 10.0) -> dict:
    rows, cols = linear_sum_assignment((ref.double() @ est.double().T).numpy(), maximize=True)
    perm = cols[np.argsort(rows)]  # perm[k]: the output of talker k
    est = est[perm.tolist()]
    power = ref.square().mean(-1)
    w = int(window * SR)
    kept, total = 0, 0
    for s in range(0, ref.shape[-1] - w + 1, w):
        r, e = ref[:, s: s + w], est[:, s: s + w]
        for k in range(ref.shape[0]):
            if float(r[k].square().mean()) < 0.01 * float(power[k]):
                continue
            scores = [float(si_sdr(e[j], r[k])) for j in range(est.shape[0])]
            total += 1
            kept += int(int(np.argmax(scores)) == k)
    whole = si_sdr(est, ref)
    mix = si_sdr(ref.sum(0, keepdim=True).expand_as(ref), ref)
    return {"stable": kept / max(total, 1), "pairs": total, "si_sdr": whole.tolist(), "si_sdri": (whole - mix).tolist()}


def run(args) -> str:
    data = Path(args.data)
    a = speaker_clips(data, SPEAKERS[0], 320)
    b = speaker_clips(data, SPEAKERS[1], 320)
    sources = turns(a, b, 600)
    mix = sources.sum(0)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))
    lines = ["| file | peak RSS (MB) | wall time (s) | RTF | exit |", "|---|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ten = tmp / "meeting10.wav"
        sf.write(ten, mix, SR, subtype="FLOAT")
        cmd = [sys.executable, "-m", "cspec", "separate", str(ten), "-o", str(tmp / "out10"), "--model", args.model,
               "--backend", "torch"]
        rss, rc, secs, _ = peak_rss(cmd, env, args.kill_gb)
        lines.append(f"| 10 min | {rss:.0f} | {secs:.1f} | {secs / 600:.4f} | {rc} |")
        est = torch.stack([torch.from_numpy(sf.read(tmp / "out10" / f"meeting10_s{i}.wav", dtype="float32")[0])
                           for i in (1, 2)])
        rep = order_report(est, torch.from_numpy(sources))
        print(f"10 min: peak {rss:.0f} MB, {secs:.1f} s, stable {rep['stable']:.3f}", flush=True)
        hour = tmp / "meeting60.wav"
        with sf.SoundFile(str(hour), "w", SR, 1, "PCM_16") as f:
            for _ in range(6):
                f.write(mix)
        cmd = [sys.executable, "-m", "cspec", "separate", str(hour), "-o", str(tmp / "out60"), "--model", args.model,
               "--backend", "torch"]
        rss, rc, secs, killed = peak_rss(cmd, env, args.kill_gb)
        lines.append(f"| 60 min | {rss:.0f}{' (killed)' if killed else ''} | {secs:.1f} | {secs / 3600:.4f} | {rc} |")
        print(f"60 min: peak {rss:.0f} MB, {secs:.1f} s", flush=True)
    s1, s2 = rep["si_sdr"]
    i1, i2 = rep["si_sdri"]
    return (f"{SECTION}\n\nCommand: `{' '.join(shlex.quote(x) for x in ['.venv/bin/python', 'benchmarks/separation_long.py', *args.argv])}`  \n"
            f"Machine: {machine()}  \n"
            f"Model: `{args.model}`; two test speakers ({', '.join(SPEAKERS)}) taking turns for 10 minutes "
            f"(module docstring), `cspec separate` with its default chunks (10 s, 2 s overlap) on one thread.\n\n"
            f"Speaker order across chunks: in {rep['pairs']} (10 s window, active talker) pairs, "
            f"**{100 * rep['stable']:.1f} %** of the talkers were found in the output the whole-file assignment "
            f"gave them. Whole-file SI-SDR {s1:.2f} / {s2:.2f} dB, SI-SDRi {i1:.2f} / {i2:.2f} dB.\n\n"
            + "\n".join(lines) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="sep2", help="bundled separator name or model folder")
    p.add_argument("--data", default=os.environ.get("CSPEC_DATA", str(REPO.parent / "shared" / "data")))
    p.add_argument("--kill-gb", type=float, default=6.0, help="stop a run whose RSS passes this (GB)")
    p.add_argument("--out", type=Path, help="RESULTS.md whose long-file separation section is replaced")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    text = run(args)
    print(text)
    if args.out:
        write_section(args.out, SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
