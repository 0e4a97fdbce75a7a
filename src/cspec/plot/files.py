"""Figures to and from files: :func:`plot_files` loads audio, draws :func:`~cspec.plot.figure.figure` and saves it
atomically with :func:`save_figure`, never over an input."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import torch

from cspec import audio
from cspec.errors import ConfigError
from cspec.phase._threads import intra_op_threads
from cspec.phase.streams import mono_blocks
from cspec.plot.figure import DEFAULT_PANELS, FIGURE_FORMATS, draw, figure, parse_panels
from cspec.plot.long import column_step, summarize
from cspec.spectral.stft import STFTConfig, get_preset, n_frames

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_files", "save_figure", "check_output", "load_signals"]


def check_output(out: str | os.PathLike, overwrite: bool = False, protect: Sequence[str | os.PathLike] = ()) -> Path:
    """Refuse a figure path that is an input, has an unknown suffix, is a folder, or exists without overwrite."""
    out = Path(out)
    for src in protect:
        if out.exists() and Path(src).exists() and out.resolve() == Path(src).resolve():
            raise ConfigError(f"{out}: refusing to write over an input file; choose another output path")
    if out.suffix.lower() not in FIGURE_FORMATS:
        raise ConfigError(f"{out}: unknown figure format '{out.suffix}'; use one of {', '.join(FIGURE_FORMATS)}")
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; give a file name for the figure")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out}: the file exists; pass overwrite=True (CLI: --overwrite) to replace it")
    return out


def save_figure(fig: Figure, out: str | os.PathLike, overwrite: bool = False,
                protect: Sequence[str | os.PathLike] = ()) -> Path:
    """Write ``fig`` atomically (temporary file in the destination folder, then a rename); return the path.

    An existing ``out`` is refused unless ``overwrite``; a path in ``protect`` is refused always.
    """
    from cspec.audio import fs

    out = check_output(out, overwrite, protect)
    fs.check_writable(out)  # one line naming the path: not a directory, permission denied, read-only ...
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fs.write_error(out, exc) from None
    fs.remove_stale(out.parent, once=True)
    tmp = fs.temp_path(out, out.suffix.lstrip(".") or "png")
    try:
        fig.savefig(tmp, format=out.suffix.lower().lstrip(".").replace("jpg", "jpeg"))
        os.replace(tmp, out)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, Exception):
            raise fs.write_error(out, exc) from None
        raise
    return out


def load_signals(paths: Sequence[str | os.PathLike]) -> tuple[list[torch.Tensor], int, list[str]]:
    """Load ``paths`` as mono, resampled to the first file's rate: ``(waves, rate, notes)``.

    ``notes`` says, one line per file concerned, which files were resampled or mixed down.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ConfigError("nothing to plot: give at least one audio file")
    waves, notes, sr = [], [], None
    for src in paths:
        header = audio.info(src)
        wave, rate = audio.load(src, mono=True, sr=sr)
        sr = sr or rate
        what = []
        if header.channels > 1:
            what.append(f"{header.channels} channels mixed down")
        if header.samplerate != sr:
            what.append(f"resampled from {header.samplerate / 1000:g} to {sr / 1000:g} kHz with {audio.RESAMPLER}")
        if what:
            notes.append(f"{src.name}: {', '.join(what)}")
        waves.append(wave[0])
    return waves, int(sr), notes


def plot_files(
    paths: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    preset: STFTConfig | str = "mpsenet",
    panels: Sequence[str] | str = DEFAULT_PANELS,
    title: str | None = None,
    overwrite: bool = False,
    dpi: int = 100,
    **kwargs,
) -> Path:
    """Load ``paths`` with :func:`load_signals`, draw :func:`figure`, save it with :func:`save_figure`.

    The caption says which files were resampled to the first file's rate or mixed down. Returns the path
    written (atomically; an existing file only with ``overwrite``; never over one of ``paths``). ``kwargs``
    go to :func:`figure`.  When the segment drawn has more than :data:`cspec.plot.long.EXACT_FRAMES` frames, the
    files are read block by block into columns of frames (:mod:`cspec.plot.long`), never whole.
    """
    paths = [Path(p) for p in paths]
    out = check_output(out, overwrite, protect=paths)  # before the work, so that a mistake costs nothing
    cfg, panels = get_preset(preset), parse_panels(panels)
    if not paths:
        raise ConfigError("nothing to plot: give at least one audio file")
    headers = [audio.stream_info(p) for p in paths]
    sr = int(headers[0].samplerate)
    start, end = float(kwargs.get("start", 0.0) or 0.0), kwargs.get("end")
    i0, i1 = int(round(start * sr)), None if end is None else int(round(end * sr))
    drawn = [min(math.ceil(h.frames * sr / h.samplerate), i1 if i1 is not None else math.inf) - i0 for h in headers]
    if start >= 0 and (end is None or end > start) and min(drawn) > 0 \
            and column_step(max(n_frames(int(n), cfg) for n in drawn)) > 1:
        fig = _long_figure(paths, headers, sr, cfg, panels, title, dpi, i0, i1, drawn, **kwargs)
        return save_figure(fig, out, overwrite=overwrite, protect=paths)
    waves, sr, notes = load_signals(paths)
    kwargs.setdefault("caption", "; ".join(notes) or None)
    fig = figure(waves, sr, names=[p.name for p in paths], config=cfg, panels=panels, title=title, dpi=dpi,
                 **kwargs)
    return save_figure(fig, out, overwrite=overwrite, protect=paths)


def _segment(blocks: Iterator[torch.Tensor], i0: int, i1: int | None) -> Iterator[torch.Tensor]:
    """The samples ``i0 .. i1`` of a stream of 1-D blocks."""
    pos = 0
    for x in blocks:
        a, b = max(i0 - pos, 0), x.shape[0] if i1 is None else min(i1 - pos, x.shape[0])
        pos += x.shape[0]
        if b > a:
            yield x[a:b]
        if i1 is not None and pos >= i1:
            return


def _long_figure(paths: list[Path], headers, sr: int, cfg: STFTConfig, panels, title, dpi, i0, i1, drawn,
                 **kwargs) -> Figure:
    """The figure of long files, each read block by block (mono, at the first file's rate) into columns."""
    step = column_step(max(n_frames(int(n), cfg) for n in drawn))
    data, notes = [], []
    for src, header, n in zip(paths, headers, drawn):
        what = [f"{header.channels} channels mixed down"] if header.channels > 1 else []
        if header.samplerate != sr:
            what.append(f"resampled from {header.samplerate / 1000:g} to {sr / 1000:g} kHz with {audio.RESAMPLER}")
        if what:
            notes.append(f"{src.name}: {', '.join(what)}")
        with intra_op_threads(1):  # block-sized work: threads gain little and stall beside a busy core
            d = summarize(_segment(mono_blocks(src, sr), i0, i1), int(n), sr, cfg, panels, step)
        if d["n"] == 0:
            raise ConfigError(f"{src.name} ends before {i0 / sr} s; choose a start inside the signal")
        data.append(d)
    caption = kwargs.get("caption", "; ".join(notes) or None)
    opts = {k: kwargs[k] for k in ("floor_db", "mask_db", "figsize") if k in kwargs}
    return draw(data, sr, [p.name for p in paths], cfg, panels, title, caption, opts.get("floor_db", -80.0),
                opts.get("mask_db", -50.0), opts.get("figsize"), dpi, i0 / sr, bool(i0 or i1))
