"""Score folders of files: pairing by name, parallel workers, per-file rows with reasons, summary with 95 % CI.

The functions here compute and return; :mod:`cspec.cli.eval` prints. A file that cannot be read (NaN samples,
empty, not audio) gets NaN for every metric and the loader's message as its reason; a metric that fails on a
clip gets NaN and its own reason, and so does one whose C code crashes its worker process (``crashed (signal
11)``). Means leave NaN out and say how many were left out.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cspec.errors import ConfigError, CspecError

__all__ = ["AUDIO_EXTENSIONS", "Pair", "pair_folders", "score_pair", "evaluate_pairs", "summarize", "Summary",
           "write_csv", "columns", "plan", "score_parts", "build_row", "all_nan"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".opus")


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


def plan(pair: Pair, names: tuple[str, ...]) -> list[tuple[str, str, tuple[str, ...]]]:
    """The steps of scoring ``pair``, in order: ``(phase, group, members)``, phase ``"est"`` or ``"noisy"``."""
    from cspec.metrics.evaluate import metric_groups

    phases = ("est", "noisy") if pair.noisy else ("est",)
    return [(phase, group, members) for phase in phases for group, members in metric_groups(names)]


def score_parts(pair: Pair, names: tuple[str, ...], skip=frozenset(), known: dict | None = None):
    """Score ``pair`` step by step, yielding messages: ``("loaded",)`` once the files are read, then
    ``("part", phase, group, values, reasons)`` per step of :func:`plan` not in ``skip``; or ``("failed",
    reason)`` when a file cannot be used. ``known`` holds values of earlier steps (``{phase: {metric: value}}``).
    """
    from cspec.audio import load
    from cspec.metrics.evaluate import score_group

    try:
        ref, rate = load(pair.ref, mono=True) if pair.ref else (None, None)
        est, rate = load(pair.est, sr=rate, mono=True)
        noisy = load(pair.noisy, sr=rate, mono=True)[0] if pair.noisy else None
    except Exception as exc:  # noqa: BLE001 - the file itself is unusable: every metric NaN with the reason
        yield ("failed", str(exc) if isinstance(exc, CspecError) else f"{type(exc).__name__}: {exc}")
        return
    yield ("loaded",)
    r = None if ref is None else ref[0].double().numpy()
    signals = {"est": est[0].double().numpy(), "noisy": None if noisy is None else noisy[0].double().numpy()}
    done = {phase: dict(v) for phase, v in (known or {}).items()}
    for phase, group, members in plan(pair, names):
        if (phase, group) in skip:
            continue
        values, reasons = score_group(group, members, r, signals[phase], rate, done.setdefault(phase, {}))
        done[phase].update(values)
        yield ("part", phase, group, values, reasons)


def build_row(pair: Pair, names: tuple[str, ...], parts: dict, failed: str | None = None) -> dict:
    """The per-file row from the steps' results ``{(phase, group): (values, reasons)}`` or a file failure."""
    row: dict = {"file": pair.name}
    phases = ("est", "noisy") if pair.noisy else ("est",)
    values = {phase: {n: math.nan for n in names} for phase in phases}
    reasons: dict[str, dict[str, str]] = {phase: {} for phase in phases}
    if failed is None:
        for phase, group, _members in plan(pair, names):
            got, why = parts[(phase, group)]
            values[phase].update(got)
            reasons[phase].update(why)
    row.update(values["est"])
    if pair.noisy:
        row.update({f"noisy_{n}": values["noisy"][n] for n in names})
        row.update({f"delta_{n}": values["est"][n] - values["noisy"][n] for n in names})
    notes = [f"all: {failed}"] if failed is not None else (
        _reason_text(reasons["est"]) + (_reason_text(reasons["noisy"], "noisy ") if pair.noisy else []))
    row["reason"] = "; ".join(notes)
    return row


def score_pair(pair: Pair, names: tuple[str, ...]) -> dict:
    """One per-file row, computed in this process: the metrics of ``pair`` (and of its noisy input and the
    improvement, if given). :func:`evaluate_pairs` runs the same steps in processes that may crash."""
    parts, failed = {}, None
    for msg in score_parts(pair, names):
        if msg[0] == "failed":
            failed = msg[1]
        elif msg[0] == "part":
            parts[(msg[1], msg[2])] = (msg[3], msg[4])
    return build_row(pair, names, parts, failed)


def evaluate_pairs(
    pairs: list[Pair],
    names: tuple[str, ...],
    jobs: int = 1,
    on_done: Callable[[dict], None] | None = None,
    *,
    worker_init: Callable[[], None] | None = None,
) -> list[dict]:
    """Score every pair in ``jobs`` worker processes (spawned, one torch/BLAS thread each; ``jobs=1`` too).

    A worker that dies (a segfault in a metric's C code, the out-of-memory killer) costs only the computation it
    was running: that metric of that file gets NaN with the reason ``crashed (signal 11)``, a fresh worker
    takes over, and every other value is kept (:mod:`cspec.metrics.workers`). ``on_done(row)`` is called as
    each file finishes (for a progress bar); rows come back in ``pairs`` order. ``worker_init`` is a picklable
    function that each worker calls once at start. As with any spawned process, a script calling this must
    guard its entry point with ``if __name__ == "__main__":``.
    """
    from cspec.metrics.workers import run_pool

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs must be a positive integer, got {jobs!r}")
    return run_pool(pairs, names, jobs, on_done, worker_init)


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


def all_nan(rows: list[dict], names: tuple[str, ...]) -> bool:
    """True when not one value of ``names`` in ``rows`` is a number (nothing at all could be scored)."""
    return all(math.isnan(row[n]) for row in rows for n in names)


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
