"""``cspec enhance``: enhance files, globs and folders with a model; thin over :class:`cspec.infer.Enhancer`.

Outputs are ``<stem>_enhanced.wav`` beside each input, or ``<stem>.wav`` under ``-o OUT`` with the tree of a
folder argument mirrored there (same names, so ``cspec eval --ref clean/ --est OUT/`` pairs them). An input is never overwritten; an existing output only with ``--overwrite``. A file that fails
is reported on one line and the batch goes on, and so does a missing argument; the exit code is 1 when any
input failed (2 for an error of the command). Ctrl-C (exit 130) and SIGTERM (143) stop the work within a
block and remove what was partly written; temporary files of a killed run are removed by the next one.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import random
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import torch

from cspec import audio
from cspec.errors import Cancelled, ConfigError, CspecError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".opus")

_EPILOG = """inputs:
  files, quoted globs ('data/**/*.wav') and folders (searched recursively for audio files; files whose name
  ends in _enhanced are skipped there, so a second run does not enhance the outputs of the first)

examples:
  cspec enhance noisy.wav --model runs/gtcrn/model
  cspec enhance corpus/ -o enhanced/ --model gtcrn --jobs 2 --plot
  cspec enhance talk.flac --model runs/gtcrn/model --stream
  cspec export runs/gtcrn/model -o gtcrn.onnx && cspec enhance noisy.wav --onnx gtcrn.onnx
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "enhance", help="enhance speech files with a model (files, globs, folders; long files in chunks)",
        description="Enhance each input with a speech enhancement model at the input's rate and channels\n"
        f"(processed at the model's rate, resampled with {audio.RESAMPLER}); long files run in overlapping\n"
        "chunks with bounded memory. Prints one line per failed file and a summary.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", metavar="IN", nargs="+", help="audio files, globs or folders")
    p.add_argument("-o", "--output", metavar="OUT", help="output folder: outputs keep their input names (<stem>.wav), the tree of a folder "
                   "input mirrored (or a file name for a single input file); default: <stem>_enhanced.wav beside "
                   "each input")
    p.add_argument("--model", metavar="NAME|PATH", default="default",
                   help="bundled model name or a folder written by cspec.models.save (default: %(default)s)")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"),
                   help="what runs --model: its folder's model.onnx through onnxruntime (onnx), PyTorch (torch), or "
                   "onnx when onnxruntime is installed and the export computes the same model (auto, the default; "
                   "--stream runs PyTorch)")
    p.add_argument("--onnx", metavar="FILE", help="run an ONNX export (cspec export) with onnxruntime instead")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="files processed in parallel (default: 1)")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="network passes of a generative model's sampler (default: the model's own)")
    p.add_argument("--chunk", type=float, default=10.0, metavar="S", help="chunk length in seconds (default: 10)")
    p.add_argument("--overlap", type=float, default=1.0, metavar="S", help="chunk crossfade in seconds (default: 1)")
    p.add_argument("--plot", action="store_true", help="also write <output stem>.png: input vs output figure")
    p.add_argument("--stream", action="store_true",
                   help="process each file as a stream of random-size blocks (causal models) and print the latency")
    p.add_argument("--seed", type=int, default=0, help="seed of the --stream block sizes (default: 0)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (inputs never)")
    p.set_defaults(func=run)


def collect(inputs: list[str], output: str | None) -> tuple[list[tuple[Path, Path]], list[str]]:
    """``(input, output)`` pairs for the command's arguments (see the module docstring), and one line for each
    argument that gave nothing (missing, unreadable, a folder without audio): the run goes on without it."""
    out = Path(output) if output else None
    single_file = out is not None and out.suffix.lower() in AUDIO_SUFFIXES
    found, problems = walk_inputs(inputs, lambda stem: stem.endswith("_enhanced"))
    pairs = [(f, _target(f, out, rel)) for f, rel in found]
    if not pairs:
        raise ConfigError("; ".join(problems) if len(problems) == 1 else
                          f"no audio files in the inputs ({len(problems)} arguments gave nothing: {problems[0]} ...)")
    if single_file:
        if len(pairs) != 1:
            raise ConfigError(f"{out}: one output file for {len(pairs)} inputs; give a folder for -o")
        pairs = [(pairs[0][0], out)]
    srcs = {s.resolve() for s, _ in pairs}
    for _, dst in pairs:
        if dst.resolve() in srcs:
            raise ConfigError(f"{dst}: is an input; refusing to write over it")
    if len({d.resolve() for _, d in pairs}) != len(pairs):
        raise ConfigError("two inputs map to the same output name; enhance them into different folders")
    return pairs, problems


