"""``cspec separate``: split the speakers of mixtures into one file each; thin over :class:`cspec.infer.Separator`.

Outputs are ``OUT/<stem>_s1.wav``, ``OUT/<stem>_s2.wav`` ... (one per source, mono, at the input's rate and
sample format), with the tree of a folder argument mirrored under ``OUT``; ``-o mix.wav`` for a single input
gives ``mix_s1.wav``, ``mix_s2.wav``. Several channels are mixed down to mono before separating. An input is
never overwritten; an existing output only with ``--overwrite``. A file that fails is reported on one line and
the batch goes on; the exit code is 1 when any input failed (2 for an error of the command). Ctrl-C (exit 130)
and SIGTERM (143) stop the work within a block and remove what was partly written.
"""

from __future__ import annotations

import argparse
import os
import re
import threading
import time
from pathlib import Path

from cspec import audio
from cspec.cli.enhance import AUDIO_SUFFIXES, _one_line, file_progress, run_in_parts, walk_inputs
from cspec.errors import ConfigError, CspecError

_OUTPUT_STEM = re.compile(r"_s\d+$")  # <stem>_s1 ...: outputs of an earlier run, skipped in folders

_EPILOG = """inputs:
  files, quoted globs ('data/**/*.wav') and folders (searched recursively for audio files; files whose name
  ends in _s<N> are skipped there, so a second run does not separate the outputs of the first)

long files run in overlapping chunks; on each overlap the outputs of the new chunk are reordered to match the
previous chunk's (the order with the largest summed correlation), so a speaker stays in the same file
(stitching of continuous speech separation, Chen et al. 2020)

examples:
  cspec separate meeting.wav -o sources/ --model runs/convtasnet/model
  cspec separate mixtures/ -o separated/ --model runs/convtasnet/model --jobs 2 --plot
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "separate", help="separate the speakers of mixtures into one file each (files, globs, folders)",
        description="Separate each input into <stem>_s1.wav, <stem>_s2.wav ... with a speech separation model, at\n"
        f"the input's rate (processed at the model's rate, resampled with {audio.RESAMPLER}). Several channels\n"
        "are mixed down to mono first. Long files run in overlapping chunks with bounded memory, the speakers kept\n"
        "in the same outputs across chunks. Prints one line per failed file and a summary.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", metavar="IN", nargs="+", help="audio files, globs or folders")
    p.add_argument("-o", "--output", metavar="OUT", required=True,
                   help="output folder (the tree of a folder input mirrored), or NAME.wav for a single input "
                   "(NAME_s1.wav ...)")
    p.add_argument("--model", metavar="NAME|PATH", default="sep2",
                   help="bundled separator name or a folder written by cspec.models.save (default: %(default)s)")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                   help="what runs --model: its folder's model.onnx through onnxruntime, PyTorch, or onnx when the "
                   "export computes the same model (auto, the default)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="files processed in parallel (default: 1)")
    p.add_argument("--chunk", type=float, default=10.0, metavar="S", help="chunk length in seconds (default: 10)")
    p.add_argument("--overlap", type=float, default=2.0, metavar="S",
                   help="chunk overlap in seconds, where speakers are matched and crossfaded (default: 2)")
    p.add_argument("--plot", action="store_true", help="also write OUT/<stem>.png: the mixture and its sources")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (inputs never)")
    p.set_defaults(func=run)


def collect(inputs: list[str], output: str) -> tuple[list[tuple[Path, Path]], list[str]]:
    """``(input, output folder or name)`` pairs (see :func:`cspec.infer.separator.output_paths`), and one line for each
    argument that gave nothing (missing, unreadable, a folder without audio): the run goes on without it."""
    out = Path(output)
    single = out.suffix.lower() in AUDIO_SUFFIXES
    found, problems = walk_inputs(inputs, lambda stem: bool(_OUTPUT_STEM.search(stem)))
    pairs = [(f, out / rel) for f, rel in found]
    if not pairs:
        raise ConfigError("; ".join(problems) if len(problems) == 1 else
                          f"no audio files in the inputs ({len(problems)} arguments gave nothing: {problems[0]} ...)")
    if single:
        if len(pairs) != 1:
            raise ConfigError(f"{out}: one output name for {len(pairs)} inputs; give a folder for -o")
    names = {(d.resolve(), s.stem) for s, d in pairs}
    if len(names) != len(pairs):
        raise ConfigError("two inputs map to the same output names; separate them into different folders")
    return pairs, problems


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from cspec.infer import Separator
    from cspec.infer.separator import output_paths

    if args.jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {args.jobs}")
    pairs, problems = collect(args.inputs, args.output)
    threads = 0 if args.jobs == 1 else max(1, (os.cpu_count() or 1) // args.jobs)
    sep = Separator.from_pretrained(args.model, backend=args.backend, threads=threads, chunk_seconds=args.chunk,
                                    overlap_seconds=args.overlap)
    srcs = {s.resolve() for s, _ in pairs}
    for src, stem in pairs:  # never over an input, whatever the names
        for dst in output_paths(src, stem, sep.n_sources):
            if dst.resolve() in srcs:
                raise ConfigError(f"{dst}: is an input; refusing to write over it")
    console, failed = Console(stderr=True, soft_wrap=True), []
    for line in problems:
        console.print(f"failed  {line}", markup=False, highlight=False)
    start, stop = time.perf_counter(), threading.Event()
    plot = (lambda src, dsts, con: _plot(src, dsts, args.overwrite, con, failed)) if args.plot else None
    with file_progress("separate", console, len(pairs), failed, plot) as done:
        def work(part: list[tuple[Path, Path]]) -> None:
            sep.separate_files([s for s, _ in part], [d for _, d in part], args.overwrite, on_done=done, stop=stop)

        run_in_parts(pairs, args.jobs, work, stop)
    elapsed = time.perf_counter() - start
    n_failed, n_all = len(set(failed)) + len(problems), len(pairs) + len(problems)
    print(f"separated {n_all - n_failed} of {n_all} files into {sep.n_sources} sources each in {elapsed:.1f} s with "
          f"{args.model} ({'onnxruntime' if sep.backend == 'onnx' else 'PyTorch'})"
          + (f"; {n_failed} failed" if n_failed else ""))
    return 1 if n_failed else 0


def _plot(src: Path, dsts: list[Path], overwrite: bool, console, failed: list) -> None:
    from cspec.plot import plot_files

    png = dsts[0].with_name(_OUTPUT_STEM.sub("", dsts[0].stem) + ".png")
    try:
        plot_files([src, *dsts], png, title=f"{src.name}: mixture and separated sources", overwrite=overwrite)
    except CspecError as err:
        failed.append(src)
        console.print(f"plot failed  {_one_line(src, err)}", markup=False, highlight=False)
