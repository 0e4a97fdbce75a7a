"""``cspec plot``: waveform, log-magnitude, phase, group delay and instantaneous frequency of files, side by side.

Thin over :func:`cspec.plot.plot_files`.
"""

from __future__ import annotations

import argparse

from cspec.cli._types import preset
from cspec.errors import ConfigError
from cspec.plot import DEFAULT_PANELS, FIGURE_FORMATS, PANELS, parse_panels, plot_files
from cspec.spectral.stft import list_presets

_EPILOG = """\
panels (one row each, in the order given):
  wave   the waveform (amplitude against time)
  spec   log-magnitude spectrogram, 20*log10|X| in dB relative to the loudest bin of all files
  phase  principal value of the STFT phase, in radians
  gd     group delay -d(phase)/d(omega) in ms from the frame's centre, by time reassignment
         (Auger & Flandrin 1995)
  if     instantaneous frequency d(phase)/dt (Boashash 1992) by frequency reassignment (Auger & Flandrin
         1995; the phase-vocoder difference for windows other than Hann), shown as its deviation from
         the bin's centre frequency, in Hz
  gd, if and phase are blanked where the magnitude is more than 50 dB below the loudest bin, where
  they are only noise.

All files share the axes of a row and its colour scale, so that they can be compared by eye. Files at
other rates than the first one are resampled to its rate (soxr VHQ); the figure's caption says so.

long files: past 12000 STFT frames (2 minutes at the default preset) a figure cannot show every frame;
  the files are then read block by block and drawn in at most 3000 columns of several frames each (the
  title says how many): spec shows each column's loudest frame (max-pooling), phase, gd and if its middle
  frame, wave the min/max of 4000 buckets. Memory stays bounded whatever the length.
The output is written atomically (a temporary file, then a rename); an existing file is kept unless
--overwrite, and an input is never overwritten.

examples:
  cspec plot speech.flac -o speech.png
  cspec plot clean.wav noisy.wav enhanced.wav -o compare.png --panels spec,gd --title "VB-DEMAND p232_001"
  cspec plot speech.flac -o speech.pdf --preset dcunet --panels wave,spec --overwrite
  cspec plot speech.flac rebuilt.wav -o zoom.png --start 1.2 --end 2.7
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plot",
        help="plot waveform, spectrogram, phase, group delay and instantaneous frequency of files side by side",
        description="Draw one column per file and one row per panel (waveform, log-magnitude spectrogram,\n"
        "phase, group delay, instantaneous frequency), with shared axes and colour scales, time in seconds\n"
        "and frequency in kHz, and write the figure to a file (png, pdf, svg or jpg).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", metavar="IN", nargs="+", help="audio files to plot, one column each, in this order")
    p.add_argument("-o", "--output", metavar="FIG", required=True,
                   help="figure file to write; its suffix picks the format: " + ", ".join(FIGURE_FORMATS))
    p.add_argument("--preset", type=preset, default="mpsenet", metavar="NAME",
                   help="STFT preset for the spectral panels (its window and hop, in samples, at the files' "
                   "rate): one of " + ", ".join(list_presets()) + " (default: %(default)s)")
    p.add_argument("--panels", type=_panels, default=",".join(DEFAULT_PANELS), metavar="LIST",
                   help="comma-separated rows to draw, from " + ",".join(PANELS) + " (default: %(default)s)")
    p.add_argument("--title", default=None, metavar="TEXT",
                   help="title over the figure (default: the names of the files)")
    p.add_argument("--dpi", type=_dpi, default=100, metavar="N",
                   help="resolution of raster formats in dots per inch, 20 to 600 (default: %(default)s)")
    p.add_argument("--start", type=_seconds, default=0.0, metavar="SEC",
                   help="draw from this time on, in seconds (default: %(default)s)")
    p.add_argument("--end", type=_seconds, default=None, metavar="SEC",
                   help="draw up to this time, in seconds (default: the end of the longest file)")
    p.add_argument("--overwrite", action="store_true", help="replace FIG if it exists (an input is never overwritten)")
    p.set_defaults(func=run)


def _panels(text: str) -> tuple[str, ...]:
    try:
        return parse_panels(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a time; give a number of seconds >= 0")
    return value


def _dpi(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer; give a resolution from 20 to 600") from None
    if not 20 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{value} is out of range; give a resolution from 20 to 600")
    return value


def run(args: argparse.Namespace) -> int:
    panels = args.panels if isinstance(args.panels, tuple) else parse_panels(args.panels)
    out = plot_files(
        args.inputs, args.output, preset=args.preset, panels=panels, title=args.title,
        overwrite=args.overwrite, dpi=args.dpi, start=args.start, end=args.end,
    )
    print(f"wrote {out}")
    return 0
