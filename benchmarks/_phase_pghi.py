"""PGHI one clip at a time on one thread: the compiled heap integration against the Python/heapq steps (the same
phase bit for bit, cspec.phase._heap), and PGHI+FGLA-32 / -100 with their FGLA parts (issue #23)."""

from __future__ import annotations

import math
import time

import torch


def pghi_rows(clips, repeats: int) -> list[str]:
    from cspec.phase import _heap, fast_griffin_lim, pghi_phase
    from cspec.spectral.stft import STFTConfig, stft

    cfg = STFTConfig(512, 128, window="hann", pad_mode="constant")
    mags = [stft(x, cfg).abs() for x in clips]
    seconds = sum(x.shape[-1] for x in clips) / 16000
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    was = _heap.COMPILED
    try:
        def timed(fn) -> tuple[float, list]:
            total, outs = 0.0, []
            for i, (m, x) in enumerate(zip(mags, clips)):
                best = math.inf
                for _ in range(repeats):
                    start = time.perf_counter()
                    out = fn(i, m, x.shape[-1])
                    best = min(best, time.perf_counter() - start)
                total += best
                outs.append(out)
            return total, outs

        pghi_phase(mags[0][:, :20], cfg)  # compiles (or loads the cache) before timing
        rows = {}
        _heap.COMPILED = False
        rows["PGHI, heapq steps (before)"], slow = timed(lambda i, m, n: pghi_phase(m, cfg, tol=1e-5))
        _heap.COMPILED = was
        rows["PGHI, compiled heap integration"], fast = timed(lambda i, m, n: pghi_phase(m, cfg, tol=1e-5))
        same = all(torch.equal(a, b) for a, b in zip(slow, fast))
        for k in (32, 100):
            t, _ = timed(lambda i, m, n, k=k: fast_griffin_lim(m, k, cfg, n, momentum=0.99, init=fast[i]))
            rows[f"its FGLA-{k} part"] = t
            rows[f"PGHI+FGLA-{k} (compiled PGHI)"] = rows["PGHI, compiled heap integration"] + t
    finally:
        _heap.COMPILED = was
        torch.set_num_threads(threads)
    lines = [f"PGHI one clip at a time on one thread ({len(clips)} clips, {seconds:.1f} s, n_fft 512 / hop 128, "
             f"fastest of {repeats}); the compiled and the heapq integration give the same phase: "
             f"{'yes, bit for bit' if same else 'NO'}.", "", "| what | RTF |", "|---|---:|"]
    lines += [f"| {name} | {t / seconds:.4f} |" for name, t in rows.items()]
    return lines
