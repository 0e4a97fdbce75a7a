"""Figures to and from files: :func:`plot_files` loads audio, draws :func:`~cspec.plot.figure.figure` and saves it
atomically with :func:`save_figure`, never over an input."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch

from cspec import audio
from cspec.errors import ConfigError
from cspec.plot.figure import DEFAULT_PANELS, FIGURE_FORMATS, figure, parse_panels
from cspec.spectral.stft import STFTConfig, get_preset

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
    out = check_output(out, overwrite, protect)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".part{out.suffix}", dir=out.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o644)
        fig.savefig(tmp, format=out.suffix.lower().lstrip(".").replace("jpg", "jpeg"))
        os.replace(tmp, out)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"{out}: cannot write the figure ({exc})") from None
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
    go to :func:`figure`.
    """
    paths = [Path(p) for p in paths]
    out = check_output(out, overwrite, protect=paths)  # before the work, so that a mistake costs nothing
    cfg, panels = get_preset(preset), parse_panels(panels)
    waves, sr, notes = load_signals(paths)
    kwargs.setdefault("caption", "; ".join(notes) or None)
    fig = figure(waves, sr, names=[p.name for p in paths], config=cfg, panels=panels, title=title, dpi=dpi,
                 **kwargs)
    return save_figure(fig, out, overwrite=overwrite, protect=paths)
