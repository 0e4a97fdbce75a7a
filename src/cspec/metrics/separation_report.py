"""Score folders of separated files: find the sources, pair them by name, one row per file with NaN and reasons.

Layouts read (the same for ``--ref`` and ``--est``; :func:`source_files` tells them apart):

* flat, as ``cspec separate`` writes: ``<name>_s1.wav ... <name>_sN.wav`` (in sub-folders too: the name is the
  relative path);
* LibriMix / wsj0-2mix style: sub-folders ``s1/ s2/ ...`` each holding ``<name>.wav`` (other sub-folders, such
  as ``mix_clean/`` or ``noise/``, are left alone).

The mixtures (``--mix``) are ``<name>.wav``. A name found in one folder and not at all in another is a
:class:`ConfigError` listing them (nothing is scored silently on a subset); a name that lacks some of its
sources, has more than ``n_src``, or whose signals cannot be scored (lengths that differ by more than 0.1 s, a
silent or unreadable file) gets a row of NaN with the reason. Files are scored in crash-safe workers
(:mod:`cspec.metrics.pool`).
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cspec.errors import ConfigError, CspecError
from cspec.metrics.report import _audio_files, _list
from cspec.metrics.separation import MIX_COLUMNS, score_separation

__all__ = ["SepItem", "source_files", "pair_sources", "score_item", "evaluate_separation", "sep_columns",
           "file_columns", "write_sep_csv", "crash_row"]

_FLAT = re.compile(r"^(?P<name>.+)_s(?P<k>[1-9][0-9]*)$")
_SOURCE_DIR = re.compile(r"^s(?P<k>[1-9][0-9]*)$")


@dataclass(frozen=True)
class SepItem:
    """One separated file to score: its name, the paths of its sources (``None`` where missing) and mixture,
    and ``problem`` when the file cannot be scored at all (missing or extra sources)."""

    name: str
    refs: tuple[str | None, ...]
    ests: tuple[str | None, ...]
    mix: str | None = None
    problem: str | None = None


def source_files(folder, role: str) -> dict[str, dict[int, Path]]:
    """``{name: {k: path}}`` of the sources in ``folder`` (1-based ``k``), flat or in ``s1/ s2/ ...``."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"--{role} {root}: no such folder")
    out: dict[str, dict[int, Path]] = {}
    dirs = {int(m["k"]): p for p in root.iterdir() if p.is_dir() and (m := _SOURCE_DIR.match(p.name))}
    if dirs:
        for k, sub in sorted(dirs.items()):
            for name, path in _audio_files(sub, role).items():
                out.setdefault(name, {})[k] = path
        return out
    odd = []
    for key, path in _audio_files(root, role).items():
        m = _FLAT.match(key)
        if m is None:
            odd.append(path.name)
        else:
            out.setdefault(m["name"], {})[int(m["k"])] = path
    if odd:
        raise ConfigError(f"--{role} {root}: {len(odd)} file(s) not named <name>_s<k> and no s1/ s2/ folders: "
                          f"{_list(odd)}")
    return out


def _problem(role: str, name: str, found: dict[int, Path], n_src: int) -> str | None:
    missing = [f"s{k}" for k in range(1, n_src + 1) if k not in found]
    extra = sorted(k for k in found if k > n_src)
    notes = []
    if missing:
        notes.append(f"no {role} file for source {', '.join(missing)} ({name}_{missing[0]}.*)")
    if extra:
        notes.append(f"{role} has source(s) {', '.join(f's{k}' for k in extra)}, more than --sources {n_src}")
    return "; ".join(notes) or None


def pair_sources(est_dir, ref_dir, n_src: int, mix_dir=None) -> list[SepItem]:
    """The files of the folders paired by name; :class:`ConfigError` listing names found in only some folders."""
    if isinstance(n_src, bool) or not isinstance(n_src, int) or n_src < 1:
        raise ConfigError(f"--sources must be a positive integer, got {n_src!r}")
    ref = source_files(ref_dir, "ref")
    est = source_files(est_dir, "est")
    mix = _audio_files(mix_dir, "mix") if mix_dir is not None else None
    problems = []
    for role, other in (("ref", ref), ("mix", mix)):
        if other is None:
            continue
        if missing := sorted(set(est) - set(other)):
            problems.append(f"{len(missing)} estimate(s) without a --{role} file: {_list(missing)}")
        if extra := sorted(set(other) - set(est)):
            problems.append(f"{len(extra)} --{role} name(s) without an estimate: {_list(extra)}")
    if problems:
        raise ConfigError("files do not pair by name; " + "; ".join(problems))
    items = []
    for name in sorted(est):
        notes = [p for p in (_problem("ref", name, ref[name], n_src), _problem("est", name, est[name], n_src)) if p]
        items.append(SepItem(
            name,
            tuple(str(ref[name][k]) if k in ref[name] else None for k in range(1, n_src + 1)),
            tuple(str(est[name][k]) if k in est[name] else None for k in range(1, n_src + 1)),
            str(mix[name]) if mix else None,
            "; ".join(notes) or None,
        ))
    return items


