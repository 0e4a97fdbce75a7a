"""Demo: enhance a noisy recording with the bundled default model, score it and draw before/after.

    python examples/demo.py          (or: make demo)

Runs ``cspec enhance examples/noisy.flac -o out/demo/enhanced.wav`` (the bundled ``default`` model, shipped
inside the package: no download), scores input and output against the clean ``examples/speech.flac``
(PESQ wide-band, STOI, SI-SDR: ``examples/noisy.flac`` is that clean voice plus generated noise at 5 dB SNR,
made by ``examples/make_noisy.py``) and writes

    out/demo/enhanced.wav        the enhanced recording (16 kHz, 16-bit)
    out/demo/before_after.png    noisy | enhanced | clean: waveform and log-magnitude spectrogram

Everything goes through the ``cspec`` command line (:func:`cspec.cli.main`); outputs of a previous run are
replaced. The phase-retrieval demo of the first release is ``examples/reconstruct.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLEAN = ROOT / "examples" / "speech.flac"
NOISY = ROOT / "examples" / "noisy.flac"
OUT = ROOT / "out" / "demo"
SEGMENT = ("1.0", "5.0")  # seconds drawn: "Front Left", "Front Center", "Front Right"


def main() -> int:
    from cspec.audio import load
    from cspec.cli import main as cspec
    from cspec.metrics import evaluate

    OUT.mkdir(parents=True, exist_ok=True)
    wav, png = OUT / "enhanced.wav", OUT / "before_after.png"
    start = time.perf_counter()
    rc = cspec(["enhance", str(NOISY), "-o", str(wav), "--model", "default", "--overwrite"])
    if rc:
        return rc
    seconds = time.perf_counter() - start
    clean = load(CLEAN)[0][0].numpy()
    rows = {}
    for name, path in (("noisy", NOISY), ("enhanced", wav)):
        est = load(path)[0][0].numpy()
        rows[name] = evaluate(clean, est, 16000, ["pesq_wb", "stoi", "si_sdr"])
    print(f"{'':10s} {'PESQ-WB':>8s} {'STOI':>6s} {'SI-SDR':>8s}")
    for name, m in rows.items():
        print(f"{name:10s} {m['pesq_wb']:8.3f} {m['stoi']:6.3f} {m['si_sdr']:6.2f} dB")
    n, e = rows["noisy"], rows["enhanced"]
    title = (f"{NOISY.name} enhanced by the bundled 'default' model  |  PESQ-WB {n['pesq_wb']:.2f} -> "
             f"{e['pesq_wb']:.2f}, SI-SDR {n['si_sdr']:.1f} -> {e['si_sdr']:.1f} dB")
    rc = cspec(["plot", str(NOISY), str(wav), str(CLEAN), "-o", str(png), "--title", title, "--panels",
                "wave,spec", "--start", SEGMENT[0], "--end", SEGMENT[1], "--dpi", "120", "--overwrite"])
    print(f"demo done in {time.perf_counter() - start:.1f} s (enhancement {seconds:.1f} s)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
