"""``cspec reconstruct``: throw the phase of a file away, rebuild it from the STFT magnitude, report how well.

Thin over :func:`cspec.phase.reconstruct`; the measures are spectral convergence (Sturmel & Daudet 2011,
eq. 4, :mod:`cspec.metrics.spectral`) and PESQ (ITU-T P.862.2 wide-band at 16 kHz, P.862 narrow-band at 8 kHz,
through :func:`cspec.metrics.intrusive.pesq`).  A file longer than ``--block`` seconds (plus the one-second
look-ahead) is read, reconstructed (:class:`cspec.phase.blockwise.BlockReconstructor`), written and scored block
by block, in memory bounded by a block; shorter files take the whole-signal path.
"""

from __future__ import annotations

import argparse
import math
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
from cspec.phase._threads import intra_op_threads
from cspec.phase.blockwise import BLOCK_SECONDS, CONTEXT_SECONDS, BlockReconstructor, block_frames
from cspec.phase.streams import FrameStream, mono_blocks
from cspec.spectral.stft import STFTConfig, get_preset, list_presets, n_frames, stft

METHODS = tuple(_METHOD_SOURCES)

_EPILOG = "methods:\n" + "".join(f"  {k:<10} {v}\n" for k, v in _METHOD_SOURCES.items()) + """
what it prints:
  SC         spectral convergence || |S| - |STFT(y)| ||_F / || |S| ||_F in dB (lower is better),
             measured on the file written, so it can be recomputed from OUT
  PESQ       against IN's mixdown at the preset's rate (cspec.metrics.intrusive.pesq): wide-band at 16 kHz,
             narrow-band at 8 kHz, 'skipped' at other rates, 'n/a: reason' when it cannot score; a file
             scored block by block gets the duration-weighted mean over pieces of >= 5 minutes
  time       wall-clock seconds of the reconstruction, and its real-time factor (seconds per second of audio);
             for a file reconstructed block by block, of the whole pass: reading, resampling and writing included

long files: a file longer than --block seconds (+ 1 s) is reconstructed in blocks of that length, each
  continuing the phase of the frames already written (see cspec.phase.blockwise), and scored block by block:
  memory stays bounded by a block whatever the file's length; the iterations count per block

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
    p.add_argument("--iters", type=_iterations, default=None, metavar="N",
                   help="iterations, an integer >= 1 (>= 0 for learned): of the whole signal for the Griffin-Lim "
                   "family, per frame for rtisi, FGLA ones after the learned phase; pghi alone does not iterate "
                   "(default: 100, 20 for rtisi, 16 for learned)")
    p.add_argument("--preset", type=preset, default=None, metavar="NAME",
                   help="STFT preset: one of " + ", ".join(list_presets()) + " (default: mpsenet, and hann512-128 "
                   "for learned)")
    p.add_argument("--model", default="phase", metavar="NAME|DIR",
                   help="for --method learned: the trained phase model, bundled name or folder (default: %(default)s,"
                   " trained for hann512-128 and hann512-256)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of every random choice: the random start of gla/fgla, the phase PGHI gives to "
                   "negligible bins (default: %(default)s)")
    p.add_argument("--block", type=_seconds, default=BLOCK_SECONDS, metavar="SEC",
                   help="reconstruct files longer than this (plus a 1 s look-ahead) block by block, in blocks of SEC "
                   "seconds, in bounded memory; 0: always the whole signal at once (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (IN is never overwritten)")
    p.set_defaults(func=run)


def _iterations(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer; give a number of iterations >= 1") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is not >= 0; give a number of iterations >= 1 (0 for learned)")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"{text} is not >= 0; give a block length in seconds (0: whole signal)")
    return value


def pesq_score(ref, deg, sr: int) -> tuple[float | None, str]:
    """PESQ of ``deg`` against ``ref`` (1-D, same rate) by :func:`cspec.metrics.intrusive.pesq` and a note: the
    mode, or why there is no score.  Arrays are passed as they are (float32 NumPy for long files), no copy here."""
    if sr not in (8000, 16000):
        return None, f"skipped: PESQ is defined at 8 or 16 kHz only, not {sr} Hz"
    try:
        from cspec.metrics._common import MetricError
        from cspec.metrics.intrusive import pesq
    except ImportError:  # pragma: no cover - cspec.metrics imports its packages lazily
        return None, "skipped: cspec.metrics is unavailable"
    mode = "wb" if sr == 16000 else "nb"
    try:
        with np.errstate(divide="ignore", invalid="ignore"):  # pesq divides by the peak: 0/0 on digital silence
            value = pesq(ref, deg, sr, mode=mode)
    except ImportError:
        return None, "skipped: the 'pesq' package is not installed (pip install 'cspec[metrics]')"
    except MetricError as exc:
        return None, f"n/a: {exc}"
    return float(value), "wide-band, P.862.2" if mode == "wb" else "narrow-band, P.862"


def _whole(args, src: Path, out: Path, cfg: STFTConfig) -> tuple:
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
                              seed=args.seed, model=args.learned or "phase")
    elapsed = time.perf_counter() - start
    audio.save(out, rebuilt, cfg.sample_rate, overwrite=args.overwrite, protect=(src,), like=src)

    written, _ = audio.load(out, mono=True)  # score what was written (after quantisation), as anyone can
    sc_db = float(spectral_convergence_db(target, written[0], cfg))
    del target, rebuilt
    return wave.shape[-1], written.shape[-1], sc_db, pesq_score(wave, written[0], cfg.sample_rate), elapsed, ""


def _long(args, src: Path, out: Path, cfg: STFTConfig, block: int, context: int) -> tuple:
    """Read, reconstruct and write block by block, then score block by block: memory bounded by a block."""
    rate = cfg.sample_rate
    predictor = None if args.learned is None else (lambda mag: args.learned.phase(mag, cfg))
    rec = BlockReconstructor(args.method, cfg, args.iters, block, context, seed=args.seed, predictor=predictor)
    frames, total = FrameStream(cfg), 0
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    with torch.inference_mode(), \
            audio.BlockWriter(out, rate, 1, overwrite=args.overwrite, protect=(src,), like=src) as writer:
        for x in mono_blocks(src, rate, _READ):
            total += x.shape[0]
            y = rec.push(frames.push(x).abs())
            if y.numel():
                writer.write(y[None])
        writer.write(torch.cat([rec.push(frames.finish().abs()), rec.finish(total)])[None])
    elapsed = time.perf_counter() - start
    sc_db, score = _score_stream(src, out, cfg)
    note = f", block-wise: {rec.blocks} blocks of {args.block:g} s with {CONTEXT_SECONDS:g} s look-ahead"
    return total, writer.frames, sc_db, score, elapsed, note


_READ = 1 << 16  # frames of a file read at a time
#: a long file's PESQ is the duration-weighted mean over pieces of about this many seconds
PESQ_PIECE_SECONDS = 300.0
_PIECE_SLACK = 30.0  # seconds held beyond a piece, to find where it ends


def _paired(a, b):
    """Two streams of 1-D blocks as pairs of equal-length blocks, until the shorter stream ends."""
    its, left = (iter(a), iter(b)), [torch.zeros(0), torch.zeros(0)]
    while True:
        for i in (0, 1):
            while left[i].shape[0] < _READ:
                x = next(its[i], None)
                if x is None:
                    break
                left[i] = torch.cat([left[i], x])
        n = min(left[0].shape[0], left[1].shape[0])
        if n == 0:
            return
        yield left[0][:n], left[1][:n]
        left = [left[0][n:], left[1][n:]]


def _score_stream(src: Path, out: Path, cfg: STFTConfig) -> tuple[float, tuple[float | None, str]]:
    """Spectral convergence of OUT against IN's magnitude and PESQ, a block at a time.

    SC accumulates its two sums of squares over the frames; PESQ (:func:`pesq_score`) scores consecutive
    pieces of about :data:`PESQ_PIECE_SECONDS`, ended where :func:`cspec.metrics.intrusive.pesq` would cut its own
    segments anyway (so a piece holds whole segments), and averages them weighted by their duration: the signals
    are never held whole."""
    sr = cfg.sample_rate
    ref_fs, est_fs = FrameStream(cfg), FrameStream(cfg)
    sums = [0.0, 0.0]  # || |S| - |E| ||^2, || |S| ||^2
    pieces = _PesqPieces(sr) if sr in (8000, 16000) else None

    def add(r: torch.Tensor, e: torch.Tensor) -> None:
        r, e = r.abs().double(), e.abs().double()
        sums[0] += float((r - e).square().sum())
        sums[1] += float(r.square().sum())

    refs, ests = mono_blocks(src, sr, _READ), (b[0] for b in audio.blocks(out, _READ))
    for r, e in _paired(refs, ests):
        add(ref_fs.push(r), est_fs.push(e))
        if pieces is not None:
            pieces.add(r.numpy(), e.numpy())
    add(ref_fs.finish(), est_fs.finish())
    sc_db = 20 * math.log10(max(math.sqrt(sums[0]) / max(math.sqrt(sums[1]), 1e-12), 1e-12))
    return sc_db, pieces.finish() if pieces is not None else pesq_score(None, None, sr)


class _PesqPieces:
    """PESQ of a long pair pushed in blocks: pieces of about :data:`PESQ_PIECE_SECONDS` scored as they fill."""

    def __init__(self, sr: int) -> None:
        self.sr, self.ref, self.est, self.held = sr, [], [], 0
        self.scores: list[tuple[float, int]] = []
        self.fail: str | None = None
        self.note = ""

    def add(self, r: np.ndarray, e: np.ndarray) -> None:
        self.ref.append(r.copy())
        self.est.append(e.copy())
        self.held += r.shape[0]
        if self.held >= (PESQ_PIECE_SECONDS + _PIECE_SLACK) * self.sr:
            ref, est = np.concatenate(self.ref), np.concatenate(self.est)
            cut = self._cut(ref)
            self._score(ref[:cut], est[:cut])
            self.ref, self.est, self.held = [ref[cut:]], [est[cut:]], ref.shape[0] - cut

    def _cut(self, ref: np.ndarray) -> int:
        """The last cut of PESQ's own segmentation after PESQ_PIECE_SECONDS that the rest of the signal cannot move
        (its segment fits with 15 s to spare); a fixed length where that segmentation is not available."""
        fixed = int(PESQ_PIECE_SECONDS * self.sr)
        try:
            from cspec.metrics.intrusive import pesq_segments
        except ImportError:
            return fixed
        if self.sr != 16000:
            return fixed
        starts = [a for a, _ in pesq_segments(ref, self.sr)]
        safe = [a for a, nxt in zip(starts, starts[1:]) if nxt + 16 * self.sr <= ref.shape[0] and a >= fixed]
        return (safe[0] if safe else fixed) if starts[1:] else fixed

    def _score(self, ref: np.ndarray, est: np.ndarray) -> None:
        from cspec.metrics._common import SILENCE

        if self.fail is not None or ref.shape[0] == 0 or np.abs(ref).max() < SILENCE:
            return  # nothing to score in a silent piece
        value, note = pesq_score(ref, est, self.sr)
        if value is None:
            self.fail = note
        else:
            self.scores.append((value, ref.shape[0]))
            self.note = note

    def finish(self) -> tuple[float | None, str]:
        if self.ref:
            self._score(np.concatenate(self.ref), np.concatenate(self.est))
        if self.fail is not None or not self.scores:
            return None, self.fail or "n/a: the reference is silent"
        value = sum(v * n for v, n in self.scores) / sum(n for _, n in self.scores)
        pieces = f", duration-weighted mean of {len(self.scores)} pieces of >= {PESQ_PIECE_SECONDS:g} s" \
            if len(self.scores) > 1 else ""
        return float(value), self.note + pieces


def run(args: argparse.Namespace) -> int:
    src, out = Path(args.input), Path(args.output)
    audio.check_target(out, args.overwrite, protect=(src,))  # before the work, so that a mistake costs nothing
    if args.preset is None:
        args.preset = "hann512-128" if args.method == "learned" else "mpsenet"
    cfg = get_preset(args.preset)
    if args.iters == 0 and args.method != "learned":
        raise ConfigError(f"--iters 0: only --method learned takes 0 iterations (its phase as it is); "
                          f"{args.method} needs >= 1")
    args.learned, member = None, None
    if args.method == "learned":
        from cspec.infer.phase import LearnedPhase

        args.learned = LearnedPhase.from_pretrained(args.model)
        member = args.learned.model_for(cfg)  # an STFT it was not trained for: one line naming those it was
    header = audio.info(src)
    block_s = args.block
    if member is not None and not hasattr(member, "predict_phase"):
        block_s = 0.0  # DeGLI iterates on the whole signal
    block, context = block_frames(cfg, block_s, CONTEXT_SECONDS) if block_s > 0 else (0, 0)
    expected = math.ceil(header.frames * cfg.sample_rate / header.samplerate)  # samples at the preset's rate
    if block and header.frames > 0 and n_frames(expected, cfg) > block + context:
        with intra_op_threads(1):  # block-sized work: threads gain little and stall beside a busy core
            length, n_out, sc_db, (pesq_value, pesq_note), elapsed, note = _long(args, src, out, cfg, block, context)
    else:
        length, n_out, sc_db, (pesq_value, pesq_note), elapsed, note = _whole(args, src, out, cfg)
    seconds = length / cfg.sample_rate
    resampled = f", resampled ({audio.RESAMPLER})" if header.samplerate != cfg.sample_rate else ""
    mixed = f", {header.channels} channels mixed down" if header.channels > 1 else ""
    n_iter = args.iters if args.iters is not None else {"rtisi": 20, "learned": 16}.get(args.method, 100)
    iters = {"pghi": "no iterations", "rtisi": f"{n_iter} iterations per frame"}.get(
        args.method, f"{n_iter} iterations")

    print(f"input   {src}: {header.samplerate} Hz, {seconds:.2f} s{mixed}{resampled}")
    print(f"method  {args.method}, {iters}, preset {args.preset} "
          f"(n_fft {cfg.n_fft}, hop {cfg.hop_length}, window {cfg.window} {cfg.win}), seed {args.seed}{note}")
    print(f"output  {out}: {cfg.sample_rate} Hz, {n_out} samples")
    print(f"SC      {sc_db:.2f} dB")
    print(f"PESQ    {pesq_value:.3f} ({pesq_note})" if pesq_value is not None else f"PESQ    {pesq_note}")
    print(f"time    {elapsed:.3f} s for {seconds:.2f} s of audio, real-time factor {elapsed / seconds:.4f}")
    return 0
