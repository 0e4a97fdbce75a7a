"""Build the sentence dev set: read sentences of speech_read's ``test`` speakers in held-out noise, 0-15 dB SNR.

The first dev set (``dev_pairs`` of the shared data, 15 pairs) is mostly DNS-Challenge synthetic clips; this
one looks like what users enhance: whole read sentences (2-17 s) of the 18 ``test`` speakers of ``speech_read``
(never drawn for training or validation, see ``cspec.data.subset_items``), at most ``--per-speaker`` sentences
each, whose clean recording scores at least ``--min-bak`` (3.8) DNSMOS P.835 BAK -- speech_read keeps room
noise and hum in many clips (its README: BAK 3.69 on a sample; VoiceBank's clean speech 4.13), and a noisy
reference would score an enhancer down for removing it -- in noise no model of cspec was trained on:

- 80 %: recorded noise held out by ``recipes/pool/debian_noise.py`` (rows with ``split`` ``test``: 20 % of the
  duration of each second-generation Debian package -- fans, drones, fire, water, transport, birds, jets, wind
  -- chosen by a CRC-32 order and kept out of every training pool); a random crop of a random file, looped when
  shorter than the sentence;
- 20 %: babble of 3-5 other ``test`` speakers' sentences (equal level, the simulation's babble).

The mixture follows the simulation's definitions (``cspec.data.simulate``, as the DNS Challenge synthesizer):
the clean sentence is scaled to a level drawn in ``--level`` dBFS (RMS over the whole clip), the noise to an
SNR drawn uniformly in ``--snr`` dB over the whole clip; where the mixture would pass 0.99 both are scaled down
together (the SNR stays). Everything is drawn from one seeded generator over sorted rows, so the same command
makes the same files. Written: ``OUT/clean/NAME.flac`` and ``OUT/noisy/NAME.flac`` (16-bit, the layout
``benchmarks/enhance.py --pairs OUT`` reads) and ``OUT/manifest.csv`` (speaker, noise, SNR, level, licences).
Nothing of it is committed.

    python recipes/pool/debian_noise.py --out ~/.cache/cspec/debian-noise-new --only new
    python recipes/read/dev_sentences.py --noise ~/.cache/cspec/debian-noise-new --out ~/.cache/cspec/dev-sentences
    python benchmarks/enhance.py --pairs ~/.cache/cspec/dev-sentences --section "## Enhancement: sentence dev set"
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from cspec.audio import load, save
from cspec.data import DataError, babble, read_pool
from cspec.data.datasets import default_data_root
from cspec.data.pools import fit_length
from cspec.data.simulate import rms_db, scale_to_snr, set_level
from cspec.errors import CspecError

SR = 16000
P_BABBLE, TALKERS = 0.2, (3, 5)
COLS = ["name", "clean", "noisy", "speaker", "sentence", "noise", "snr_db", "level_db", "duration_s", "license",
        "clean_bak"]


def wave(path: Path) -> np.ndarray:
    return load(path, sr=SR, mono=True)[0][0].double().numpy()


def bak(path: Path) -> float:
    """DNSMOS P.835 BAK (background noise quality, 1-5) of a clean sentence."""
    from cspec.metrics.dnsmos import dnsmos
    x = wave(path)
    return float(dnsmos(x / max(1.0, np.abs(x).max()), SR)["dnsmos_bak"])


def choose(items: list, per_speaker: int, rng: np.random.Generator, min_bak: float | None = None,
           score=bak) -> tuple[list, dict]:
    """At most ``per_speaker`` items of each speaker, tried in a seeded random order, kept in path order; with
    ``min_bak`` only those whose clean sentence scores at least that DNSMOS BAK (scored as they are tried, so
    only the candidates are scored). Returns the items and ``{path: BAK}`` of those scored."""
    by: dict[str, list] = defaultdict(list)
    for it in sorted(items, key=lambda it: str(it.path)):
        by[it.speaker].append(it)
    out, scores = [], {}
    for spk in sorted(by):
        keep = []
        for i in rng.permutation(len(by[spk])):
            if len(keep) == per_speaker:
                break
            if min_bak is not None:
                scores[by[spk][i].path] = score(by[spk][i].path)
                if scores[by[spk][i].path] < min_bak:
                    continue
            keep.append(i)
        out += [by[spk][i] for i in sorted(keep)]
    return out, scores


def make(args) -> list[list]:
    speech = [it for it in read_pool(args.speech, "speech") if it.split == "test"]
    if not speech:
        raise DataError(f"{args.speech}: no row has split 'test'")
    noise = [it for it in read_pool(args.noise, "noise") if it.split == "test"]
    if not noise:
        raise DataError(f"{args.noise}: no held-out noise (split 'test'); build it with "
                        "recipes/pool/debian_noise.py --only new")
    rng = np.random.default_rng(args.seed)
    chosen, scores = choose(speech, args.per_speaker, rng, args.min_bak)
    print(f"{len(chosen)} of the {len(speech)} test sentences chosen" + (
        f" ({len(scores)} scored, {sum(v >= args.min_bak for v in scores.values())} with DNSMOS BAK >= "
        f"{args.min_bak})" if args.min_bak is not None else ""), flush=True)
    noise = sorted(noise, key=lambda it: str(it.path))
    rows = []
    for it in chosen:
        clean = wave(it.path)
        n = len(clean)
        if rng.random() < P_BABBLE:
            others = sorted({o.speaker for o in speech} - {it.speaker})
            talkers = [others[i] for i in rng.choice(len(others), int(rng.integers(TALKERS[0], TALKERS[1] + 1)),
                                                        replace=False)]
            pieces, lics = [], {it.license}
            for spk in talkers:
                mine = [o for o in speech if o.speaker == spk]
                pick = mine[int(rng.integers(0, len(mine)))]
                pieces.append(fit_length(wave(pick.path), n, rng))
                lics.add(pick.license)
            nz, what = babble(pieces), "babble:" + ";".join(talkers)
        else:
            src = noise[int(rng.integers(0, len(noise)))]
            nz = fit_length(wave(src.path), n, rng)
            what, lics = f"{src.source}:{Path(src.path).parent.name}/{Path(src.path).name}", {it.license, src.license}
        level, snr = float(rng.uniform(*args.level)), float(rng.uniform(*args.snr))
        clean, _ = set_level(clean, level)
        nz = scale_to_snr(clean, nz, snr)
        noisy = clean + nz
        peak = np.abs(noisy).max()
        if peak > 0.99:
            clean, noisy = clean * 0.99 / peak, noisy * 0.99 / peak
            level = rms_db(clean)
        name = f"{it.speaker}_{Path(it.path).stem}"
        for sub, x in (("clean", clean), ("noisy", noisy)):
            save(args.out / sub / f"{name}.flac", x, SR, overwrite=True, subtype="PCM_16")
        rows.append([name, f"clean/{name}.flac", f"noisy/{name}.flac", it.speaker,
                     Path(it.path).relative_to(Path(args.speech).resolve()).as_posix()
                     if Path(it.path).is_relative_to(Path(args.speech).resolve()) else str(it.path),
                     what, f"{snr:.2f}", f"{level:.2f}", f"{n / SR:.3f}", " + ".join(sorted(lics)),
                     f"{scores[it.path]:.3f}" if it.path in scores else ""])
    return rows


def report(rows: list[list]) -> str:
    dur = np.array([float(r[8]) for r in rows])
    snr = np.array([float(r[6]) for r in rows])
    hist, edges = np.histogram(snr, bins=5, range=(0, 15))
    kinds = Counter("babble" if r[5].startswith("babble") else r[5].split(":")[1].split("/")[0].replace("-heldout", "")
                    for r in rows)
    return (f"{len(rows)} pairs, {len({r[3] for r in rows})} speakers, {dur.sum() / 60:.1f} min; duration "
            f"min/median/max {dur.min():.1f}/{np.median(dur):.1f}/{dur.max():.1f} s\n"
            "SNR (dB): " + ", ".join(f"{a:.0f}-{b:.0f}: {c}" for a, b, c in zip(edges[:-1], edges[1:], hist))
            + f"; mean {snr.mean():.1f}\nnoise: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for clean/, noisy/ and manifest.csv")
    ap.add_argument("--noise", type=Path, required=True, help="the manifest (or folder) debian_noise.py wrote")
    ap.add_argument("--speech", type=Path, default=None, help="default: $CSPEC_DATA/speech_read")
    ap.add_argument("--per-speaker", type=int, default=5)
    ap.add_argument("--snr", type=float, nargs=2, default=(0.0, 15.0))
    ap.add_argument("--level", type=float, nargs=2, default=(-33.0, -18.0))
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--overwrite", action="store_true", help="replace the pairs of an earlier build in --out")
    ap.add_argument("--min-bak", type=float, default=3.8, help="keep clean sentences of at least this DNSMOS BAK "
                    "(a negative value keeps every sentence, unscored)")
    args = ap.parse_args(argv)
    args.out, args.noise = args.out.expanduser(), args.noise.expanduser()
    args.min_bak = None if args.min_bak < 0 else args.min_bak
    old = [f for sub in ("clean", "noisy") if (args.out / sub).is_dir() for f in (args.out / sub).iterdir()]
    if old and not args.overwrite:
        print(f"error: {args.out}: holds {len(old)} files of an earlier build; pass --overwrite to replace it",
              file=sys.stderr)
        return 1
    for f in old:  # only the pairs of an earlier build: a stale pair would be scored with the new ones
        if f.suffix == ".flac":
            f.unlink()
    args.speech = (args.speech.expanduser() if args.speech else default_data_root() / "speech_read").resolve()
    if args.speech.is_file():
        args.speech = args.speech.parent
    try:
        rows = make(args)
        with open(args.out / "manifest.csv", "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([COLS, *rows])
    except (CspecError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report(rows))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