def walk_inputs(inputs: list[str], skip_stem) -> tuple[list[tuple[Path, Path]], list[str]]:
    """The audio files the command-line arguments name, as ``(file, folder relative to its argument)`` (``Path()``
    for a file or a glob match), and one line for each argument that gave nothing (missing, unreadable, a folder
    without audio). In folders, files whose stem ``skip_stem`` accepts (earlier outputs) and cspec's temporary
    files are left out. Shared by ``cspec enhance`` and ``cspec separate``."""
    from cspec.audio.fs import is_temp_name, os_reason

    found: list[tuple[Path, Path]] = []
    problems: list[str] = []
    for arg in inputs:
        if not str(arg).strip():  # Path("") is the current folder: an empty argument (an unset variable) is an error
            problems.append(f"{arg!r}: an empty path; name a file, folder or glob")
            continue
        path = Path(arg)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            problems.append(f"{arg}: {os_reason(exc)}")
            continue
        if st is not None and stat.S_ISDIR(st.st_mode):
            files = sorted(f for f in path.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file()
                           and not skip_stem(f.stem) and not is_temp_name(f.name))
            if not files:
                problems.append(f"{arg}: a folder with no audio files ({', '.join(AUDIO_SUFFIXES)})")
            found += [(f, f.parent.relative_to(path)) for f in files]
        elif st is not None:
            found.append((path, Path()))
        else:
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True)
                             if Path(m).is_file() and not is_temp_name(Path(m).name))
            if not matches:
                problems.append(f"{arg}: no such file, folder or matching glob")
            found += [(m, Path()) for m in matches]
    return found, problems


def run_in_parts(pairs: list, jobs: int, work, stop: threading.Event) -> None:
    """``work(part)`` on ``jobs`` interleaved parts of ``pairs`` in threads; on Ctrl-C, SIGTERM or a worker's
    error, ``stop`` is set so that the others stop at their next block, and the exception goes on."""
    parts = [pairs[i:: jobs] for i in range(min(jobs, len(pairs)))]
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        futures = [pool.submit(work, part) for part in parts]
        try:
            for f in futures:
                f.result()
        except BaseException:
            stop.set()
            wait(futures)
            raise


