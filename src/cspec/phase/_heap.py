"""The heap integration of PGHI (Prusa, Balazs & Sondergaard 2017, Alg. 1), compiled where numba is installed.

:func:`heap_integrate` is the entry point. The algorithm is sequential (each step pops the largest coefficient
reached so far), so it cannot be vectorised; it is compiled with numba (``njit``, cached on disk) when numba can
be imported, and otherwise runs the same steps in Python with :mod:`heapq`. Both order the heap by
``(-magnitude, flat index)`` and do the same float64 operations in the same order, so they give the same phase
bit for bit (tests/phase/test_pghi_heap.py); the compiled one is about two orders of magnitude faster.
"""

from __future__ import annotations

import heapq

import numpy as np

__all__ = ["heap_integrate", "COMPILED"]


def _spread_python(heap, ph, done, key, ts, fs, n_frm, size) -> None:
    push, pop = heapq.heappush, heapq.heappop
    last = n_frm - 1
    while heap:
        _, i = pop(heap)
        p, m = ph[i], i % n_frm
        j = i + 1  # next frame
        if m < last and not done[j]:
            ph[j] = p + 0.5 * (ts[i] + ts[j])
            done[j] = True
            push(heap, (key[j], j))
        j = i - 1  # previous frame
        if m > 0 and not done[j]:
            ph[j] = p - 0.5 * (ts[i] + ts[j])
            done[j] = True
            push(heap, (key[j], j))
        j = i + n_frm  # next bin
        if j < size and not done[j]:
            ph[j] = p + 0.5 * (fs[i] + fs[j])
            done[j] = True
            push(heap, (key[j], j))
        j = i - n_frm  # previous bin
        if j >= 0 and not done[j]:
            ph[j] = p - 0.5 * (fs[i] + fs[j])
            done[j] = True
            push(heap, (key[j], j))


def _integrate_python(ph, done, key, ts, fs, n_frm, edge, starts):
    """Python lists and heapq: the reference the compiled version must equal."""
    ph, done, key, ts, fs = ph.tolist(), done.tolist(), key.tolist(), ts.tolist(), fs.tolist()
    size = len(ph)
    if len(edge):
        heap = [(key[i], i) for i in edge.tolist()]
        heapq.heapify(heap)
        _spread_python(heap, ph, done, key, ts, fs, n_frm, size)
    for start in starts.tolist():
        if done[start]:
            continue
        ph[start] = 0.0
        done[start] = True
        _spread_python([(key[start], start)], ph, done, key, ts, fs, n_frm, size)
    return np.asarray(ph, dtype=np.float64)


def _sift_up(hk, hi, n):
    """Append-side repair of a binary min-heap held in arrays ``hk`` (keys) and ``hi`` (indices, the tie-break)."""
    pos = n
    k, i = hk[pos], hi[pos]
    while pos > 0:
        parent = (pos - 1) >> 1
        pk, pi = hk[parent], hi[parent]
        if k < pk or (k == pk and i < pi):
            hk[pos], hi[pos] = pk, pi
            pos = parent
        else:
            break
    hk[pos], hi[pos] = k, i


def _sift_down(hk, hi, n):
    """Root-side repair after the last entry was moved to the root (``n`` entries)."""
    pos = 0
    k, i = hk[0], hi[0]
    while True:
        child = 2 * pos + 1
        if child >= n:
            break
        right = child + 1
        if right < n and (hk[right] < hk[child] or (hk[right] == hk[child] and hi[right] < hi[child])):
            child = right
        if hk[child] < k or (hk[child] == k and hi[child] < i):
            hk[pos], hi[pos] = hk[child], hi[child]
            pos = child
        else:
            break
    hk[pos], hi[pos] = k, i


