"""Panels of long signals, summarised to what a figure can show and computed block by block.

A figure is 1000-2000 pixels wide; an hour at hop 100 has 576 000 STFT frames.  Signals with more than
:data:`EXACT_FRAMES` frames are drawn from at most :data:`COLUMNS` columns of ``step`` consecutive frames each:

* ``spec``: the largest magnitude of the column's frames (max-pooling, so that a short loud event stays
  visible, as a peak-hold display keeps it);
* ``phase``, ``gd``, ``if``: the values of the column's middle frame (decimation: these do not average), computed
  from the samples around that frame only (its neighbours included, for the phase-vocoder IF);
* ``wave``: the minimum and maximum of every one of 4000 buckets of samples (a min/max envelope, as before).

The samples arrive in blocks (a file read by :func:`cspec.phase.streams.mono_blocks`), so memory holds a block,
the columns and their frames' neighbourhoods, never the full-resolution STFT.  With ``step = 1`` the panels
equal the whole-signal ones (``tests/test_plot.py`` checks it).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import torch

from cspec.phase.streams import PaddedStream
from cspec.spectral import features
from cspec.spectral.stft import STFTConfig, _padded_window, n_frames

__all__ = ["EXACT_FRAMES", "COLUMNS", "ENVELOPE_POINTS", "column_step", "summarize"]

#: signals up to this many STFT frames are drawn frame by frame (unchanged); longer ones in columns
EXACT_FRAMES = 12000
#: at most this many columns for a long signal
COLUMNS = 3000
#: buckets of the waveform's min/max envelope
ENVELOPE_POINTS = 4000


def column_step(frames: int) -> int:
    """Frames per column: 1 up to :data:`EXACT_FRAMES` frames, else enough for at most :data:`COLUMNS` columns."""
    return 1 if frames <= EXACT_FRAMES else math.ceil(frames / COLUMNS)


class _Envelope:
    """Min/max per bucket of ``ceil(n / points)`` samples, pushed in blocks (raw samples up to ``2 * points``)."""

    def __init__(self, n: int, sr: int, points: int = ENVELOPE_POINTS) -> None:
        self.sr, self.raw = sr, n <= 2 * points
        self.per = 1 if self.raw else math.ceil(n / points)
        self.lo, self.hi, self.rest = [], [], np.zeros(0, np.float32)

    def push(self, x: np.ndarray) -> None:
        x = np.concatenate([self.rest, x])
        whole = x.shape[0] // self.per * self.per
        parts = x[:whole].reshape(-1, self.per)
        self.lo.append(parts.min(1))
        self.hi.append(parts.max(1))
        self.rest = x[whole:]

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.rest.size:
            self.lo.append(self.rest.min(keepdims=True))
            self.hi.append(self.rest.max(keepdims=True))
        lo, hi = np.concatenate(self.lo), np.concatenate(self.hi)
        if self.raw:
            return np.arange(lo.shape[0]) / self.sr, lo, lo
        return (np.arange(lo.shape[0]) * self.per + self.per / 2) / self.sr, lo, hi


def summarize(blocks: Iterable[torch.Tensor], n: int, sr: int, cfg: STFTConfig, panels: Sequence[str],
              step: int) -> dict:
    """The panels of one signal pushed as 1-D ``blocks`` (``n`` samples in all, at ``sr``) in columns of ``step``
    frames: ``{"n", "peak", "env", "step", "mag", "rep", "phase", "gd", "if"}`` as far as ``panels`` ask, arrays
    ``(freq, columns)`` in the figure's units (``mag``: pooled magnitude, ``rep``: the middle frames' magnitude).
    ``n`` may be an estimate (a resampled file): the frames come from the samples that arrive."""
    cfg = cfg.replace(sample_rate=sr)
    hop, size = cfg.hop_length, cfg.n_fft
    window = _padded_window(cfg, None, torch.float64)
    spectral = [p for p in panels if p != "wave"]
    env, pad = _Envelope(n, sr), PaddedStream(cfg, torch.float64)
    state = {"buf": torch.zeros(0, dtype=torch.float64), "pos": 0, "frame": 0, "col": 0, "peak": 0.0, "n": 0}
    pooled: list[torch.Tensor] = []  # per column, the max magnitude so far
    segments: list[tuple[int, torch.Tensor]] = []  # (offset of the middle frame in the segment, samples)

    def middle(c: int, frames: int) -> int:
        return min(c * step + step // 2, frames - 1)

    def take(padded: torch.Tensor, frames: int | None) -> None:
        """Pool the finished frames and cut the finished middle-frame neighbourhoods; ``frames``: the total
        count once known (at the end)."""
        buf = state["buf"] = torch.cat([state["buf"], padded])
        pos, end = state["pos"], state["pos"] + buf.shape[0]
        count = 0 if end - state["frame"] * hop < size else 1 + (end - state["frame"] * hop - size) // hop
        if spectral and count:
            first = state["frame"] * hop - pos
            mags = torch.fft.rfft(buf[first: first + size + hop * (count - 1)].unfold(0, size, hop) * window).abs()
            idx = torch.arange(state["frame"], state["frame"] + count) // step
            for c in torch.unique(idx).tolist():
                best = mags[idx == c].amax(0)
                if c < len(pooled):
                    pooled[c] = torch.maximum(pooled[c], best)
                else:
                    pooled.append(best)
        state["frame"] += count
        total = state["frame"] if frames is None else frames
        while spectral and state["col"] * step < total:  # the column's middle frame and its neighbours
            r = middle(state["col"], total if frames is not None else 1 << 62)
            lo, hi = max(r - 1, 0) * hop, (min(r + 1, total - 1) if frames is not None else r + 1) * hop + size
            if hi > end:
                break
            segments.append((r * hop - lo, buf[lo - pos: hi - pos].clone()))
            state["col"] += 1
        keep = max(0, min(state["frame"] - 2, middle(state["col"], 1 << 62) - 1)) * hop  # still needed from here
        if keep > pos:
            state["buf"], state["pos"] = buf[keep - pos:], keep

    for x in blocks:
        x = x.reshape(-1).to(torch.float64)
        if x.numel() == 0:
            continue
        state["n"] += x.shape[0]
        state["peak"] = max(state["peak"], float(x.abs().max()))
        env.push(x.to(torch.float32).numpy())
        if spectral:
            take(pad.push(x), None)
    if spectral:
        take(pad.finish(), n_frames(state["n"], cfg))
    out = {"n": state["n"], "peak": state["peak"], "env": env.finish(), "step": step}
    if spectral:
        out.update(_middle_features(segments, cfg, panels))
        out["mag"] = torch.stack(pooled, dim=-1).numpy()
    return out


def _middle_features(segments: list[tuple[int, torch.Tensor]], cfg: STFTConfig, panels: Sequence[str]) -> dict:
    """Magnitude, phase, group delay and IF of each segment's middle frame, in the figure's units."""
    flat = cfg.replace(center=False)
    sr, hop = cfg.sample_rate, cfg.hop_length
    cols: dict[str, list] = {k: [None] * len(segments) for k in ("rep", "phase", "gd", "if")}
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (offset, seg) in enumerate(segments):  # the same length and offset: one batch
        groups.setdefault((offset, seg.shape[0]), []).append(i)
    batches = [(offset, idx[i: i + 128]) for (offset, _), idx in groups.items() for i in range(0, len(idx), 128)]
    for offset, idx in batches:  # 128 at a time: the features' intermediate spectrograms stay small
        x = torch.stack([segments[i][1] for i in idx])
        j = offset // hop
        X = torch.fft.rfft(x[:, offset: offset + cfg.n_fft] * _padded_window(flat, None, torch.float64))
        vals = {"rep": X.abs(), "phase": features.phase(X)}
        if "gd" in panels:  # samples from the frame centre -> ms
            vals["gd"] = features.group_delay(x, flat, method="analytic")[..., j] * (1000.0 / sr)
        if "if" in panels:  # Hz -> deviation from the bin's centre frequency
            ifreq = features.instantaneous_frequency(x, flat, method="analytic" if cfg.window == "hann" else "diff")
            vals["if"] = ifreq[..., j] - torch.arange(X.shape[-1], dtype=torch.float64) * (sr / cfg.n_fft)
        for key, v in vals.items():
            for row, i in enumerate(idx):
                cols[key][i] = v[row]
    return {k: torch.stack(v, dim=-1).numpy() for k, v in cols.items() if v and v[0] is not None}
