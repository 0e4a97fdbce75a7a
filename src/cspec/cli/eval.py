"""``cspec eval``: score a folder of estimates against references (and noisy inputs), or without a reference.

Thin over :mod:`cspec.metrics.report`: pairs files by name, shows a progress bar on stderr, prints the
preprocessing, package versions and a summary (mean, 95 % CI, count, NaN count per metric) on stdout, and
writes the per-file table with ``--csv``.
"""

from __future__ import annotations

import argparse
import math
import sys

from cspec.errors import ConfigError

_EPILOG = """\
metrics (--metrics, comma-separated; default: pesq_wb,pesq_nb,stoi,estoi,si_sdr,sdr,snr,ssnr,csig,cbak,covl,lsd):
  pesq_wb pesq_nb      ITU-T P.862.2 / P.862 (+P.862.1) via the pesq package, at 16 kHz   (alias: pesq)
  stoi estoi           STOI (Taal 2011) / extended STOI (Jensen & Taal 2016) via pystoi, at 10 kHz
  si_sdr sdr snr ssnr  SI-SDR, BSS-eval SDR (512 taps), SNR, segmental SNR, in dB at the file's rate
  csig cbak covl       Hu & Loizou (2008) composite measures (alias: composite); llr wss: their parts
  lsd sc               log-spectral distance, spectral convergence
  dnsmos               DNSMOS P.835 SIG/BAK/OVRL and P.808 (speechmos), no reference needed

Canonical preprocessing, printed with every report: mono; each metric at its own rate, every change of rate
by soxr VHQ; reference and estimate whose lengths differ by at most 0.1 s are cut to the shorter one (more:
NaN, with both lengths in the reason); PESQ of a file longer than 10 s is the duration-weighted mean over
5-10 s segments cut in pauses (ITU-T P.862.3). A clip where a metric cannot be computed (silent, too short,
NaN samples, no utterance, lengths that differ) gets NaN and a reason, and so does a metric whose C code
crashes ("crashed (signal 11)": the other files and metrics are kept); means leave NaNs out and count them.
Exit status 0, or 1 when not one value could be computed (every value NaN).

speaker separation (--sources N): --ref holds <name>_s1.wav ... <name>_sN.wav (or LibriMix-style folders
s1/ s2/ ... of <name>.wav), --est the same (as 'cspec separate' writes), --mix the mixtures <name>.wav. Per
file the estimates are matched to the references by the permutation of highest mean SI-SDR (uPIT); reported
per source and as the file's mean: si_sdr, sdr (BSS-eval, 512 taps) and, with --mix, si_sdri, sdri and the
mixture's own mix_si_sdr, mix_sdr; the CSV's perm column lists the estimate matched with s1, s2, ...
A missing or extra source file, lengths that differ by more than 0.1 s, a silent or unreadable file: NaN and
the reason for that file.

examples:
  cspec eval --ref data/clean --est enhanced/ --noisy data/noisy --csv scores.csv --jobs 4
  cspec eval --ref test/ --est separated/ --mix test/mix_clean --sources 2 --csv scores.csv
  cspec eval --ref data/clean --est enhanced/ --metrics pesq,stoi,si_sdr
  cspec eval --est recordings/ --dnsmos
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score enhanced files against clean references (PESQ, STOI, SI-SDR, composite, DNSMOS ...)",
        description="Pair the files of --est and --ref (and --noisy) by name, compute the metrics on every\n"
        "pair in parallel, print a summary with 95% confidence intervals and write a per-file CSV.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--est", required=True, metavar="DIR", help="folder of estimates (enhanced or separated files)")
    p.add_argument("--ref", metavar="DIR", help="folder of clean references with the same file names")
    p.add_argument("--noisy", metavar="DIR",
                   help="folder of the noisy inputs: also score them and report the improvements (delta PESQ, SI-SDRi)")
    p.add_argument("--metrics", metavar="LIST", help="comma-separated metric names (see below)")
    p.add_argument("--dnsmos", action="store_true", help="add DNSMOS P.835 and P.808 (works without --ref)")
    p.add_argument("--csv", metavar="FILE", help="write the per-file table (values, NaN reasons) to FILE")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="files scored in parallel processes (default 1)")
    p.add_argument("--sources", type=int, metavar="N",
                   help="score speaker separation of N sources: permutation-invariant SI-SDR, SDR (see below)")
    p.add_argument("--mix", metavar="DIR", help="with --sources: folder of the mixtures, for SI-SDRi and SDRi")
    p.set_defaults(func=run)


def _names(args) -> tuple[str, ...]:
    from cspec.metrics.registry import METRICS, resolve

    if args.noisy and not args.ref:
        raise ConfigError("--noisy needs --ref (the improvement is measured against the reference)")
    if args.ref is None:
        if args.metrics is not None:
            names = resolve(args.metrics)
            if any(METRICS[n].intrusive for n in names):
                raise ConfigError("intrusive metrics need --ref DIR; without a reference use --dnsmos")
            return names
        if not args.dnsmos:
            raise ConfigError("no reference: pass --ref DIR, or --dnsmos to score without a reference")
        return resolve("dnsmos")
    names = resolve(args.metrics)
    return names + tuple(n for n in resolve("dnsmos") if n not in names) if args.dnsmos else names


def _fmt(v: float, digits: int = 3) -> str:
    return "nan" if math.isnan(v) else f"{v:.{digits}f}"


def summary_table(summaries, names, noisy: bool) -> list[str]:
    """The summary as a Markdown table (one line per metric), for the terminal and for docs alike."""
    from cspec.metrics.registry import METRICS

    by = {s.column: s for s in summaries}
    head = ["metric", "unit", "mean", "95% CI", "n", "NaN"]
    if noisy:
        head += ["noisy", "improvement", "impr. 95% CI"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for n in names:
        s = by[n]
        cells = [n, METRICS[n].unit, _fmt(s.mean), "±" + _fmt(s.ci95), str(s.count), str(s.nan)]
        if noisy:
            b, d = by[f"noisy_{n}"], by[f"delta_{n}"]
            cells += [_fmt(b.mean), f"{d.mean:+.3f}" if not math.isnan(d.mean) else "nan", "±" + _fmt(d.ci95)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _check_csv(args, inputs: list[str]) -> None:
    """Find out before scoring, not after minutes of work, that --csv can be written and is no input."""
    from pathlib import Path

    from cspec.audio.fs import check_writable

    if Path(args.csv).is_dir():
        raise ConfigError(f"--csv {args.csv}: cannot write (is a folder)")
    if Path(args.csv).exists() and any(Path(args.csv).samefile(f) for f in inputs if f and Path(f).exists()):
        raise ConfigError(f"--csv {args.csv}: is one of the input files; choose another name")
    check_writable(args.csv)


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    return Progress(*columns, console=Console(stderr=True), transient=False)


def _finish(rows: list[dict], names, write_table, out) -> int:
    """The end of a report: the files with NaN values and why, the CSV (``write_table()`` returns its path), and
    exit 1 when nothing could be scored."""
    from cspec.metrics.report import all_nan

    failed = [r for r in rows if r["reason"]]
    if failed:
        print(f"{len(failed)} file(s) with NaN values:", file=out)
        for r in failed:
            print(f"  {r['file']}: {r['reason']}", file=out)
    if write_table:
        print(f"per-file table: {write_table()}", file=out)
    if all_nan(rows, names):
        print(f"cspec eval: no file could be scored: all {len(rows) * len(names)} values are NaN "
              "(reasons listed above)", file=sys.stderr)
        return 1
    return 0


def run_separation(args: argparse.Namespace) -> int:
    """``cspec eval --sources N``: permutation-invariant separation scores (:mod:`cspec.metrics.separation`)."""
    from cspec.metrics.report import Summary, summarize
    from cspec.metrics.separation_report import evaluate_separation, file_columns, pair_sources, write_sep_csv

    for flag, given in (("--noisy", args.noisy), ("--metrics", args.metrics), ("--dnsmos", args.dnsmos)):
        if given:
            raise ConfigError(f"{flag} does not apply to separation (--sources); use --mix DIR for the mixtures")
    if not args.ref:
        raise ConfigError("--sources needs --ref DIR (the reference sources)")
    if args.sources < 1:
        raise ConfigError(f"--sources must be >= 1, got {args.sources}")
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {args.jobs}")
    items = pair_sources(args.est, args.ref, args.sources, args.mix)
    if args.csv:
        _check_csv(args, [f for it in items for f in (*it.refs, *it.ests, it.mix)])
    with _progress() as bar:
        task = bar.add_task("eval", total=len(items))
        rows = evaluate_separation(items, jobs=args.jobs, on_done=lambda _row: bar.advance(task))
    names = file_columns(bool(args.mix))
    by: dict[str, Summary] = {s.column: s for s in summarize(rows, names)}
    out = sys.stdout
    print(f"cspec eval: {len(items)} files of {args.sources} sources in {args.est} against {args.ref}", file=out)
    print("preprocessing: mono; estimates (and mixtures) resampled to the reference rate by soxr VHQ; signals "
          "within 0.1 s cut to the shortest; permutation of highest mean SI-SDR per file; SDR: BSS-eval, 512 taps",
          file=out)
    print("summary: mean over files of the per-file mean over sources, NaN left out; 95% CI = Student-t "
          "half-width", file=out)
    lines = ["| metric | unit | mean | 95% CI | n | NaN |", "|---|---|---|---|---|---|"]
    for n in names:
        s = by[n]
        lines.append(f"| {n} | dB | {_fmt(s.mean)} | ±{_fmt(s.ci95)} | {s.count} | {s.nan} |")
    print("\n".join(lines), file=out)
    return _finish(rows, names, args.csv and (lambda: write_sep_csv(rows, args.csv)), out)


def run(args: argparse.Namespace) -> int:
    if args.sources is not None:
        return run_separation(args)
    if args.mix:
        raise ConfigError("--mix is for separation: pass --sources N too (for enhancement use --noisy DIR)")
    from cspec.metrics.registry import preprocessing, versions
    from cspec.metrics.report import evaluate_pairs, pair_folders, summarize, write_csv

    names = _names(args)
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {args.jobs}")
    pairs = pair_folders(args.est, args.ref, args.noisy)
    if args.csv:  # find out before scoring, not after minutes of work
        _check_csv(args, [])
    with _progress() as bar:
        task = bar.add_task("eval", total=len(pairs))
        rows = evaluate_pairs(pairs, names, jobs=args.jobs, on_done=lambda _row: bar.advance(task))
    summaries = summarize(rows, names)
    out = sys.stdout
    print(f"cspec eval: {len(pairs)} files in {args.est}" + (f" against {args.ref}" if args.ref else ""), file=out)
    print(f"preprocessing: {preprocessing(names)}", file=out)
    print(f"packages: {versions()}", file=out)
    print("summary: mean over files, NaN left out; 95% CI = Student-t half-width", file=out)
    print("\n".join(summary_table(summaries, names, bool(args.noisy))), file=out)
    return _finish(rows, names, args.csv and (lambda: write_csv(rows, args.csv, names)), out)
