"""PGHI's heap integration: the compiled version (numba, a dependency of cspec) gives the Python/heapq steps' phase bit
for bit."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from cspec.phase import _heap
from cspec.spectral.stft import STFTConfig, stft

pghi_module = importlib.import_module("cspec.phase.pghi")  # cspec.phase.pghi the name is the function

def _both(mag, tstep, fstep, known=None, tol=1e-5):
    run = pghi_module._heap_integrate
    py = run(mag, tstep, fstep, tol, np.random.default_rng(3), known, compiled=False)
    nb = run(mag, tstep, fstep, tol, np.random.default_rng(3), known, compiled=True)
    return py, nb


@pytest.mark.parametrize("known_frames", [0, 1, 6])
def test_compiled_equals_heapq_with_ties_and_known_frames(known_frames):
    """Magnitudes quantised to 21 levels: most keys tie, so the order rests on the index tie-break."""
    rng = np.random.default_rng(known_frames)
    mag = np.round(rng.random((65, 90)) ** 4 * 20) / 20
    tstep, fstep = rng.standard_normal(mag.shape), rng.standard_normal(mag.shape)
    known = rng.uniform(-np.pi, np.pi, (65, known_frames)) if known_frames else None
    py, nb = _both(mag, tstep, fstep, known)
    assert np.array_equal(py, nb)
    if known_frames:
        assert np.array_equal(nb[:, :known_frames], known)
    below = mag <= 1e-5 * mag.max()
    assert below.any() and not np.array_equal(py[below], np.zeros(below.sum()))  # random phase stays there


def test_compiled_equals_heapq_on_speech(speech):
    cfg = STFTConfig(512, 128, window="hann")
    mag = stft(torch.as_tensor(speech[:16000 * 3], dtype=torch.float64), cfg).abs()
    tstep, fstep = pghi_module.phase_gradients(mag, cfg, pghi_module.gaussian_gamma(cfg), floor_db=-120)
    py, nb = _both(mag.numpy(), tstep.numpy(), fstep.numpy())
    assert np.array_equal(py, nb)


def test_heap_integration_by_hand():
    """Two bins x three frames, one island from the largest coefficient (bin 1, frame 1), worked by hand."""
    mag = np.array([[1.0, 2.0, 1.5], [3.0, 4.0, 0.5]])
    ts = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    fs = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    for compiled in (False, True):
        ph = pghi_module._heap_integrate(mag, ts, fs, 1e-5, np.random.default_rng(0), compiled=compiled)
        # start (1,1)=0; its neighbours: (1,2) = 0 + (0.5+0.6)/2, (1,0) = 0 - (0.5+0.4)/2, (0,1) = 0 - (5+2)/2;
        # then the largest reached, (1,0) mag 3: its neighbour (0,0) = -0.45 - (4+1)/2;
        # then (0,1) mag 2: (0,2) = -3.5 + (0.2+0.3)/2
        expected = np.array([[-0.45 - 2.5, -3.5, -3.5 + 0.25], [-0.45, 0.0, 0.55]])
        np.testing.assert_allclose(ph, expected, rtol=0, atol=1e-15)


def test_compiled_refused_without_numba(monkeypatch):
    monkeypatch.setattr(_heap, "COMPILED", False)
    with pytest.raises(RuntimeError, match="needs numba"):
        _heap.heap_integrate(np.zeros(2), np.zeros(2, bool), np.zeros(2), np.zeros(2), np.zeros(2), 2,
                             np.zeros(0, np.int64), np.zeros(0, np.int64), compiled=True)
