"""``cspec reconstruct``: throw the phase of a file away, rebuild it from the STFT magnitude, report how well.

Thin over :func:`cspec.phase.reconstruct`; the measures are spectral convergence (Sturmel & Daudet 2011,
eq. 4, :mod:`cspec.metrics.spectral`) and PESQ (ITU-T P.862.2 wide-band at 16 kHz, P.862 narrow-band at 8 kHz,
through the ``pesq`` package).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from cspec import audio
from cspec.cli._types import preset
from cspec.errors import ConfigError
from cspec.metrics.spectral import spectral_convergence_db
from cspec.phase import METHODS as _METHOD_SOURCES
from cspec.phase import reconstruct
from cspec.spectral.stft import get_preset, list_presets, stft

METHODS = tuple(_METHOD_SOURCES)

_EPILOG = "methods:\n" + "".join(f"  {k:<10} {v}\n" for k, v in _METHOD_SOURCES.items()) + """
what it prints:
  SC         spectral convergence || |S| - |STFT(y)| ||_F / || |S| ||_F in dB (lower is better),
             measured on the file written, so it can be recomputed from OUT
  PESQ       against IN's mixdown at the preset's rate: wide-band at 16 kHz, narrow-band at 8 kHz,
             'skipped' at other rates, 'n/a' when PESQ finds no speech
  time       wall-clock seconds of the reconstruction, and its real-time factor (seconds per second of audio)

examples:
  cspec reconstruct speech.flac -o rebuilt.wav
  cspec reconstruct speech.flac -o gla.wav --method gla --iters 32 --preset dcunet --overwrite
  cspec reconstruct mix.wav -o rebuilt.flac --method pghi --preset tfgridnet8k
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reconstruct",
        help="rebuild a waveform from the STFT magnitude of a file (phase retrieval) and score it",
        description="Keep only the STFT magnitude of IN (mono mixdown, resampled to the preset's rate with\n"
        f"{audio.RESAMPLER}), reconstruct a waveform from it, write OUT at the preset's rate (atomically; an\n"
        "existing OUT only with --overwrite, never over IN) and print spectral convergence, PESQ against IN\n"
        "and the time taken.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="IN", help="audio file to read (wav, flac, ogg, mp3 ...; any rate, any channels)")
    p.add_argument("-o", "--output", metavar="OUT", required=True,
                   help="audio file to write (.wav, .flac, .ogg or .mp3), at the preset's sample rate")
    p.add_argument("--method", choices=METHODS, default="pghi+fgla", metavar="{" + ",".join(METHODS) + "}",
                   help="phase retrieval algorithm (default: %(default)s; see 'methods' below)")
    p.add_argument("--iters", type=_positive_int, default=None, metavar="N",
                   help="iterations, an integer >= 1: of the whole signal for the Griffin-Lim family, per frame "
                   "for rtisi; pghi alone does not iterate (default: 100, and 20 for rtisi)")
    p.add_argument("--preset", type=preset, default="mpsenet", metavar="NAME",
                   help="STFT preset: one of " + ", ".join(list_presets()) + " (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of every random choice: the random start of gla/fgla, the phase PGHI gives to "
                   "negligible bins (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (IN is never overwritten)")
    p.set_defaults(func=run)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer; give a number of iterations >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1; give a number of iterations >= 1")
    return value


def pesq_score(ref: torch.Tensor, deg: torch.Tensor, sr: int) -> tuple[float | None, str]:
    """PESQ of ``deg`` against ``ref`` (1-D, same rate) and a note: the mode, or why there is no score."""
    if sr not in (8000, 16000):
        return None, f"skipped: PESQ is defined at 8 or 16 kHz only, not {sr} Hz"
    try:
        from pesq import BufferTooShortError, NoUtterancesError, PesqError, pesq
    except ImportError:
        return None, "skipped: the 'pesq' package is not installed (pip install 'cspec[metrics]')"
    mode = "wb" if sr == 16000 else "nb"
    n = min(ref.shape[-1], deg.shape[-1])
    try:
        with np.errstate(divide="ignore", invalid="ignore"):  # pesq divides by the peak: 0/0 on digital silence
            value = pesq(sr, ref[:n].double().numpy(), deg[:n].double().numpy(), mode)
    except NoUtterancesError:
        return None, "n/a: PESQ detected no utterance in the reference"
    except BufferTooShortError:
        return None, f"n/a: PESQ needs at least 0.25 s of audio, the signal has {n / sr:.3f} s"
    except PesqError as exc:
        return None, f"n/a: PESQ failed ({str(exc).strip() or type(exc).__name__})"
    return float(value), "wide-band, P.862.2" if mode == "wb" else "narrow-band, P.862"


def run(args: argparse.Namespace) -> int:
    src, out = Path(args.input), Path(args.output)
    audio.check_target(out, args.overwrite, protect=(src,))  # before the work, so that a mistake costs nothing
    cfg = get_preset(args.preset)
    header = audio.info(src)
    wave, _ = audio.load(src, mono=True, sr=cfg.sample_rate)
    wave = wave[0]
    if wave.shape[-1] <= cfg.n_fft // 2:
        raise ConfigError(f"{src}: {wave.shape[-1]} samples at {cfg.sample_rate} Hz are too few for the preset "
                          f"'{args.preset}' (n_fft {cfg.n_fft}); use a longer file or a smaller preset")
    target = stft(wave, cfg).abs()

    torch.manual_seed(args.seed)
    start = time.perf_counter()
    with torch.inference_mode():
        rebuilt = reconstruct(target, method=args.method, n_iter=args.iters, config=cfg, length=wave.shape[-1],
                              seed=args.seed)
    elapsed = time.perf_counter() - start
    audio.save(out, rebuilt, cfg.sample_rate, overwrite=args.overwrite, protect=(src,))

    written, _ = audio.load(out, mono=True)  # score what was written (after quantisation), as anyone can
    sc_db = float(spectral_convergence_db(target, written[0], cfg))
    pesq_value, pesq_note = pesq_score(wave, written[0], cfg.sample_rate)
    seconds = wave.shape[-1] / cfg.sample_rate
    resampled = f", resampled ({audio.RESAMPLER})" if header.samplerate != cfg.sample_rate else ""
    mixed = f", {header.channels} channels mixed down" if header.channels > 1 else ""
    n_iter = args.iters or (20 if args.method == "rtisi" else 100)
    iters = {"pghi": "no iterations", "rtisi": f"{n_iter} iterations per frame"}.get(
        args.method, f"{n_iter} iterations")

    print(f"input   {src}: {header.samplerate} Hz, {seconds:.2f} s{mixed}{resampled}")
    print(f"method  {args.method}, {iters}, preset {args.preset} "
          f"(n_fft {cfg.n_fft}, hop {cfg.hop_length}, window {cfg.window} {cfg.win}), seed {args.seed}")
    print(f"output  {out}: {cfg.sample_rate} Hz, {written.shape[-1]} samples")
    print(f"SC      {sc_db:.2f} dB")
    print(f"PESQ    {pesq_value:.3f} ({pesq_note})" if pesq_value is not None else f"PESQ    {pesq_note}")
    print(f"time    {elapsed:.3f} s for {seconds:.2f} s of audio, real-time factor {elapsed / seconds:.4f}")
    return 0
