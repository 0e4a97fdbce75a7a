"""Where the residual noise is: per-band residual of each system on the dev pairs, in speech and in pauses.

For each of the 15 dev pairs and each system (DeepFilterNet3, RNNoise, cspec models, the noisy input), the output
``y`` is split into the clean speech it carries, ``a s`` with ``a`` the least-squares gain, and a residual
``r = y - a s`` (noise left plus distortion). Frames (512 / 256, Hann) are "speech" where the clean frame's energy
is within 30 dB of its loudest frame and "pause" elsewhere. The table gives, per band, the residual energy in
dB relative to the clean speech energy of that band in speech frames: over speech frames, and over pause frames
(as an energy per frame, so that the two columns are comparable whatever the share of pauses). Lower is better;
pauses are where a listener (and PESQ, DNSMOS BAK) hears residual noise alone. Means over the clips in dB.

    .venv/bin/python benchmarks/residual_bands.py --cspec default --out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from _results import machine, write_section  # benchmarks/ is on sys.path when a script here runs
from enhance_systems import SYSTEMS

SECTION = "## Residual noise by band"
DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
EDGES = (0, 250, 1000, 2000, 4000, 8001)


def power(x: np.ndarray) -> np.ndarray:
    """|STFT|^2, (freq, frames), 512-point Hann frames every 256 samples."""
    t = torch.as_tensor(x, dtype=torch.float64)
    return torch.stft(t, 512, 256, window=torch.hann_window(512, dtype=torch.float64), return_complex=True
                      ).abs().square().numpy()


def bands(clean: np.ndarray, est: np.ndarray, sr: int = 16000) -> np.ndarray:
    """(2, bands): residual in dB re the band's speech energy, over speech frames and over pause frames."""
    n = min(len(clean), len(est))
    s, y = clean[:n], est[:n]
    a = float(np.dot(y, s) / max(np.dot(s, s), 1e-20))
    S, R = power(s), power(y - a * s)
    e = S.sum(0)
    speech = e > e.max() * 10 ** (-30 / 10)
    pause = ~speech
    f = np.fft.rfftfreq(512, 1 / sr)
    out = np.full((2, len(EDGES) - 1), np.nan)
    for i in range(len(EDGES) - 1):
        b = (f >= EDGES[i]) & (f < EDGES[i + 1])
        ref = S[b][:, speech].sum() / speech.sum()  # speech energy per speech frame in the band
        out[0, i] = 10 * np.log10(R[b][:, speech].sum() / speech.sum() / ref + 1e-20)
        if pause.any():
            out[1, i] = 10 * np.log10(R[b][:, pause].sum() / pause.sum() / ref + 1e-20)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cspec", action="append", default=[], metavar="NAME", help="bundled name or model folder")
    p.add_argument("--out", type=Path, help="write the table as a section of this Markdown file")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    systems = {"noisy": None, "DeepFilterNet3": SYSTEMS["deepfilternet3"]({}), "RNNoise": SYSTEMS["rnnoise"]({})}
    for name in args.cspec or ["default"]:
        systems[f"cspec {name}"] = SYSTEMS["cspec"]({"path": name, "threads": 1})
    from cspec import audio

    clean = sorted((DATA / "dev_pairs" / "clean").glob("*.flac"))
    if not clean:
        raise SystemExit(f"error: no dev pairs under {DATA}/dev_pairs; set CSPEC_DATA")
    scores: dict[str, list[np.ndarray]] = {k: [] for k in systems}
    for c in clean:
        s, sr = audio.load(c, mono=True)
        x, _ = audio.load(DATA / "dev_pairs" / "noisy" / c.name, mono=True)
        for name, system in systems.items():
            if system is None:
                y = x[0].numpy()
            else:
                system.prepare()
                y = np.asarray(system(x[0], sr), dtype=np.float64).reshape(-1)
            scores[name].append(bands(s[0].double().numpy(), y, sr))
    head = [f"{EDGES[i]}-{EDGES[i + 1] - 1 if i == len(EDGES) - 2 else EDGES[i + 1]} Hz" for i in range(len(EDGES) - 1)]
    rows = ["| system | where | " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(head)]
    for name, v in scores.items():
        m = np.nanmean(np.stack(v), axis=0)
        for j, where in enumerate(("speech", "pauses")):
            rows.append(f"| {name} | {where} | " + " | ".join(f"{t:.1f}" for t in m[j]) + " |")
    cmd = "python benchmarks/residual_bands.py " + " ".join(f"--cspec {n}" for n in args.cspec) + " --out ..."
    body = (f"{SECTION}\n\nCommand: `{cmd}`  \nMachine: {machine()}\n\n"
            f"{len(clean)} dev pairs; residual r = y - a s (a: least-squares gain of the clean speech s in the "
            "output y), energy in dB relative to the band's clean-speech energy per speech frame, over speech "
            "frames (clean frame within 30 dB of the loudest) and over the other frames (pauses); means over the "
            "clips; lower is better.\n\n" + "\n".join(rows) + "\n")
    print(body)
    if args.out:
        write_section(args.out, SECTION, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
