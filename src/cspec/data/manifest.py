"""Manifests: lists of examples in CSV or JSON Lines, and the shared data's ``manifest.csv`` of single files.

Example manifests (:func:`read_manifest`, :func:`write_manifest`) have one row per example with the columns
``noisy`` or ``mixture``; ``clean`` or ``s1 .. sN``; optionally ``noise``, ``speaker`` (several ids joined by
``;``), ``name`` and ``split``. Relative paths are relative to the manifest's folder.

The pool manifest (:func:`read_pool`) is the ``path, duration_s, kind, speaker, source, license`` table of
the shared development data: one row per file of clean speech, noise or pairs, with a speaker id and a licence,
read by the simulated datasets of :mod:`cspec.data.datasets`. An optional ``split`` column (``train``, ``valid``,
``test``, by speaker, as in ``speech_read/manifest.csv``) is kept in :attr:`PoolItem.split`.

Two manifests may name one person differently (the old pool's ``ljspeech`` is ``speech_read``'s ``ljspeech-lj``);
:func:`speaker_identity` maps the ids of the corpora they share to one name, so that a speaker held out by one
manifest's ``split`` is held out of the others too.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from cspec.data.corpora import Example
from cspec.errors import DataError

__all__ = ["read_manifest", "write_manifest", "PoolItem", "read_pool", "KIND_ALIASES", "speaker_identity"]

_MIX_COLS = ("noisy", "mixture")


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        raise DataError(f"{path}: no such manifest file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            return [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in csv.DictReader(f)]
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = []
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{i}: not a JSON object per line ({exc.msg})") from None
                    if not isinstance(row, dict):
                        raise DataError(f"{path}:{i}: each line must be a JSON object")
                    rows.append(row)
        return rows
    raise DataError(f"{path}: unknown manifest format '{suffix}'; use .csv or .jsonl")


def read_manifest(path: str | os.PathLike, split: str | None = None, check: bool = True) -> list[Example]:
    """Examples listed in a CSV or JSONL manifest (see the module docstring for the columns).

    ``split`` keeps the rows whose ``split`` column equals it. ``check`` verifies that every file exists and
    lists the first few missing ones in a :class:`DataError`.
    """
    path = Path(path)
    rows = _rows(path)
    if not rows:
        raise DataError(f"{path}: the manifest lists no examples")
    cols = set(rows[0])
    mix_col = next((c for c in _MIX_COLS if c in cols), None)
    tgt_cols = ["clean"] if "clean" in cols else sorted((c for c in cols if c[:1] == "s" and c[1:].isdigit()),
                                                         key=lambda c: int(c[1:]))
    if mix_col is None or not tgt_cols:
        raise DataError(f"{path}: needs a 'noisy' or 'mixture' column and a 'clean' or 's1'.. column; "
                        f"found {', '.join(sorted(cols))}")
    base = path.parent
    out, missing = [], []
    for i, r in enumerate(rows):
        if split is not None and str(r.get("split", "")) != split:
            continue
        try:
            mix = base / str(r[mix_col])
            targets = tuple(base / str(r[c]) for c in tgt_cols if str(r.get(c) or ""))
        except KeyError as exc:
            raise DataError(f"{path}: row {i + 1} lacks the column {exc}") from None
        noise = base / str(r["noise"]) if r.get("noise") else None
        spk = r.get("speaker") or ""
        speakers = tuple(str(s) for s in spk) if isinstance(spk, list) else tuple(s for s in str(spk).split(";") if s)
        ex = Example(str(r.get("name") or mix.stem), mix, targets, noise, speakers, str(r.get("split") or ""))
        if check:
            missing += [str(p) for p in (mix, *targets, *([noise] if noise else [])) if not p.is_file()]
        out.append(ex)
    if missing:
        raise DataError(f"{path}: {len(missing)} listed file(s) do not exist, e.g. {', '.join(missing[:5])}; "
                        "paths are relative to the manifest's folder")
    if not out:
        raise DataError(f"{path}: no example has split '{split}'")
    return out


def write_manifest(examples: Iterable[Example], path: str | os.PathLike) -> Path:
    """Write examples as CSV or JSONL (by the suffix of ``path``), paths relative to its folder when possible."""
    path = Path(path)
    base = path.parent.resolve()
    rows = []
    for ex in examples:
        rel = lambda p: os.path.relpath(Path(p).resolve(), base)  # noqa: E731
        row = {"name": ex.name, "mixture": rel(ex.mixture)}
        row.update({f"s{i}": rel(t) for i, t in enumerate(ex.targets, 1)})
        row.update(noise=rel(ex.noise) if ex.noise else "", speaker=";".join(ex.speakers), split=ex.split)
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: nothing to write (no examples)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        cols = list(dict.fromkeys(k for r in rows for k in r))
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=cols, restval="")
            w.writeheader()
            w.writerows(rows)
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        raise DataError(f"{path}: unknown manifest format; use .csv or .jsonl")
    return path


#: ``kind=`` aliases of :func:`read_pool`: the kinds of the shared manifest that each one selects.
KIND_ALIASES = {
    "speech": lambda k: k.split(" ")[0] == "clean",  # clean, clean words/digits/...; not clean/radio
    "noise": lambda k: k.split(" ")[0].split("/")[0] == "noise",
}


@dataclass(frozen=True)
class PoolItem:
    """One row of the shared data manifest; ``path`` is absolute, ``speaker`` never empty (the file's path
    stands in for a missing speaker id, so that such files count as speakers of their own); ``split`` is the
    manifest's ``split`` column (``""`` where it has none)."""

    path: Path
    duration: float
    kind: str
    speaker: str
    source: str
    license: str
    split: str = ""
    key: str = ""  # the manifest's own (relative) path: what a hashed split uses, wherever the data lies


