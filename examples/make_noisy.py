"""Make ``examples/noisy.flac``: ``speech.flac`` plus generated noise at 5 dB SNR (reproducible, seeded).

    python examples/make_noisy.py

The noise is made here, not recorded, so that the example stays free to ship: a fluctuating noise with a
random smooth spectrum (:func:`cspec.data.shaped_noise`, seed 7) plus a 50 Hz mains hum with its first
harmonics, at 5 dB SNR over the whole clip (:func:`cspec.data.simulate.scale_to_snr`). The result is written at
16 kHz, 16-bit FLAC, peak-normalised with the speech so that it does not clip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def main() -> int:
    from cspec.audio import load, save
    from cspec.data import shaped_noise
    from cspec.data.simulate import scale_to_snr

    speech, sr = load(HERE / "speech.flac")
    x = speech[0].double().numpy()
    rng = np.random.default_rng(7)
    t = np.arange(len(x)) / sr
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3, 5))
    noise = shaped_noise(len(x), rng, sr) + 0.3 * hum / np.sqrt(np.mean(hum ** 2))
    noisy = x + scale_to_snr(x, noise, 5.0)
    noisy *= min(1.0, 0.9 / np.max(np.abs(noisy)))
    save(HERE / "noisy.flac", torch.from_numpy(noisy).float()[None], sr, overwrite=True)
    print(f"wrote {HERE / 'noisy.flac'} ({len(x) / sr:.1f} s, 5 dB SNR)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