def _spread_arrays(hk, hi, n, ph, done, key, ts, fs, n_frm, size):
    """The same spreading as :func:`_spread_python` on an array heap of ``n`` entries (a total order on distinct
    indices, so the pop order equals heapq's)."""
    last = n_frm - 1
    while n > 0:
        i = hi[0]
        n -= 1
        if n > 0:
            hk[0], hi[0] = hk[n], hi[n]
            _sift_down(hk, hi, n)
        p, m = ph[i], i % n_frm
        for step in range(4):
            if step == 0:
                j, ok, d = i + 1, m < last, 0.5 * (ts[i] + ts[i + 1]) if m < last else 0.0
            elif step == 1:
                j, ok, d = i - 1, m > 0, -0.5 * (ts[i] + ts[i - 1]) if m > 0 else 0.0
            elif step == 2:
                j, ok, d = i + n_frm, i + n_frm < size, 0.5 * (fs[i] + fs[i + n_frm]) if i + n_frm < size else 0.0
            else:
                j, ok, d = i - n_frm, i - n_frm >= 0, -0.5 * (fs[i] + fs[i - n_frm]) if i - n_frm >= 0 else 0.0
            if ok and not done[j]:
                ph[j] = p + d
                done[j] = True
                hk[n], hi[n] = key[j], j
                _sift_up(hk, hi, n)
                n += 1


def _integrate_arrays(ph, done, key, ts, fs, n_frm, edge, starts):
    size = ph.shape[0]
    hk = np.empty(size, dtype=np.float64)
    hi = np.empty(size, dtype=np.int64)
    n = 0
    for e in edge:
        hk[n], hi[n] = key[e], e
        _sift_up(hk, hi, n)
        n += 1
    _spread_arrays(hk, hi, n, ph, done, key, ts, fs, n_frm, size)
    for start in starts:
        if done[start]:
            continue
        ph[start] = 0.0
        done[start] = True
        hk[0], hi[0] = key[start], start
        _spread_arrays(hk, hi, 1, ph, done, key, ts, fs, n_frm, size)
    return ph


try:  # numba is optional: librosa (cspec[metrics]) brings it; without it the Python steps run
    from numba import njit
except ImportError:  # pragma: no cover - exercised where numba is absent
    COMPILED = False
    _compiled = None
else:
    COMPILED = True
    _sift_up = njit(cache=True, nogil=True)(_sift_up)
    _sift_down = njit(cache=True, nogil=True)(_sift_down)
    _spread_arrays = njit(cache=True, nogil=True)(_spread_arrays)
    _compiled = njit(cache=True, nogil=True)(_integrate_arrays)


def heap_integrate(phase: np.ndarray, done: np.ndarray, key: np.ndarray, tstep: np.ndarray, fstep: np.ndarray,
                   n_frm: int, edge: np.ndarray, starts: np.ndarray, compiled: bool | None = None) -> np.ndarray:
    """Integrate the phase steps over one spectrogram, flattened (bin-major, ``n_frm`` frames per bin).

    ``phase``: initial phases (random, or known frames); ``done``: coefficients not to integrate; ``key``:
    ``-magnitude`` (the heap order); ``tstep`` / ``fstep``: phase steps per hop and per bin; ``edge``: indices
    whose phase is known and from which the integration continues first; ``starts``: the remaining coefficients
    by decreasing magnitude, each opening a new island when not yet reached. ``compiled``: force (True) or
    forbid (False) the numba version; default: numba where installed. Returns the phase (a new array).
    """
    use = COMPILED if compiled is None else bool(compiled)
    if use and not COMPILED:
        raise RuntimeError("the compiled heap integration needs numba (pip install numba)")
    args = (np.array(phase, dtype=np.float64), np.array(done, dtype=np.bool_), np.ascontiguousarray(key, np.float64),
            np.ascontiguousarray(tstep, np.float64), np.ascontiguousarray(fstep, np.float64), int(n_frm),
            np.ascontiguousarray(edge, np.int64), np.ascontiguousarray(starts, np.int64))
    return _compiled(*args) if use else _integrate_python(*args)
