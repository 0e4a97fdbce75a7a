"""Two-speaker separation on the speech_read test set: oracle masks, the mixture, trained separators.

The test set is what ``recipes/sep/test_set.py`` writes (clean and noisy 2-speaker mixtures of the 18 ``test``
speakers, LibriMix "min" mode). Systems, each scored per mixture with permutation-invariant SI-SDR and SDR and
their improvements over the mixture (:func:`cspec.metrics.separation.score_separation`: utterance-level PIT,
Kolbaek et al. 2017; SI-SDR, Le Roux et al. 2019 eq. 1; BSS-eval SDR, Vincent et al. 2006, 512-tap filter;
SI-SDRi / SDRi as Luo & Mesgarani 2019):

* ``mixture``: the mixture as the estimate of both sources (0 dB SI-SDRi by definition; its SI-SDR is the
  reference every improvement is taken from);
* oracle masks of :mod:`cspec.spectral.masks` per source ``k``, from the true sources, applied to the mixture's
  STFT (512-point Hann window, hop 128, 16 kHz: the mixture's phase) and inverted: ``IRM`` (Wang, Narayanan &
  Wang 2014 eq. 2, beta 0.5, against ``N_k = Y - S_k``: the other speaker and the noise), ``IBM`` (Wang 2005,
  LC 0 dB, the same ``N_k``), ``PSM`` (Erdogan et al. 2015 eq. 9, truncated to [0, 1]): upper bounds of real
  masking with the mixture's phase;
* ``--model NAME=PATH``: a cspec separator model folder (``cspec.models.io.load``), run as
  ``model(wave[None])["wave"]`` on the whole mixture.

One talker alone (``lone``): the first source of each clean test mixture is given alone to each model. A separator
should keep it in one output and leave the other near silence; reported are the SI-SDR of the louder output against
the talker, the level of the quieter output relative to the talker (dB), and the share of 1 s pieces (at least
1 % of the talker's mean power) in which the louder output is the whole clip's louder one ("kept together"): a
separator that spreads a lone talker over both outputs, switching between them, breaks the speaker order across
the chunks of a long recording with turns (``benchmarks/separation_long.py``).

RTF: seconds of computing each system's output per second of audio (oracle masks: STFTs, masks and iSTFT; a
model: its forward pass), one thread, after a warm-up mixture. The published numbers of the candidate
architectures are a fixed table (their data and compute as published) for comparison, not measured here.

    python recipes/sep/test_set.py --out ~/.cache/cspec/sep-test --noise ~/.cache/cspec/debian-noise-new
    python benchmarks/separation.py --test ~/.cache/cspec/sep-test --out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

SECTION = "## Separation: speech_read test speakers"
SR = 16000

#: published results of the candidate architectures: (system, data, metric and score, params, training as published)
PUBLISHED = [
    ("uPIT-BLSTM-ST (Kolbaek et al. 2017)", "WSJ0-2mix, 8 kHz, 30 h", "SDRi 10.0", "92.7 M",
     "3 BLSTM layers of 896 units, phase-sensitive mask; as Conv-TasNet's Table IV lists it"),
    ("Conv-TasNet (Luo & Mesgarani 2019)", "WSJ0-2mix, 8 kHz, 30 h", "SI-SNRi 15.3", "5.1 M",
     "4 s segments, 100 epochs, Adam 1e-3"),
    ("DPRNN-TasNet (Luo, Chen & Yoshioka 2020)", "WSJ0-2mix, 8 kHz, 30 h", "SI-SNRi 18.8", "2.6 M",
     "4 s segments, 100 epochs, Adam 1e-3, L = 2 samples"),
    ("SepFormer (Subakan et al. 2021)", "WSJ0-2mix, 8 kHz, 30 h, dynamic mixing", "SI-SNRi 22.3", "26 M",
     "encoder stride 8 samples"),
    ("TF-GridNet (Wang et al. 2023)", "WSJ0-2mix, 8 kHz, 30 h", "SI-SDRi 23.4", "14.5 M",
     "4 s segments, Adam 1e-3"),
    ("Conv-TasNet, asteroid (Cosentino et al. 2020)", "Libri2Mix train-360 clean, 8 kHz, min", "SI-SDRi 14.76",
     "5.1 M", "3 s segments, batch 24, <= 200 epochs, early stop"),
    ("Conv-TasNet, asteroid (Cosentino et al. 2020)", "Libri2Mix train-360 + WHAM! noise, 8 kHz, min",
     "SI-SDRi 11.94", "5.1 M", "3 s segments, batch 24, <= 200 epochs, early stop"),
]


def read_set(root: Path, split: str, limit: int | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, mixture (n,), sources (2, n))`` of one set of the test folder, float64."""
    from cspec.audio import load
    from cspec.data import read_manifest

    out = []
    for ex in read_manifest(root / "manifest.csv", split=split)[:limit]:
        mix = load(ex.mixture, sr=SR, mono=True)[0][0].double().numpy()
        refs = np.stack([load(t, sr=SR, mono=True)[0][0].double().numpy() for t in ex.targets])
        out.append((ex.name, mix, refs))
    return out