def file_columns(with_mix: bool) -> tuple[str, ...]:
    """The per-file (mean over sources) value columns, summarised in the report."""
    return ("si_sdr", "sdr") + (MIX_COLUMNS if with_mix else ())


def sep_columns(n_src: int, with_mix: bool) -> list[str]:
    """All columns of a row: file, the file means, per-source values, the permutation and the reason."""
    per = ("si_sdr", "sdr") + (("si_sdri", "sdri") if with_mix else ())
    return ["file", *file_columns(with_mix), *[f"{c}_s{k}" for k in range(1, n_src + 1) for c in per],
            "perm", "reason"]


def _empty_row(item: SepItem, reason: str) -> dict:
    row = {c: math.nan for c in sep_columns(len(item.refs), item.mix is not None)}
    row.update(file=item.name, perm="", reason=f"all: {reason}")
    return row


def _fill(row: dict, scores, with_mix: bool) -> None:
    row.update(scores.means())
    for k in range(len(scores.perm)):
        row[f"si_sdr_s{k + 1}"], row[f"sdr_s{k + 1}"] = float(scores.si_sdr[k]), float(scores.sdr[k])
        if with_mix:
            row[f"si_sdri_s{k + 1}"], row[f"sdri_s{k + 1}"] = float(scores.si_sdri[k]), float(scores.sdri[k])
    # estimate (1-based) matched with reference s1, s2, ...
    row["perm"] = " ".join(str(i + 1) for i in scores.perm)


def score_item(item: SepItem) -> dict:
    """One row for ``item``, never raising: NaN values and a reason wherever a score cannot be computed."""
    from cspec.audio import load
    from cspec.metrics._common import MetricError

    if item.problem:
        return _empty_row(item, item.problem)
    try:
        first, rate = load(item.refs[0], mono=True)
        refs = [first[0]] + [load(p, sr=rate, mono=True)[0][0] for p in item.refs[1:]]
        ests = [load(p, sr=rate, mono=True)[0][0] for p in item.ests]
        mix = load(item.mix, sr=rate, mono=True)[0][0].double().numpy() if item.mix else None
    except Exception as exc:  # noqa: BLE001 - an unusable file: the whole row NaN with the reason
        return _empty_row(item, str(exc) if isinstance(exc, CspecError) else f"{type(exc).__name__}: {exc}")
    row = _empty_row(item, "")
    row["reason"] = ""
    try:
        r, e = [x.double().numpy() for x in refs], [x.double().numpy() for x in ests]
        try:
            scores = score_separation(r, e, rate, mix=mix)
        except MetricError as exc:
            if mix is None or not str(exc).startswith("mixture"):
                raise
            scores = score_separation(r, e, rate)
            row["reason"] = f"{', '.join(MIX_COLUMNS)}: {exc}"
        _fill(row, scores, with_mix=scores.mix_si_sdr is not None)
    except Exception as exc:  # noqa: BLE001 - a batch must survive any one file
        why = str(exc) if isinstance(exc, CspecError) else f"{type(exc).__name__}: {exc}"
        return _empty_row(item, why.splitlines()[0] if why else type(exc).__name__)
    return row


def crash_row(item: SepItem, reason: str) -> dict:
    """The row of a file whose worker died (``crashed (signal 11)``)."""
    return _empty_row(item, reason)


def evaluate_separation(items: list[SepItem], jobs: int = 1,
                        on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """One row per item (:func:`score_item`), computed in ``jobs`` crash-safe worker processes, in order.

    As with any spawned process, a script calling this must guard its entry point with
    ``if __name__ == "__main__":``.
    """
    from cspec.metrics.pool import run_tasks

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs must be a positive integer, got {jobs!r}")
    return run_tasks(score_item, items, jobs, crash_row, on_done)


def write_sep_csv(rows: list[dict], path: str | os.PathLike) -> Path:
    """Write the rows (NaN as ``nan``, full float precision) to ``path`` atomically: a temporary file beside it,
    renamed into place, so that an interrupted run leaves the old file or the new one, never half of one."""
    from cspec.audio.fs import temp_path, write_error

    path = Path(path)
    cols = list(rows[0]) if rows else ["file", "reason"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path, "csv")
    try:
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(cols)
            for row in rows:
                writer.writerow([row[c] if isinstance(row[c], str) else repr(float(row[c])) for c in cols])
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise
    return path
