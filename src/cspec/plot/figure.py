"""The figure itself: one column per signal, one row per panel, shared axes and colour scales."""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from cspec import audio
from cspec.errors import ConfigError
from cspec.phase._threads import intra_op_threads
from cspec.plot.long import column_step, summarize
from cspec.spectral import features
from cspec.spectral.stft import STFTConfig, get_preset, n_frames, stft

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not when the CLI starts
    from matplotlib.figure import Figure

__all__ = ["PANELS", "DEFAULT_PANELS", "FIGURE_FORMATS", "figure", "draw", "parse_panels"]

#: every panel, in the default order
PANELS = ("wave", "spec", "phase", "gd", "if")
DEFAULT_PANELS = PANELS
#: suffixes that :func:`save_figure` writes
FIGURE_FORMATS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")

_ROW_LABEL = {"wave": "amplitude", "spec": "frequency (kHz)", "phase": "frequency (kHz)",
              "gd": "frequency (kHz)", "if": "frequency (kHz)"}
_COLORBAR = {"spec": "magnitude (dB re max)", "phase": "phase (rad)", "gd": "group delay (ms)",
             "if": "IF deviation (Hz)"}
_CMAP = {"spec": "magma", "phase": "hsv", "gd": "RdBu_r", "if": "PuOr_r"}  # on black where blanked


