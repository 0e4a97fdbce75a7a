"""PESQ of signals longer than 10 s: scored in 5-10 s segments cut in pauses, never handed whole to the C code,
which writes past its 50-utterance arrays and dies with SIGSEGV (issue #20, point 1)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pesq import pesq as pesq_ref

from cspec.metrics import evaluate, pesq_nb, pesq_wb
from cspec.metrics.intrusive import PESQ_MAX_SECONDS, pesq_segments

SR = 16000


def bursts(count: int = 60, on: float = 0.25, off: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """``count`` voiced bursts of ``on`` s, each after ``off`` s of digital silence, and a noisy copy: every burst
    is an utterance for P.862's VAD, so 60 of them (30 s) are more than its 50-utterance arrays hold."""
    rng = np.random.default_rng(1)
    t = np.arange(int(on * SR)) / SR
    win = np.hanning(len(t))
    parts = []
    for i in range(count):
        tone = 0.3 * np.sin(2 * np.pi * (150 + 50 * (i % 5)) * t) + 0.05 * rng.standard_normal(len(t))
        parts += [np.zeros(int(off * SR)), tone * win]
    ref = np.concatenate([*parts, np.zeros(int(off * SR))])
    return ref, ref + 0.003 * rng.standard_normal(len(ref))


_CRASH = """
import numpy as np, sys
from pesq import pesq
ref, est = np.load(sys.argv[1]), np.load(sys.argv[2])
pesq(16000, ref, est, "wb")
"""


def test_the_pesq_package_dies_on_the_test_signal(tmp_path):
    # the premise: the ITU C code (pesq 0.0.4) kills the process on this 30 s signal, so it must never see it whole
    ref, est = bursts()
    np.save(tmp_path / "ref.npy", ref)
    np.save(tmp_path / "est.npy", est)
    proc = subprocess.run([sys.executable, "-c", _CRASH, str(tmp_path / "ref.npy"), str(tmp_path / "est.npy")],
                          capture_output=True, timeout=120)
    assert proc.returncode == -11  # SIGSEGV


def test_long_signal_is_the_duration_weighted_mean_of_pesq_on_its_segments():
    ref, est = bursts()
    segments = pesq_segments(ref)
    # segments tile the signal, each 5 ... 10 s, and every cut falls in digital silence between two bursts
    assert segments[0][0] == 0 and segments[-1][1] == len(ref)
    assert all(a == b for (_, a), (b, _) in zip(segments[:-1], segments[1:]))
    assert all(5 * SR <= b - a <= PESQ_MAX_SECONDS * SR for a, b in segments)
    for _, cut in segments[:-1]:
        assert np.all(ref[cut - 1000 : cut + 1000] == 0)
    for mode, fn in (("wb", pesq_wb), ("nb", pesq_nb)):
        per_segment = [pesq_ref(SR, ref[a:b], est[a:b], mode) for a, b in segments]
        weights = [b - a for a, b in segments]
        assert fn(ref, est, SR) == pytest.approx(np.average(per_segment, weights=weights), abs=1e-9)
    # the same through evaluate (and so cspec eval), composite included (it reuses wide-band PESQ)
    s = evaluate(ref, est, SR, "pesq_wb,csig")
    assert np.isfinite(s["pesq_wb"]) and np.isfinite(s["csig"]) and s.reasons == {}


def test_segments_cut_at_the_quietest_point_and_short_signals_stay_whole():
    x = np.ones(25 * SR)
    assert pesq_segments(x[: 10 * SR]) == [(0, 10 * SR)]  # 10 s: one call, exactly the pesq package's number
    x[int(7.0 * SR) : int(8.0 * SR)] = 0.01  # a 1 s pause from 7 to 8 s: the first cut is in its middle
    segments = pesq_segments(x)
    assert segments[0][0] == 0 and abs(segments[0][1] - 7.5 * SR) <= 0.01 * SR
    # after it the power is uniform: every cut is in the middle of its allowed window (5 ... 10 s after the
    # segment's start), and the last segment keeps at least 5 s
    assert segments[-1][1] == len(x) and all(5 * SR <= b - a <= 10 * SR for a, b in segments)
    assert all(a == b for (_, a), (b, _) in zip(segments[:-1], segments[1:]))


def test_a_silent_stretch_of_the_estimate_is_named():
    ref, est = bursts(count=30)  # 15.25 s: two segments
    (a, b), _ = pesq_segments(ref)
    est[:b] = 0
    s = evaluate(ref, est, SR, "pesq_wb")
    assert np.isnan(s["pesq_wb"]) and s.reasons["pesq_wb"] == f"estimate is silent from 0.0 s to {b / SR:.1f} s"
