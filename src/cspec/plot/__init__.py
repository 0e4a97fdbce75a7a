"""Figures of complex spectrograms: waveform, log-magnitude, phase, group delay and instantaneous frequency.

One column per signal, one row per panel. Every row shares its axes and its colour scale across the columns,
so that signals (clean, noisy, enhanced, reconstructed ...) can be compared by eye; time is in seconds and
frequency in kHz. The phase-derived panels (phase, group delay, instantaneous frequency) are blanked where the
magnitude is more than ``mask_db`` below the loudest bin of all signals: there they are the phase of noise.

The features come from :mod:`cspec.spectral.features`; this package only lays them out
(:mod:`cspec.plot.figure`; :mod:`cspec.plot.files` loads audio and writes figures). It uses
:class:`matplotlib.figure.Figure` with the Agg canvas directly, never ``pyplot``, so it leaks no global state and
works without a display.
"""

from cspec.plot.figure import DEFAULT_PANELS, FIGURE_FORMATS, PANELS, figure, parse_panels
from cspec.plot.files import check_output, load_signals, plot_files, save_figure

__all__ = ["PANELS", "DEFAULT_PANELS", "FIGURE_FORMATS", "figure", "plot_files", "save_figure", "check_output",
           "parse_panels", "load_signals"]
