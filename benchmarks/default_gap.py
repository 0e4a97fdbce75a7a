"""Where the bundled default loses PESQ to DeepFilterNet3, by splicing the two outputs on the dev pairs.

Both systems enhance each of the 15 dev pairs. Their outputs are cut into STFT bins (512-point Hann frames every
128 samples) and put back together with some bins from one and the rest from the other; the table gives the
PESQ-WB of each splice (mean over the pairs):

- frames: DeepFilterNet3's bins in pause frames only (the clean frame more than 30 dB below the loudest frame) or
  in speech frames only, the default's elsewhere;
- bands: DeepFilterNet3's bins in one frequency band, the default's elsewhere;
- magnitude and phase: DeepFilterNet3's magnitude with the default's phase, and the other way round;
- oracle pause gate: the default's output turned down by a fixed amount in the pause frames (told by the clean
  speech, so no system could do it; an upper bound on what more suppression in pauses can give).

A last table scores the systems on the simulated validation set the default was selected on (the ``data.valid``
section of recipes/pool/default-3s2.yaml: 40 clips of 4 s from the pool's held-out speakers), to tell a gap in
the training domain from one in the dev pairs' domain.

    CSPEC_DATA=../shared/data python benchmarks/default_gap.py --out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from _results import machine, write_section  # benchmarks/ is on sys.path when a script here runs
from enhance_systems import SYSTEMS

SECTION = "## Where the default loses to DeepFilterNet3"
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CSPEC_DATA", ROOT.parent / "shared" / "data"))
os.environ.setdefault("CSPEC_DATA", str(DATA))  # the validation recipe reads the pool through it
EDGES = (0, 250, 500, 1000, 2000, 4000, 8001)
N_FFT, HOP = 512, 128
WINDOW = torch.hann_window(N_FFT, dtype=torch.float64)


def stft(x: torch.Tensor) -> torch.Tensor:
    return torch.stft(x, N_FFT, HOP, window=WINDOW, return_complex=True)


def istft(spec: torch.Tensor, n: int) -> torch.Tensor:
    return torch.istft(spec, N_FFT, HOP, window=WINDOW, length=n)


def splices(clean: torch.Tensor, ours: torch.Tensor, peer: torch.Tensor, sr: int = 16000) -> dict[str, torch.Tensor]:
    """The spliced signals named as in the table (float64 waves of the clean signal's length)."""
    n = clean.shape[-1]
    S, C, D = stft(clean), stft(ours), stft(peer)
    energy = S.abs().square().sum(0)
    pause = (energy < energy.max() * 10 ** (-30 / 10)).expand_as(C)
    f = torch.fft.rfftfreq(N_FFT, 1 / sr)[:, None].expand_as(C)
    out = {"default": ours, "DeepFilterNet3": peer,
           "DeepFilterNet3 in pause frames": istft(torch.where(pause, D, C), n),
           "DeepFilterNet3 in speech frames": istft(torch.where(pause, C, D), n)}
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        band = (f >= lo) & (f < hi)
        out[f"DeepFilterNet3 in {lo}-{min(hi, 8000)} Hz"] = istft(torch.where(band, D, C), n)
    out["DeepFilterNet3 magnitude, default phase"] = istft(D.abs() * torch.exp(1j * C.angle()), n)
    out["default magnitude, DeepFilterNet3 phase"] = istft(C.abs() * torch.exp(1j * D.angle()), n)
    for db in (3, 6, 10, 20):
        out[f"oracle pause gate: default -{db} dB in pauses"] = istft(torch.where(pause, C * 10 ** (-db / 20), C), n)
    return out


def pesq_wb(clean: torch.Tensor, est: torch.Tensor) -> float:
    from pesq import pesq

    return float(pesq(16000, clean.float().numpy(), est[: clean.shape[-1]].float().numpy(), "wb"))


def run(system, x: torch.Tensor, sr: int) -> torch.Tensor:
    system.prepare()
    return torch.as_tensor(np.asarray(system(x, sr), dtype=np.float64).reshape(-1))


def simulated_valid(systems: dict) -> dict[str, float]:
    """Mean PESQ-WB of the noisy input and each system on the default's simulated validation set."""
    from cspec.train.data import build_dataset
    from cspec.train.recipe import load_recipe

    recipe = load_recipe(ROOT / "recipes" / "pool" / "default-3s2.yaml")
    data = build_dataset(recipe.data.valid, "data.valid", 16000, 1, False, recipe.seed)
    scores: dict[str, list[float]] = {"noisy": []} | {k: [] for k in systems}
    for i in range(len(data)):
        item = data[i]
        x, s = item["mixture"].reshape(-1).float(), item["targets"].reshape(-1).double()
        scores["noisy"].append(pesq_wb(s, x.double()))
        for name, system in systems.items():
            scores[name].append(pesq_wb(s, run(system, x, 16000)))
    return {k: float(np.mean(v)) for k, v in scores.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="default", help="bundled name or model folder (default)")
    p.add_argument("--no-valid", action="store_true", help="skip the simulated validation set")
    p.add_argument("--out", type=Path, help="write the tables as a section of this Markdown file")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from cspec import audio

    clean_files = sorted((DATA / "dev_pairs" / "clean").glob("*.flac"))
    if not clean_files:
        raise SystemExit(f"error: no dev pairs under {DATA}/dev_pairs; set CSPEC_DATA")
    ours = SYSTEMS["cspec"]({"path": args.model, "threads": 1})
    peer = SYSTEMS["deepfilternet3"]({})
    scores: dict[str, list[float]] = {}
    for c in clean_files:
        s, sr = audio.load(c, mono=True)
        x, _ = audio.load(DATA / "dev_pairs" / "noisy" / c.name, mono=True)
        s = s[0].double()
        n = s.shape[-1]
        y_ours, y_peer = run(ours, x[0], sr)[:n], run(peer, x[0], sr)[:n]
        for name, y in splices(s, y_ours, y_peer, sr).items():
            scores.setdefault(name, []).append(pesq_wb(s, y))
    base = float(np.mean(scores["default"]))
    rows = ["| signal | PESQ-WB | change from the default |", "|---|---:|---:|"]
    rows += [f"| {k} | {np.mean(v):.3f} | {np.mean(v) - base:+.3f} |" for k, v in scores.items()]
    body = (f"{SECTION}\n\nCommand: `python benchmarks/default_gap.py --model {args.model} --out ...`  \n"
            f"Machine: {machine()}\n\n{len(clean_files)} dev pairs; STFT {N_FFT} / {HOP}, Hann; pause frames: the "
            "clean frame more than 30 dB below the loudest. What each row splices is in the script's docstring.\n\n"
            + "\n".join(rows) + "\n")
    if not args.no_valid:
        sim = simulated_valid({"default": ours, "DeepFilterNet3": peer, "RNNoise": SYSTEMS["rnnoise"]({})})
        body += ("\nThe simulated validation set (recipes/pool/default-3s2.yaml `data.valid`: 40 clips of 4 s, "
                 "held-out speakers of the pool):\n\n| system | PESQ-WB |\n|---|---:|\n"
                 + "\n".join(f"| {k} | {v:.3f} |" for k, v in sim.items()) + "\n")
    print(body)
    if args.out:
        write_section(args.out, SECTION, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
