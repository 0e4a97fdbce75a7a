"""Peak memory of enhancing a long file: generate N minutes of noise-like audio in a temporary folder, run
``Enhancer.enhance_file`` (block-wise reading, chunked model, block-wise writing) and report the peak RSS
(``resource.getrusage``, the whole process: Python, torch and the model included) and the real-time factor.

    .venv/bin/python benchmarks/long_file.py                      # 60 min, the bundled default through onnxruntime
    .venv/bin/python benchmarks/long_file.py --minutes 10 --backend torch --rate 44100 --channels 2 --model tiny

``--model``: a bundled name or a model folder (default: the bundled ``default``). Target: peak RSS <= 1.5 GB for a
one-hour file.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def _write_long(path: Path, minutes: float, rate: int, channels: int) -> int:
    """Write the file block by block (never all in memory); returns its frames."""
    rng, total = np.random.default_rng(0), int(minutes * 60 * rate)
    with sf.SoundFile(str(path), "w", rate, channels, "PCM_16") as f:
        for start in range(0, total, 10 * rate):
            n = min(10 * rate, total - start)
            t = (start + np.arange(n)) / rate
            tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)
            f.write((tone[:, None] + 0.05 * rng.standard_normal((n, channels))).astype(np.float32))
    return total


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--rate", type=int, default=16000)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--backend", choices=("onnx", "torch"), default="onnx")
    p.add_argument("--chunk", type=float, default=10.0)
    p.add_argument("--model", default="default", help="bundled name or model folder (default)")
    args = p.parse_args()

    from cspec.infer import Enhancer
    from cspec.infer.enhancer import resolve_model

    model = resolve_model(args.model, args.backend)  # onnx: the folder's model.onnx (bundled ones ship it)
    name = model.name
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "long.wav"
        frames = _write_long(src, args.minutes, args.rate, args.channels)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        Enhancer(model, chunk_seconds=args.chunk).enhance_file(src, tmp / "out.wav")
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux -> MB
        out = sf.info(str(tmp / "out.wav"))
        assert out.frames == frames and out.channels == args.channels and out.samplerate == args.rate
    audio_s = frames / args.rate
    whole_mb = frames * args.channels * 4 / 1e6
    print(f"{args.minutes:g} min, {args.rate} Hz, {args.channels} ch, {args.model} ({name}) via {args.backend}, "
          f"chunk {args.chunk} s")
    print(f"peak RSS {peak:.0f} MB (before enhancing: {before:.0f} MB; the whole signal in float32 alone: "
          f"{whole_mb:.0f} MB)")
    print(f"time {elapsed:.1f} s for {audio_s:.0f} s of audio, real-time factor {elapsed / audio_s:.4f}")
    return 0 if peak <= 1536 else 1


if __name__ == "__main__":
    sys.exit(main())