#: ``(pattern, identity)`` of the corpora whose speakers appear under different ids in the shared manifests:
#: LibriSpeech reader numbers, VCTK speakers, the one LJSpeech reader and CMU ARCTIC talkers (whose clip ids name
#: the talker: ``cmu_arctic_clips-cmu_arctic_us_aew_a0001`` is ``cmu_arctic-aew``).
_IDENTITIES = ((re.compile(r"^librispeech(?:_clips)?-(\d+)(?![0-9])"), r"librispeech-\1"),
               (re.compile(r"^vctk(?:_clips)?-(p\d{3})(?![0-9])"), r"vctk-\1"),
               (re.compile(r"^ljspeech(?:-lj)?$"), "ljspeech"),
               (re.compile(r"^cmu_arctic(?:_clips)?-cmu_arctic_us_([a-z]{3})_"), r"cmu_arctic-\1"))


def speaker_identity(speaker: str) -> str:
    """The person behind a manifest's speaker id: ``librispeech-1040`` and ``librispeech_clips-1040-...`` are
    ``librispeech-1040``, ``vctk_clips-p225_001`` is ``vctk-p225``, ``ljspeech`` and ``ljspeech-lj`` are
    ``ljspeech``, ``cmu_arctic_clips-cmu_arctic_us_aew_a0001`` is ``cmu_arctic-aew``; other ids are their own
    identity."""
    for pattern, repl in _IDENTITIES:
        m = pattern.match(speaker)
        if m:
            return m.expand(repl)
    return speaker


def _match(text: str, wanted: str | Sequence[str] | None) -> bool:
    if wanted is None:
        return True
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    return any(w.lower() in text.lower() for w in wanted)


def read_pool(manifest: str | os.PathLike, kind: str = "speech", license: str | Sequence[str] | None = None,
              source: str | Sequence[str] | None = None, exclude_license: str | Sequence[str] | None = None,
              min_duration: float = 0.0) -> list[PoolItem]:
    """Rows of the shared data's ``manifest.csv`` (or the folder holding it) that match every filter.

    ``kind`` is ``speech`` (the ``clean ...`` kinds, without ``clean/radio``), ``noise`` (every ``noise ...``
    kind) or an exact kind of the table. ``license``/``source`` keep rows whose column contains one of the
    given substrings (case-insensitive); ``exclude_license`` drops such rows (e.g. ``"GPL"``).
    """
    manifest = Path(manifest)
    if manifest.is_dir():
        manifest = manifest / "manifest.csv"
    rows = _rows(manifest)
    need = {"path", "duration_s", "kind", "speaker", "source", "license"}
    if not rows or not need <= set(rows[0]):
        raise DataError(f"{manifest}: expected the columns {', '.join(sorted(need))}")
    pick = KIND_ALIASES.get(kind, lambda k: k == kind)
    out = []
    for r in rows:
        if not (pick(r["kind"]) and _match(r["source"], source) and _match(r["license"], license)):
            continue
        if exclude_license is not None and _match(r["license"], exclude_license):
            continue
        if float(r["duration_s"] or 0) < min_duration:
            continue
        path = manifest.parent / r["path"]
        out.append(PoolItem(path, float(r["duration_s"] or 0), r["kind"], r["speaker"] or str(r["path"]),
                            r["source"], r["license"], r.get("split", ""), str(r["path"])))
    if not out:
        kinds = sorted({r["kind"] for r in rows})
        raise DataError(f"{manifest}: no row matches kind={kind!r}, license={license!r}, source={source!r}; "
                        f"kinds present: {', '.join(kinds)}")
    return out
