"""Build the two-speaker separation test set: read sentences of speech_read's ``test`` speakers, clean and noisy.

Mixtures as LibriMix's "min" mode (Cosentino et al., 2020, "LibriMix: An open-source dataset for generalizable
speech separation"): two sentences of two distinct ``test`` speakers (18 of them, never drawn for training or
validation, see ``cspec.data.subset_items``; one person under two ids counts once, ``speaker_identity``), each
at least ``--min-seconds`` long, both cut from their start to the shorter one and to a length drawn uniformly in
``--seconds`` (4-6 s). The first source is scaled to an RMS level drawn in ``--level`` dBFS (LibriMix draws
-33 .. -25 LUFS), the second to a level relative to it drawn in ``--relative`` dB (-5 .. 5, as WSJ0-2mix and the
training simulation ``SimConfig.relative_level``).

The noisy set adds noise to the same source pairs, as WHAM! extends wsj0-2mix (Wichern et al., 2019): held-out
recorded noise (rows with ``split`` ``test`` of the manifest ``recipes/pool/debian_noise.py`` writes, kept out of
every training pool; else the shared pool's noise files) at an SNR drawn uniformly in ``--snr`` dB (0 .. 15,
milder than WHAM!'s -6 .. 3) against the louder source, as WHAM! defines it. Where a mixture would pass 0.99 all
its parts are scaled down together. No reverberation: the targets are the dry sentences.

Written (16-bit WAV): ``OUT/{clean,noisy}/{mix,s1,s2}/NAME.wav`` and ``OUT/manifest.csv`` (one row per mixture:
``name, mixture, s1, s2, speaker, split`` -- ``split`` is ``clean`` or ``noisy``, so that
``cspec.data.read_manifest(OUT/manifest.csv, split="noisy")`` reads one set -- plus the sentences, levels, SNR,
noise, duration and licences). One seeded generator over sorted rows: the same command makes the same files.
Nothing of it is committed.

    python recipes/sep/test_set.py --out ~/.cache/cspec/sep-test --noise ~/.cache/cspec/debian-noise-new
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from cspec.audio import load, save
from cspec.audio.fs import temp_path
from cspec.data import DataError, read_pool, speaker_identity
from cspec.data.datasets import default_data_root
from cspec.data.pools import fit_length
from cspec.data.simulate import rms_db, scale_to_snr, set_level
from cspec.errors import CspecError

SR = 16000
COLS = ["name", "mixture", "s1", "s2", "speaker", "split", "sentence1", "sentence2", "level1_db", "level2_db",
        "snr_db", "noise_source", "duration_s", "license"]


def wave(path: Path) -> np.ndarray:
    return load(path, sr=SR, mono=True)[0][0].double().numpy()


def rel(path: Path, root: Path) -> str:
    return Path(path).relative_to(root).as_posix() if Path(path).is_relative_to(root) else str(path)


def noise_items(args) -> tuple[list, str]:
    """The held-out noise rows (``split`` ``test``) of ``--noise``, else the shared pool's noise files."""
    if args.noise is not None:
        held = [it for it in read_pool(args.noise, "noise") if it.split == "test"]
        if not held:
            raise DataError(f"{args.noise}: no held-out noise (split 'test'); build it with "
                            "recipes/pool/debian_noise.py --only new")
        return sorted(held, key=lambda it: str(it.path)), "held-out (split test)"
    return sorted(read_pool(default_data_root(), "noise"), key=lambda it: str(it.path)), "the shared pool's"


def pairs(args, rng: np.random.Generator) -> list[tuple]:
    """``(item1, item2, n)`` of each mixture: two persons, a sentence of each, ``n`` samples (min mode)."""
    speech = [it for it in read_pool(args.speech, "speech") if it.split == "test" and it.duration >= args.min_seconds]
    by: dict[str, list] = defaultdict(list)
    for it in sorted(speech, key=lambda it: str(it.path)):
        by[speaker_identity(it.speaker)].append(it)
    persons = sorted(by)
    if len(persons) < 2:
        raise DataError(f"{args.speech}: fewer than 2 test speakers with sentences of {args.min_seconds} s or more")
    out, seen = [], set()
    while len(out) < args.n:
        a, b = (persons[i] for i in rng.choice(len(persons), 2, replace=False))
        s1, s2 = by[a][int(rng.integers(0, len(by[a])))], by[b][int(rng.integers(0, len(by[b])))]
        cap = rng.uniform(*args.seconds)
        if (s1.path, s2.path) in seen or (s2.path, s1.path) in seen:
            continue
        seen.add((s1.path, s2.path))
        n = int(min(s1.duration, s2.duration, cap) * SR)
        out.append((s1, s2, n))
    return out


def fit(parts: list[np.ndarray]) -> list[np.ndarray]:
    """All parts scaled by one factor so that their sum peaks at 0.99 at most."""
    peak = np.abs(np.sum(parts, axis=0)).max()
    return [p * (0.99 / peak) for p in parts] if peak > 0.99 else parts


