"""The learned-phase parts of benchmarks/phase_retrieval.py (issue #23): clip sets, learned rows, per-file timing
on one thread, and a magnitude-only enhancer's output rebuilt with each phase.

Clip sets: ``pool`` (clean clips of the shared manifest, the earlier tables), ``read-test`` (sentences of
speech_read's held-out ``test`` speakers, one per speaker in turn) and ``dev`` (the clean side of the 15 dev pairs).
"""

from __future__ import annotations

import csv
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch


def read_test_clips(data: Path, n: int, min_s: float, max_s: float) -> list[Path]:
    """Sentences of speech_read's ``test`` speakers, min_s..max_s seconds, one per speaker in turn."""
    by_speaker: dict[str, list[str]] = defaultdict(list)
    with open(data / "speech_read" / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["split"] == "test" and min_s <= float(row["duration_s"]) <= max_s:
                by_speaker[row["speaker"]].append(row["path"])
    lists = [sorted(by_speaker[s]) for s in sorted(by_speaker)]
    picked = [paths[r] for r in range(max(map(len, lists), default=0)) for paths in lists if r < len(paths)]
    if len(picked) < n:
        raise SystemExit(f"only {len(picked)} test sentences of {min_s}-{max_s} s; lower --n-clips")
    return [data / "speech_read" / p for p in picked[:n]]


def dev_clips(data: Path) -> list[Path]:
    """The clean files of the dev pairs."""
    return sorted(p for p in (data / "dev_pairs" / "clean").iterdir() if p.suffix in (".wav", ".flac"))


def one_thread_per_file(fn, mags, lengths, repeats: int) -> float:
    """Seconds to run ``fn(mag, length)`` on each clip alone on one torch thread (fastest of ``repeats``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        total = 0.0
        for m, n in zip(mags, lengths):
            best = math.inf
            for _ in range(repeats):
                start = time.perf_counter()
                fn(m, n)
                best = min(best, time.perf_counter() - start)
            total += best
        return total
    finally:
        torch.set_num_threads(threads)


def learned_rows(lp, cfg, mags, lengths, batches, batched, score, iters_list, repeats: int, seconds: float) -> tuple:
    """Rows of the learned method (prediction + k FGLA iterations, batched) and the per-file one-thread timings
    of learned+FGLA-k against PGHI+FGLA-100; returns (rows, summary lines)."""
    from cspec.phase import fast_griffin_lim, pghi_phase

    model = lp.model_for(cfg)
    kind = "NSPP" if hasattr(model, "predict_phase") else "DeGLI"
    rows, per_file = [], {}
    with torch.inference_mode():
        lp.reconstruct(batches[0][1][:1, :, :40], cfg, 1)  # warm-up, untimed
        for k in iters_list:
            waves, el, _ = batched(lambda b, n, _: lp.reconstruct(b, cfg, k, n))
            rows.append(score(f"cspec learned ({kind}) + FGLA-{k}", waves, el, f"{k} it, batched"))
        for k in iters_list:
            per_file[f"learned+FGLA-{k}"] = one_thread_per_file(lambda m, n: lp.reconstruct(m, cfg, k, n), mags,
                                                                lengths, repeats)
        per_file["PGHI+FGLA-100"] = one_thread_per_file(
            lambda m, n: fast_griffin_lim(m, 100, cfg, n, momentum=0.99, init=pghi_phase(m, cfg, tol=1e-5)),
            mags, lengths, repeats)
        per_file["PGHI+FGLA-32"] = one_thread_per_file(
            lambda m, n: fast_griffin_lim(m, 32, cfg, n, momentum=0.99, init=pghi_phase(m, cfg, tol=1e-5)),
            mags, lengths, repeats)
    ref = per_file["PGHI+FGLA-100"]
    lines = [f"one clip at a time on one thread: " + ", ".join(
        f"{name} RTF {t / seconds:.4f} ({ref / t:.1f}x faster than PGHI+FGLA-100)" if name != "PGHI+FGLA-100"
        else f"{name} RTF {t / seconds:.4f}" for name, t in per_file.items())]
    return rows, lines, per_file


def enhanced_section(data: Path, lp, enhancer: str, iters: int, cfg) -> str:
    """Dev pairs: the magnitude of ``enhancer``'s output rebuilt with the noisy phase, FGLA from the noisy phase,
    PGHI+FGLA, and the learned phase (+ FGLA); its own phase beside them. PESQ-WB and SI-SDR against clean."""
    from cspec import audio
    from cspec.infer import Enhancer
    from cspec.metrics import pesq, si_sdr
    from cspec.phase import fast_griffin_lim, pghi_phase
    from cspec.spectral.stft import istft, stft

    enh = Enhancer.from_pretrained(enhancer, backend="torch")
    scores: dict[str, list] = defaultdict(list)
    for noisy_path in sorted(p for p in (data / "dev_pairs" / "noisy").iterdir() if p.suffix in (".wav", ".flac")):
        clean = audio.load(data / "dev_pairs" / "clean" / noisy_path.name, sr=16000, mono=True)[0][0]
        noisy = audio.load(noisy_path, sr=16000, mono=True)[0][0]
        n = min(clean.shape[-1], noisy.shape[-1])
        clean, noisy = clean[:n], noisy[:n]
        with torch.inference_mode():
            out = enh.enhance(noisy, 16000)[..., :n].reshape(-1)
            spec, noisy_spec = stft(out, cfg), stft(noisy, cfg)
            mag = spec.abs()
            waves = {
                f"{enhancer} as it is (its own phase)": out,
                "its magnitude + the noisy phase": istft(torch.polar(mag, noisy_spec.angle()), cfg, n),
                f"its magnitude, FGLA-{iters} from the noisy phase": fast_griffin_lim(
                    mag, iters, cfg, n, momentum=0.99, init=noisy_spec.angle()),
                f"its magnitude, PGHI+FGLA-{iters}": fast_griffin_lim(mag, iters, cfg, n, momentum=0.99,
                                                                      init=pghi_phase(mag, cfg, tol=1e-5)),
                "its magnitude, learned phase alone": lp.reconstruct(mag, cfg, 0, n),
                "its magnitude, learned phase + FGLA-16": lp.reconstruct(mag, cfg, 16, n),
            }
        for name, w in waves.items():
            w = w.float()
            scores[name].append((float(pesq(clean.numpy(), w.numpy(), 16000)), float(si_sdr(clean.numpy(), w.numpy(), 16000))))
    lines = ["| phase of the enhanced magnitude | PESQ-WB | SI-SDR (dB) |", "|---|---:|---:|"]
    for name, vals in scores.items():
        arr = np.array(vals, dtype=float)
        lines.append(f"| {name} | {np.nanmean(arr[:, 0]):.3f} | {np.nanmean(arr[:, 1]):.2f} |")
    return "\n".join(lines)