def parse_panels(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"wave,spec"`` or a sequence of names -> a tuple of known panel names (no repeats)."""
    names = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    bad = [n for n in names if n not in PANELS]
    if bad or not names:
        what = f"unknown panel '{bad[0]}'" if bad else "no panel given"
        raise ConfigError(f"{what}; choose a comma-separated list from {','.join(PANELS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"panel list '{','.join(names)}' repeats a name; give each panel once")
    return tuple(names)


def _mono(wave: torch.Tensor | np.ndarray) -> torch.Tensor:
    wave = torch.as_tensor(wave).detach().to("cpu", torch.float32)
    if wave.dim() == 2:
        wave = wave.mean(0)
    if wave.dim() != 1 or wave.shape[0] == 0:
        raise ConfigError(f"plot a waveform of shape (samples,) or (channels, samples), got {tuple(wave.shape)}")
    return audio.validate(wave)


def _panel_data(wave: torch.Tensor, sr: int, cfg: STFTConfig, panels: Sequence[str]) -> dict:
    """The spectral ``panels`` of one signal (freq, frames), in the units the figure shows.

    Group delay and IF use the reassignment ("analytic") estimates of :mod:`cspec.spectral.phase_features`
    (Auger & Flandrin 1995), which need no neighbouring bin or frame; IF falls back to the phase-vocoder
    difference for windows other than Hann. IF is shown as its deviation from the bin's centre frequency.
    """
    cfg = cfg.replace(sample_rate=sr)  # window and hop in samples, physical units at the signal's rate
    x = wave.double()
    spec = stft(x, cfg)
    data = {"X": spec, "mag": features.magnitude(spec).numpy(), "phase": features.phase(spec).numpy()}
    if "gd" in panels:  # samples from the frame centre -> ms
        data["gd"] = (features.group_delay(x, cfg, method="analytic") * (1000.0 / sr)).numpy()
    if "if" in panels:  # Hz -> deviation from the bin's centre frequency
        ifreq = features.instantaneous_frequency(x, cfg, method="analytic" if cfg.window == "hann" else "diff")
        data["if"] = (ifreq - torch.arange(spec.shape[-2], dtype=torch.float64)[:, None] * (sr / cfg.n_fft)).numpy()
    return data


def _envelope(x: np.ndarray, sr: int, points: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time, low, high) of ``x``: min/max per bucket when there are more samples than ``points``."""
    if x.shape[0] <= 2 * points:
        t = np.arange(x.shape[0]) / sr
        return t, x, x
    per = int(math.ceil(x.shape[0] / points))
    pad = np.pad(x, (0, (-x.shape[0]) % per), mode="edge").reshape(-1, per)
    t = (np.arange(pad.shape[0]) * per + per / 2) / sr
    return t, pad.min(1), pad.max(1)


def _limits(data: list[dict], panels: Sequence[str], floor_db: float, mask_db: float | None, sr: int,
            cfg: STFTConfig) -> dict[str, tuple[float, float]]:
    """Add the dB panel and the masks to ``data``; return one colour range per panel, shared by all signals."""
    top = max((float(d["mag"].max()) for d in data), default=0.0)
    ref = top if top > 0 else 1.0
    to_db = 20 / math.log(10)
    for d in data:  # dB re the loudest bin of all signals (of the loudest frame of a column of a long signal)
        if "X" in d:
            d["spec"] = (features.log_magnitude(d["X"], eps=ref * 1e-10).numpy() - math.log(ref)) * to_db
        else:
            d["spec"] = (np.log(d["mag"] + ref * 1e-10) - math.log(ref)) * to_db
        if mask_db is not None:  # a column's phase panels show its middle frame: masked by that frame's level
            level = d["spec"] if "rep" not in d else (np.log(d["rep"] + ref * 1e-10) - math.log(ref)) * to_db
            low = level < mask_db
            for key in ("phase", "gd", "if"):
                if key in d:
                    d[key] = np.where(low, np.nan, d[key])
    limits = {"spec": (floor_db, 0.0), "phase": (-math.pi, math.pi)}
    for key, default in (("gd", cfg.win / sr * 500), ("if", sr / cfg.n_fft)):
        if key in panels:  # symmetric, at the 95th percentile of |value| over the bins shown
            vals = np.concatenate([np.abs(d[key][np.isfinite(d[key])]) for d in data])
            lim = float(np.percentile(vals, 95)) if vals.size else 0.0
            limits[key] = (-(lim or default), lim or default)
    return limits


def figure(
    waves: Sequence[torch.Tensor | np.ndarray],
    sr: int,
    names: Sequence[str] | None = None,
    config: STFTConfig | str = "mpsenet",
    panels: Sequence[str] | str = DEFAULT_PANELS,
    title: str | None = None,
    caption: str | None = None,
    floor_db: float = -80.0,
    mask_db: float | None = -50.0,
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
    start: float = 0.0,
    end: float | None = None,
) -> Figure:
    """Build the figure of ``waves`` (each ``(samples,)`` or ``(channels, samples)``, mixed down), all at ``sr``.

    Args:
        names: column titles (default ``signal 1``, ``signal 2`` ...).
        config: STFT preset or config; its window and hop are used in samples at ``sr``.
        panels: rows, from :data:`PANELS`.
        title, caption: text over and under the figure.
        floor_db: lower end of the magnitude colour scale, in dB below the loudest bin of all signals.
        mask_db: blank phase, group delay and IF where the magnitude is this many dB below that bin
            (``None``: never).
        figsize, dpi: size in inches (default: 0.55 per second, 4 to 8 per column, by 1.9 per row) and dpi.
        start, end: draw only this segment, in seconds (``end=None``: to the end); the time axis keeps
            the times of the whole signal.

    Returns a :class:`matplotlib.figure.Figure` with an Agg canvas. ``fig.axes`` holds, row by row, the
    row's ``len(waves)`` panels followed by its colour bar (switched off in the waveform row). All panels
    share the time axis; the panels of a row share their y axis and their colour range.

    Signals of more than :data:`cspec.plot.long.EXACT_FRAMES` frames are drawn in columns of several frames
    (the loudest magnitude of each, the phase panels of its middle frame; see :mod:`cspec.plot.long`).
    """
    panels, cfg = parse_panels(panels), get_preset(config)
    if sr <= 0:
        raise ConfigError(f"the sample rate must be positive, got {sr}")
    if start < 0 or (end is not None and end <= start):
        raise ConfigError(f"the segment {start}-{end} s is empty or negative; give 0 <= start < end (seconds)")
    i0, i1 = int(round(start * sr)), None if end is None else int(round(end * sr))
    sigs = [_mono(w)[i0:i1] for w in waves]
    if not sigs:
        raise ConfigError("nothing to plot: give at least one waveform")
    names = list(names) if names is not None else [f"signal {i + 1}" for i in range(len(sigs))]
    if len(names) != len(sigs):
        raise ConfigError(f"{len(names)} names for {len(sigs)} waveforms; give one name per waveform")
    for name, sig in zip(names, sigs):
        if sig.shape[0] == 0:
            raise ConfigError(f"{name} ends before {start} s; choose a start inside the signal")
        if cfg.center and sig.shape[0] <= cfg.n_fft // 2:
            raise ConfigError(f"{name}: {sig.shape[0]} samples are too few for n_fft={cfg.n_fft}; use a smaller preset")
    spectral = [p for p in panels if p != "wave"]
    step = column_step(max(n_frames(sig.shape[0], cfg) for sig in sigs))
    if step == 1:  # frame by frame, as always
        data = [dict(_panel_data(sig, sr, cfg, panels) if spectral else {}, n=sig.shape[0], step=1,
                     peak=float(sig.abs().max()), env=_envelope(sig.numpy(), sr)) for sig in sigs]
    else:  # a long signal: columns of `step` frames, computed block by block (cspec.plot.long)
        with intra_op_threads(1):  # block-sized work: threads gain little and stall beside a busy core
            data = [summarize(sig.split(1 << 16), sig.shape[0], sr, cfg, panels, step) for sig in sigs]
    return draw(data, sr, names, cfg, panels, title, caption, floor_db, mask_db, figsize, dpi, i0 / sr,
                bool(i0 or i1))


def draw(data: list[dict], sr: int, names: Sequence[str], cfg: STFTConfig, panels: Sequence[str],
         title: str | None, caption: str | None, floor_db: float, mask_db: float | None,
         figsize: tuple[float, float] | None, dpi: int, t0: float = 0.0, segment: bool = False) -> Figure:
    """Lay out the panels of signals already summarised (``n``, ``peak``, ``env``, ``step`` and the panel
    arrays, as :func:`figure` or :func:`cspec.plot.long.summarize` make them); ``t0``: time of their first
    sample; ``segment``: the titles give the time span rather than the duration."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spectral = [p for p in panels if p != "wave"]
    limits = _limits(data if spectral else [], panels, floor_db, mask_db, sr, cfg)

    ncols, nrows, dur = len(data), len(panels), max(d["n"] for d in data) / sr
    heights = [0.6 if p == "wave" else 1.0 for p in panels]
    if figsize is None:
        col = min(max(4.0, 0.55 * dur), 8.0)  # inches per column, growing with the duration
        figsize = (1.4 + col * ncols, 0.9 + 1.9 * sum(heights) + (0.3 if caption else 0.0))
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(nrows, ncols + 1, width_ratios=[1.0] * ncols + [0.035], height_ratios=heights)
    peak = max(d["peak"] for d in data) or 1.0
    nyq, half_bin, half_hop = sr / 2000.0, sr / cfg.n_fft / 2000.0, cfg.hop_length / sr / 2
    first = None
    for r, panel in enumerate(panels):
        row, image = [], None
        for c, d in enumerate(data):
            ax = fig.add_subplot(grid[r, c], sharex=first, sharey=row[0] if row else None)
            first, row = first or ax, row + [ax]
            if panel == "wave":
                t, lo, hi = d["env"]
                t = t + t0
                if lo is hi:
                    ax.plot(t, lo, lw=0.5, color="tab:blue")
                else:
                    ax.fill_between(t, lo, hi, lw=0.3, color="tab:blue")
                ax.axhline(0.0, lw=0.4, color="0.6")
                ax.set_ylim(-1.05 * peak, 1.05 * peak)
            else:
                arr = d[panel]
                cmap = colormaps[_CMAP[panel]].with_extremes(bad="black")  # blanked bins, like the dB floor
                image = ax.imshow(
                    arr, origin="lower", aspect="auto", cmap=cmap, vmin=limits[panel][0], vmax=limits[panel][1],
                    interpolation="antialiased" if panel == "spec" else "nearest",  # never average phases
                    extent=(t0 - half_hop, t0 + (arr.shape[1] * d["step"] - 1) * cfg.hop_length / sr + half_hop,
                            -half_bin, nyq + half_bin),
                )
                ax.set_ylim(0.0, nyq)
            if r == 0:
                span = f"{t0:.2f}-{t0 + d['n'] / sr:.2f} s" if segment else f"{d['n'] / sr:.2f} s"
                if d["step"] > 1:
                    span += f", {d['step']} frames per column"
                ax.set_title(f"{names[c]}\n{sr / 1000:g} kHz, {span}", fontsize=10)
            ax.tick_params(labelleft=c == 0, labelbottom=r == nrows - 1)
            if c == 0:
                ax.set_ylabel(_ROW_LABEL[panel])
            if r == nrows - 1:
                ax.set_xlabel("time (s)")
        cax = fig.add_subplot(grid[r, ncols])
        if image is None:
            cax.set_axis_off()
        else:
            bar = fig.colorbar(image, cax=cax)
            bar.set_label(_COLORBAR[panel], fontsize=8)
            if panel == "phase":
                bar.set_ticks([-math.pi, 0.0, math.pi], labels=["-π", "0", "π"])
    first.set_xlim(t0 - (half_hop if spectral else 0.0), t0 + dur)
    title = title if title is not None else " | ".join(names)  # wrapped to the width: ~11 characters per inch
    fig.suptitle("\n".join(textwrap.fill(line, int(figsize[0] * 11)) for line in title.splitlines()), fontsize=12)
    if caption:
        fig.supxlabel(caption, fontsize=8, color="0.3")
    return fig