def make(args) -> list[list]:
    rng = np.random.default_rng(args.seed)
    noise, noise_what = noise_items(args)
    print(f"{len(noise)} {noise_what} noise files", flush=True)
    rows = []
    for k, (i1, i2, n) in enumerate(pairs(args, rng)):
        x1, x2 = wave(i1.path)[:n], wave(i2.path)[:n]
        n = min(n, len(x1), len(x2))
        l1 = float(rng.uniform(*args.level))
        l2 = l1 + float(rng.uniform(*args.relative))
        (x1, _), (x2, _) = set_level(x1[:n], l1), set_level(x2[:n], l2)
        src = noise[int(rng.integers(0, len(noise)))]
        snr = float(rng.uniform(*args.snr))
        nz = scale_to_snr(x1 if l1 >= l2 else x2, fit_length(wave(src.path), n, rng), snr)
        name = f"{k:03d}_{speaker_identity(i1.speaker)}_{speaker_identity(i2.speaker)}"
        lic = " + ".join(sorted({i1.license, i2.license}))
        for split, parts in (("clean", fit([x1, x2])), ("noisy", fit([x1, x2, nz]))):
            mix = np.sum(parts, axis=0)
            for sub, x in (("mix", mix), ("s1", parts[0]), ("s2", parts[1])):
                save(args.out / split / sub / f"{name}.wav", x, SR, overwrite=True, subtype="PCM_16")
            noisy = split == "noisy"
            rows.append([name, f"{split}/mix/{name}.wav", f"{split}/s1/{name}.wav", f"{split}/s2/{name}.wav",
                         f"{i1.speaker};{i2.speaker}", split, rel(i1.path, args.speech), rel(i2.path, args.speech),
                         f"{rms_db(parts[0]):.2f}", f"{rms_db(parts[1]):.2f}", f"{snr:.2f}" if noisy else "",
                         f"{src.source}:{Path(src.path).name}" if noisy else "", f"{n / SR:.3f}",
                         lic + (f" + {src.license}" if noisy else "")])
        if (k + 1) % 25 == 0:
            print(f"{k + 1} mixtures", flush=True)
    return rows


def report(rows: list[list]) -> str:
    clean = [r for r in rows if r[5] == "clean"]
    dur = np.array([float(r[12]) for r in clean])
    rel_db = np.array([float(r[9]) - float(r[8]) for r in clean])
    snr = np.array([float(r[10]) for r in rows if r[5] == "noisy"])
    persons = {speaker_identity(s) for r in clean for s in r[4].split(";")}
    return (f"{len(clean)} clean + {len(snr)} noisy mixtures, {len(persons)} speakers, {dur.sum() / 60:.1f} min each; "
            f"duration min/median/max {dur.min():.2f}/{np.median(dur):.2f}/{dur.max():.2f} s; s2 - s1 level "
            f"{rel_db.min():.1f} .. {rel_db.max():.1f} dB; SNR (louder source) {snr.min():.1f} .. {snr.max():.1f} "
            f"dB, mean {snr.mean():.1f}")


def write_csv(path: Path, rows: list[list]) -> None:
    tmp = temp_path(path, "csv")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([COLS, *rows])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for clean/, noisy/ and manifest.csv")
    ap.add_argument("--noise", type=Path, default=None, help="a manifest (or folder) with held-out noise rows "
                    "(split test), e.g. what debian_noise.py wrote; default: the shared pool's noise files")
    ap.add_argument("--speech", type=Path, default=None, help="default: $CSPEC_DATA/speech_read")
    ap.add_argument("-n", type=int, default=100, help="mixtures per set (clean and noisy)")
    ap.add_argument("--seconds", type=float, nargs=2, default=(4.0, 6.0))
    ap.add_argument("--min-seconds", type=float, default=4.0)
    ap.add_argument("--level", type=float, nargs=2, default=(-33.0, -25.0))
    ap.add_argument("--relative", type=float, nargs=2, default=(-5.0, 5.0))
    ap.add_argument("--snr", type=float, nargs=2, default=(0.0, 15.0))
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--overwrite", action="store_true", help="replace the files of an earlier build in --out")
    args = ap.parse_args(argv)
    if args.n < 1 or args.min_seconds <= 0 or not 0 < args.seconds[0] <= args.seconds[1]:
        print("error: -n must be >= 1 and --seconds / --min-seconds positive (low <= high)", file=sys.stderr)
        return 2
    args.out = args.out.expanduser()
    args.noise = args.noise.expanduser() if args.noise else None
    old = [f for s in ("clean", "noisy") for sub in ("mix", "s1", "s2") if (args.out / s / sub).is_dir()
           for f in (args.out / s / sub).iterdir() if f.suffix == ".wav"]
    if old and not args.overwrite:
        print(f"error: {args.out}: holds {len(old)} files of an earlier build; pass --overwrite to replace it",
              file=sys.stderr)
        return 1
    args.speech = (args.speech.expanduser() if args.speech else default_data_root() / "speech_read").resolve()
    if args.speech.is_file():
        args.speech = args.speech.parent
    try:
        for f in old:  # a stale mixture of an earlier build would be scored with the new ones
            f.unlink()
        rows = make(args)
        write_csv(args.out / "manifest.csv", rows)
    except (CspecError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the files written so far are whole, the manifest is not written", file=sys.stderr)
        return 130
    print(report(rows))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
