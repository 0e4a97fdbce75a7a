"""One FGLA iteration on one CPU thread with its element-wise passes fused and compiled (numba).

Per clip, an iteration of fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013) is two FFTs and a handful of
element-wise passes over arrays of a few hundred kB each: window and overlap-add the inverse frames, divide by
the window envelope, cut the frames of the next analysis and window them, then the momentum step and the
magnitude projection ``|S| * sgn(.)``.  As separate torch kernels those passes cost more than the FFTs (each
one streams its operands through the cache again, and ``torch.sgn`` of a complex tensor is not vectorised);
here each group is one compiled loop, so an iteration is the two FFTs (torch's, which are the fastest this
machine offers) plus three passes over memory.

:func:`fgla_loop` runs the iterations; :class:`cspec.phase.griffin_lim.fast_griffin_lim` calls it for CPU
problems small enough to run on one thread (see :mod:`cspec.phase._threads`) when nothing needs a gradient.
It computes what :class:`cspec.spectral.reproject.Reprojector` and the torch magnitude projection compute, in
the same order per element, so the two agree to float rounding (``tests/phase/test_griffin_lim.py``).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["AVAILABLE", "fgla_loop"]


def _synthesis(frames, window, hop, gate, reflect_half, length, signal):
    """``signal[b] = gate * OLA(frames[b] * window)``, then torch's reflect padding of the centred signal
    (``reflect_half`` samples each side, 0 for none; the signal proper is ``length`` long from there).

    Hop by hop: each output hop sums, in frame order, the window-weighted parts of the frames that cover it
    (the order of :func:`cspec.spectral.stft._overlap_add`), so every sample is written once."""
    batch, n_fr, n = frames.shape
    full = signal.shape[1]
    parts = (n + hop - 1) // hop
    for b in range(batch):
        for j in range(n_fr + parts - 1):
            o = j * hop
            size = min(hop, full - o)
            row = signal[b, o : o + size]
            row[:] = 0.0
            for q in range(parts):
                f = j - q
                s = q * hop
                m = min(size, n - s)
                if 0 <= f < n_fr and m > 0:
                    src = frames[b, f, s : s + m]
                    w = window[s : s + m]
                    for k in range(m):
                        row[k] += src[k] * w[k]
            g = gate[o : o + size]
            for k in range(size):
                row[k] *= g[k]
        if reflect_half > 0:
            for i in range(reflect_half):
                signal[b, i] = signal[b, 2 * reflect_half - i]
            end = reflect_half + length
            for j in range(full - end):
                signal[b, end + j] = signal[b, end - 2 - j]


def _analysis(signal, window, hop, frames):
    """``frames[b, f] = signal[b, f*hop : f*hop + n] * window``."""
    batch, n_fr, n = frames.shape
    for b in range(batch):
        for f in range(n_fr):
            o = f * hop
            for k in range(n):
                frames[b, f, k] = signal[b, o + k] * window[k]


def _project(rebuilt, prev, coef, mag, out):
    """The momentum step and the magnitude projection on complex arrays seen as interleaved (re, im) reals:
    ``t = rebuilt - coef * prev``, ``out = mag * t / |t|`` (0 where ``t`` is 0, as ``torch.sgn``)."""
    for i in range(mag.shape[0]):
        re = rebuilt[2 * i] - coef * prev[2 * i]
        im = rebuilt[2 * i + 1] - coef * prev[2 * i + 1]
        a = np.sqrt(re * re + im * im)
        s = mag[i] / a if a > 0 else 0.0 * a
        out[2 * i] = re * s
        out[2 * i + 1] = im * s


try:  # numba comes with librosa and is a core dependency; without it the torch kernels run
    from numba import njit
except ImportError:  # pragma: no cover
    AVAILABLE = False
else:
    AVAILABLE = True
    _synthesis = njit(cache=True, nogil=True)(_synthesis)
    _analysis = njit(cache=True, nogil=True)(_analysis)
    _project = njit(cache=True, nogil=True)(_project)


def fgla_loop(spec: torch.Tensor, mag_tf: torch.Tensor, n_iter: int, coef: float, window: torch.Tensor,
              hop: int, gate: torch.Tensor, reflect_half: int, length: int, callback=None) -> torch.Tensor:
    """``n_iter`` FGLA iterations on frame-major CPU tensors: ``spec`` ``(B, frames, freq)`` complex (the start,
    overwritten), ``mag_tf`` its target magnitude, ``window`` the padded analysis/synthesis window (``n_fft``),
    ``gate`` ``1/envelope`` over the signal and 0 over the centre padding (``n_fft + hop*(frames-1)``).
    ``callback(it, rebuilt)`` sees each consistent spectrogram.  Returns ``spec`` after the last projection."""
    batch, n_fr, _ = spec.shape
    n = window.shape[0]
    real = mag_tf.dtype
    signal = torch.empty((batch, gate.shape[0]), dtype=real).numpy()
    frames = torch.empty((batch, n_fr, n), dtype=real)
    win, gt, fr = window.numpy(), gate.numpy(), frames.numpy()
    mag = mag_tf.reshape(-1).numpy()
    out = torch.view_as_real(spec).reshape(-1).numpy()
    coef = np.array(coef, dtype=mag.dtype)[()]  # the loop's precision, never a float64 promotion
    prev = None
    for it in range(n_iter):
        inverse = torch.fft.irfft(spec, n=n, dim=-1)
        _synthesis(inverse.numpy(), win, hop, gt, reflect_half, length, signal)
        _analysis(signal, win, hop, fr)
        rebuilt = torch.fft.rfft(frames, dim=-1)
        if callback is not None:
            callback(it + 1, rebuilt)
        flat = torch.view_as_real(rebuilt).reshape(-1).numpy()
        _project(flat, flat if prev is None else prev, coef * 0 if prev is None else coef, mag, out)
        prev = flat
    return spec
