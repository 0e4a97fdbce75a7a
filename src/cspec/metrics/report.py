"""Score folders of files: pairing by name, parallel workers, per-file rows with reasons, summary with 95 % CI.

The functions here compute and return; :mod:`cspec.cli.eval` prints. A file that cannot be read (NaN samples,
empty, not audio) gets NaN for every metric and the loader's message as its reason; a metric that fails on a
clip gets NaN and its own reason. Means leave NaN out and say how many were left out.
"""

from __future__ import annotations

import csv
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cspec.errors import ConfigError, CspecError

__all__ = ["AUDIO_EXTENSIONS", "Pair", "pair_folders", "score_pair", "evaluate_pairs", "summarize", "Summary",
           "write_csv", "columns"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".opus")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


@dataclass(frozen=True)
class Pair:
    """One item to score: its name (relative path without extension) and its files."""

    name: str
    est: str
    ref: str | None = None
    noisy: str | None = None


def _audio_files(folder: str | os.PathLike, role: str) -> dict[str, Path]:
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"--{role} {root}: no such folder")
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS:
            key = path.relative_to(root).with_suffix("").as_posix()
            if key in found:
                raise ConfigError(f"--{role} {root}: two files share the name '{key}' ({found[key].name}, {path.name})")
            found[key] = path
    if not found:
        raise ConfigError(f"--{role} {root}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in the folder")
    return found


def _list(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def pair_folders(est_dir, ref_dir=None, noisy_dir=None) -> list[Pair]:
    """Pair the files of the folders by relative path without extension (``a/b.wav`` pairs ``a/b.flac``).

    Raises :class:`ConfigError` listing every name that has no partner, so that nothing is scored silently
    on a subset.
    """
    ref = _audio_files(ref_dir, "ref") if ref_dir is not None else None
    est = _audio_files(est_dir, "est")
    noisy = _audio_files(noisy_dir, "noisy") if noisy_dir is not None else None
    problems = []
    for role, other in (("ref", ref), ("noisy", noisy)):
        if other is None:
            continue
        missing = sorted(set(est) - set(other))
        extra = sorted(set(other) - set(est))
        if missing:
            problems.append(f"{len(missing)} estimate(s) without a --{role} file: {_list(missing)}")
        if extra:
            problems.append(f"{len(extra)} --{role} file(s) without an estimate: {_list(extra)}")
    if problems:
        raise ConfigError("files do not pair by name; " + "; ".join(problems))
    return [
        Pair(k, str(est[k]), str(ref[k]) if ref else None, str(noisy[k]) if noisy else None) for k in sorted(est)
    ]


def columns(names: tuple[str, ...], noisy: bool) -> list[str]:
    """The columns of a per-file row, in order."""
    cols = ["file", *names]
    if noisy:
        cols += [f"noisy_{n}" for n in names] + [f"delta_{n}" for n in names]
    return cols + ["reason"]


def _reason_text(reasons: dict[str, str], prefix: str = "") -> list[str]:
    grouped: dict[str, list[str]] = {}
    for metric, why in reasons.items():
        grouped.setdefault(why, []).append(metric)
    return [f"{prefix}{', '.join(ms)}: {why}" for why, ms in grouped.items()]


def score_pair(pair: Pair, names: tuple[str, ...]) -> dict:
    """One per-file row: the metrics of ``pair`` (and of its noisy input and the improvement, if given)."""
    from cspec.audio import load
    from cspec.metrics.evaluate import evaluate_clip

    row: dict = {"file": pair.name}
    notes: list[str] = []
    try:
        ref, rate = load(pair.ref, mono=True) if pair.ref else (None, None)
        est, rate = load(pair.est, sr=rate, mono=True)
        values, reasons = evaluate_clip(None if ref is None else ref[0].double().numpy(), est[0].double().numpy(),
                                        rate, names)
        notes += _reason_text(reasons)
        if pair.noisy:
            noisy, _ = load(pair.noisy, sr=rate, mono=True)
            base, why = evaluate_clip(None if ref is None else ref[0].double().numpy(), noisy[0].double().numpy(),
                                      rate, names)
            notes += _reason_text(why, "noisy ")
            row.update({f"noisy_{n}": base[n] for n in names})
            row.update({f"delta_{n}": values[n] - base[n] for n in names})
    except CspecError as exc:  # the file itself is unusable: every metric NaN with the loader's message
        values = {n: math.nan for n in names}
        if pair.noisy:
            row.update({f"noisy_{n}": math.nan for n in names} | {f"delta_{n}": math.nan for n in names})
        notes = [f"all: {exc}"]
    row.update(values)
    row["reason"] = "; ".join(notes)
    return row


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


@contextmanager
def _blas_one_thread():
    """Limit the already loaded BLAS/OpenMP pools to one thread (threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield


@contextmanager
def _one_thread_env():
    """Children inherit one-thread settings for OpenMP/BLAS/numba (spawned workers read them at import)."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def evaluate_pairs(
    pairs: list[Pair], names: tuple[str, ...], jobs: int = 1, on_done: Callable[[dict], None] | None = None
) -> list[dict]:
    """Score every pair; ``jobs`` > 1 uses that many spawned processes, each with one torch/BLAS thread.

    ``on_done(row)`` is called as each file finishes (for a progress bar). Rows come back in ``pairs`` order.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    rows: list[dict | None] = [None] * len(pairs)
    if jobs == 1 or len(pairs) <= 1:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with _blas_one_thread():  # the same arithmetic as the workers: identical numbers for any --jobs
                for i, pair in enumerate(pairs):
                    rows[i] = score_pair(pair, names)
                    if on_done:
                        on_done(rows[i])
        finally:
            torch.set_num_threads(threads)
        return rows  # type: ignore[return-value]
    ctx = multiprocessing.get_context("spawn")
    try:
        with _one_thread_env(), ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker) as pool:
            futures = {pool.submit(score_pair, pair, names): i for i, pair in enumerate(pairs)}
            for fut in as_completed(futures):
                rows[futures[fut]] = fut.result()
                if on_done:
                    on_done(rows[futures[fut]])
    except BrokenProcessPool:
        raise CspecError("a worker process died (out of memory?); run again with fewer --jobs") from None
    return rows  # type: ignore[return-value]


@dataclass(frozen=True)
class Summary:
    """Mean, half-width of the 95 % confidence interval (Student t), count and NaN count of one column."""

    column: str
    mean: float
    ci95: float
    count: int
    nan: int


def _summary(column: str, values: list[float]) -> Summary:
    from scipy.stats import t

    arr = np.asarray(values, dtype=np.float64)
    ok = arr[np.isfinite(arr)]
    n = int(ok.size)
    mean = float(ok.mean()) if n else math.nan
    ci = float(t.ppf(0.975, n - 1) * ok.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return Summary(column, mean, ci, n, int(arr.size - n))


def summarize(rows: list[dict], names: tuple[str, ...]) -> list[Summary]:
    """One :class:`Summary` per metric column (and per ``noisy_``/``delta_`` column when present)."""
    present = [c for c in columns(names, True)[1:-1] if rows and c in rows[0]]
    return [_summary(c, [r[c] for r in rows]) for c in present]


def write_csv(rows: list[dict], path: str | os.PathLike, names: tuple[str, ...]) -> Path:
    """Write the per-file rows (NaN written as ``nan``, full float precision) to ``path``."""
    path = Path(path)
    cols = [c for c in columns(names, True) if rows and c in rows[0]]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        for row in rows:
            writer.writerow([row[c] if isinstance(row[c], str) else repr(float(row[c])) for c in cols])
    return path