@contextlib.contextmanager
def file_progress(title: str, console, total: int, failed: list, plot=None):
    """The progress bar of a files command and its ``on_done(src, out, err)``, shared by ``cspec enhance`` and
    ``cspec separate``: under a lock (``--jobs`` threads), a failed ``src`` goes into ``failed`` and is printed on
    one line, a done one is plotted by ``plot(src, out, console)`` when ``plot`` is given; the bar advances."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    lock = threading.Lock()
    with Progress(TextColumn(f"[bold]{title}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, transient=False) as bar:
        task = bar.add_task("", total=total)

        def done(src: Path, out, err: CspecError | None) -> None:
            with lock:
                if err is not None:
                    failed.append(src)
                    bar.console.print(f"failed  {_one_line(src, err)}", markup=False, highlight=False)
                elif plot is not None:
                    plot(src, out, bar.console)
                bar.update(task, advance=1, description=src.name)

        yield done


def _target(src: Path, out: Path | None, rel: Path) -> Path:
    if out is None:
        return src.with_name(f"{src.stem}_enhanced.wav")
    return out / rel / f"{src.stem}.wav"


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from cspec.infer import Enhancer, OnnxModel, Stream, resolve_model

    if args.jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {args.jobs}")
    pairs, problems = collect(args.inputs, args.output)
    if args.onnx and args.backend:
        raise ConfigError("--onnx FILE runs that export with onnxruntime; drop --backend, which picks what runs --model")
    if args.stream and args.backend == "onnx":
        raise ConfigError("--stream runs PyTorch or a frames export (cspec export --mode frames, then --onnx FILE); "
                          "drop --backend onnx")
    backend = "torch" if args.stream else (args.backend or "auto")
    # onnxruntime's intra-op threads shared out between the --jobs workers (0: its own choice, all cores)
    threads = 0 if args.jobs == 1 else max(1, (os.cpu_count() or 1) // args.jobs)
    model = OnnxModel(args.onnx, threads=threads) if args.onnx else resolve_model(args.model, backend, threads)
    if args.onnx and model.mode != "offline" and not args.stream:
        raise ConfigError(f"{args.onnx}: a '{model.mode}' export runs with --stream only")
    if args.steps is not None and args.stream:
        raise ConfigError("--steps is for generative models, which do not stream; drop --stream")
    enhancer = None if args.stream else Enhancer(model, chunk_seconds=args.chunk, overlap_seconds=args.overlap,
                                                 steps=args.steps)
    stream = Stream(model) if args.stream else None
    console, failed = Console(stderr=True, soft_wrap=True), []
    for line in problems:
        console.print(f"failed  {line}", markup=False, highlight=False)
    if stream is not None:
        console.print(f"streaming: latency {stream.latency} samples = {1000 * stream.latency / stream.sample_rate:.1f}"
                      f" ms at {stream.sample_rate} Hz ({'frame by frame' if stream.framewise else 'bounded context'})")
    start, stop = time.perf_counter(), threading.Event()
    plot = (lambda src, dst, con: _plot(src, dst, args.overwrite, con, failed)) if args.plot else None
    with file_progress("enhance", console, len(pairs), failed, plot) as done:
        def work(part: list[tuple[Path, Path]]) -> None:
            if stream is None:
                enhancer.enhance_files([s for s, _ in part], [d for _, d in part], args.overwrite, on_done=done,
                                       stop=stop)
                return
            for src, dst in part:
                if stop.is_set():
                    raise Cancelled("stopped on request")
                try:
                    _stream_file(Stream(model), src, dst, args.overwrite, args.seed, stop)
                    done(src, dst, None)
                except CspecError as err:
                    done(src, dst, err)

        run_in_parts(pairs, args.jobs, work, stop)
    elapsed = time.perf_counter() - start
    n_failed, n_all = len(set(failed)) + len(problems), len(pairs) + len(problems)
    print(f"enhanced {n_all - n_failed} of {n_all} files in {elapsed:.1f} s with "
          f"{Path(args.onnx).name if args.onnx else args.model} "
          f"({'PyTorch' if isinstance(model, torch.nn.Module) else 'onnxruntime'})"
          + (f"; {n_failed} failed" if n_failed else ""))
    return 1 if n_failed else 0


def _one_line(src: Path, err: Exception) -> str:
    """The error as one line that names the input once (errors about the output name the output)."""
    text = " ".join(str(err).split())
    return text if str(src) in text or text.startswith(str(src.parent)) else f"{src}: {text}"


def _stream_file(stream, src: Path, dst: Path, overwrite: bool, seed: int, stop=None) -> None:
    """Feed ``src`` (mixed down, at the model's rate) to ``stream`` in random-size blocks; write the output."""
    wave, sr = audio.load(src, mono=True, sr=stream.sample_rate)
    rng, pos, outs = random.Random(seed), 0, []
    with torch.no_grad():
        while pos < wave.shape[-1]:
            if stop is not None and stop.is_set():
                raise Cancelled("stopped on request")
            size = rng.randint(1, 2048)
            outs.append(stream.process(wave[0, pos: pos + size]))
            pos += size
        outs.append(stream.flush())
    audio.save(dst, torch.cat(outs), sr, overwrite=overwrite, protect=(src,), like=src)


def _plot(src: Path, dst: Path, overwrite: bool, console, failed: list) -> None:
    from cspec.plot import plot_files

    try:
        plot_files([src, dst], dst.with_suffix(".png"), title=f"{src.name}: input vs enhanced", overwrite=overwrite)
    except CspecError as err:
        failed.append(src)
        console.print(f"plot failed  {_one_line(src, err)}", markup=False, highlight=False)