def oracle(kind: str):
    """The separator of one oracle mask: ``(mixture, sources) -> estimates``."""
    import torch

    from cspec.spectral.masks import apply_mask, ibm, irm, psm
    from cspec.spectral.stft import STFTConfig, istft, stft

    cfg = STFTConfig(512, 128, 512, "hann", sample_rate=SR, source="benchmark: 32 ms Hann, 8 ms hop")

    def run(mix: np.ndarray, refs: np.ndarray) -> np.ndarray:
        Y = stft(torch.from_numpy(mix).float(), cfg)
        S = stft(torch.from_numpy(refs).float(), cfg)
        N = Y[None] - S
        mask = {"IRM": lambda: irm(S, N), "IBM": lambda: ibm(S, N), "PSM": lambda: psm(S, Y[None])}[kind]()
        return istft(apply_mask(Y[None], mask), cfg, length=len(mix)).double().numpy()

    return run


def model_system(path: str):
    import torch

    from cspec.models.io import load

    model = load(path)
    if getattr(model, "sample_rate", SR) != SR:
        raise ValueError(f"{path}: the model runs at {model.sample_rate} Hz, the test set at {SR} Hz")

    def run(mix: np.ndarray, refs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            est = model(torch.from_numpy(mix).float()[None])["wave"][0]
        if est.dim() != 2 or est.shape[0] != refs.shape[0]:
            raise ValueError(f"{path}: the model gave {tuple(est.shape)}, not {refs.shape[0]} sources")
        return est.double().numpy()

    return run


def evaluate(systems: dict, data: list, timing: bool = True) -> dict:
    """``{system: {"si_sdri": [...], "sdri": [...], "si_sdr": [...], "rtf": x}}`` over ``data``."""
    from cspec.metrics.separation import score_separation

    res = {name: {"si_sdr": [], "sdr": [], "si_sdri": [], "sdri": [], "time": 0.0} for name in systems}
    audio = 0.0
    for k, (name, mix, refs) in enumerate(data):
        mix_scores = score_separation(refs, np.stack([mix, mix]), SR)
        for label, run in systems.items():
            t = time.perf_counter()
            est = run(mix, refs) if run is not None else np.stack([mix, mix])
            dt = time.perf_counter() - t
            s = mix_scores if run is None else score_separation(refs, est, SR)
            r = res[label]
            r["si_sdr"].append(s.si_sdr.mean())
            r["sdr"].append(s.sdr.mean())
            r["si_sdri"].append((s.si_sdr - mix_scores.si_sdr).mean())
            r["sdri"].append((s.sdr - mix_scores.sdr).mean())
            if k > 0:  # the first mixture warms up
                r["time"] += dt
        if k > 0:
            audio += len(mix) / SR
    for r in res.values():
        r["rtf"] = r.pop("time") / max(audio, 1e-9)
    return res


def lone(models: dict, data: list) -> dict:
    """``{model: (si_sdr, other_db, kept)}`` means over the first sources of ``data`` given alone (module docstring)."""
    from cspec.metrics.sdr import si_sdr

    out = {}
    for label, run in models.items():
        rows = []
        for _, _, refs in data:
            talker = refs[0]
            est = run(talker, refs)
            power = (est ** 2).sum(-1)
            loud = int(np.argmax(power))
            pieces = [slice(i, i + SR) for i in range(0, len(talker) - SR // 2, SR)]
            active = [sl for sl in pieces if np.mean(talker[sl] ** 2) > 0.01 * np.mean(talker ** 2)]
            kept = np.mean([np.argmax((est[:, sl] ** 2).sum(-1)) == loud for sl in active]) if active else np.nan
            rows.append((float(si_sdr(talker, est[loud], SR, zero_mean=True)),
                         10 * np.log10(power.min() / ((talker ** 2).sum() + 1e-20) + 1e-20), kept))
        out[label] = tuple(np.nanmean(np.array(rows), axis=0))
    return out


def lone_table(res: dict, n: int) -> str:
    lines = [f"One talker alone ({n} clips: the first source of each clean test mixture, given alone):", "",
             "| model | SI-SDR of the louder output (dB) | quieter output vs the talker (dB) | 1 s pieces kept together |",
             "|---|---:|---:|---:|"]
    lines += [f"| {label} | {a:.2f} | {b:.1f} | {100 * c:.1f} % |" for label, (a, b, c) in res.items()]
    return "\n".join(lines)


def table(results: dict) -> str:
    lines = ["| system | set | SI-SDRi (dB) | SDRi (dB) | SI-SDR (dB) | SDR (dB) | RTF (1 thread) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for split, res in results.items():
        for label, r in res.items():
            lines.append(f"| {label} | {split} | {np.mean(r['si_sdri']):.2f} ± {np.std(r['si_sdri']):.2f} | "
                         f"{np.mean(r['sdri']):.2f} | {np.mean(r['si_sdr']):.2f} | {np.mean(r['sdr']):.2f} | "
                         f"{r['rtf']:.4f} |")
    return "\n".join(lines)


def published() -> str:
    lines = ["| system | training and test data | score (dB) | parameters | training as published |",
             "|---|---|---:|---:|---|"]
    lines += [f"| {' | '.join(row)} |" for row in PUBLISHED]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--test", type=Path, default=Path("~/.cache/cspec/sep-test"),
                   help="the folder recipes/sep/test_set.py wrote")
    p.add_argument("--model", action="append", default=[], metavar="NAME=PATH", help="a separator model folder")
    p.add_argument("--limit", type=int, default=None, help="the first N mixtures of each set")
    p.add_argument("--out", type=Path, help="RESULTS.md whose separation section is replaced")
    p.add_argument("--section", default=SECTION)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    systems = {"mixture": None, "oracle IRM": oracle("IRM"), "oracle IBM": oracle("IBM"), "oracle PSM": oracle("PSM")}
    models = {}
    try:
        for spec in args.model:
            name, sep, path = spec.partition("=")
            if not sep or not name or not path:
                raise ValueError(f"--model {spec!r}: give NAME=PATH")
            models[name] = model_system(str(Path(path).expanduser()))
        systems.update(models)
        root = args.test.expanduser()
        t0 = time.perf_counter()
        data = {split: read_set(root, split, args.limit) for split in ("clean", "noisy")}
        results = {split: evaluate(systems, items) for split, items in data.items()}
        alone = lone(models, data["clean"])
    except KeyboardInterrupt:
        print("interrupted: nothing written", file=sys.stderr)
        return 130
    except (Exception,) as exc:  # noqa: BLE001 - one line, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n = {s: len(next(iter(r.values()))["si_sdri"]) for s, r in results.items()}
    from _results import machine, write_section

    section = (f"{args.section}\n\nCommand: `.venv/bin/python benchmarks/separation.py {shlex.join(argv)}`  \n"
               f"Machine: {machine()}  \nDate: {datetime.now():%Y-%m-%d %H:%M}; {time.perf_counter() - t0:.0f} s\n\n"
               f"{n['clean']} clean and {n['noisy']} noisy 2-speaker mixtures of {args.test} (made by "
               f"`recipes/sep/test_set.py`: speech_read's test speakers, 4-6 s, min mode, relative level -5 .. 5 "
               f"dB; noisy: held-out Debian noise at 0-15 dB SNR against the louder speaker, WHAM!-style). Means "
               f"over the mixtures (± standard deviation) of the mean over both speakers, PIT by SI-SDR; SI-SDRi "
               f"and SDRi over the mixture. Oracle masks: computed from the true sources on the mixture's STFT "
               f"(512/128 Hann, its phase). RTF: output seconds per audio second, one thread.\n\n{table(results)}\n\n"
               + (f"{lone_table(alone, len(data['clean']))}\n\n" if alone else "") +
               f"Published results of the candidate architectures (not measured here; other data and rate):\n\n"
               f"{published()}\n")
    print(section)
    if args.out:
        write_section(args.out, args.section, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
