"""A metric whose C code kills its process costs that metric of that file, nothing else (issue #20, point 1):
evaluate_pairs with one and with two workers, against a real SIGSEGV raised inside the worker."""

from __future__ import annotations

import math
import signal
import sys

import numpy as np
import pytest
import soundfile as sf

from cspec.metrics.report import Pair, evaluate_pairs, score_pair
from cspec.metrics.workers import crash_reason

NAMES = ("snr", "si_sdr", "scale")
MARK = 12345  # an estimate of this many samples makes si_sdr segfault; a file named crash_load* kills the loader

HOOK = f'''
import importlib, os, signal


def install():
    """Runs in each worker: si_sdr dies with SIGSEGV on a {MARK}-sample estimate, reading crash_load* too."""
    import cspec.audio

    ev = importlib.import_module("cspec.metrics.evaluate")  # the package's `evaluate` attribute is the function

    group, load = ev._group, cspec.audio.load

    def crashing_group(name, ref, est, sr, done):
        if name == "si_sdr" and est.shape[-1] == {MARK}:
            os.kill(os.getpid(), signal.SIGSEGV)
        return group(name, ref, est, sr, done)

    def crashing_load(path, *args, **kwargs):
        if os.path.basename(str(path)).startswith("crash_load"):
            os.kill(os.getpid(), signal.SIGSEGV)
        return load(path, *args, **kwargs)

    ev._group, cspec.audio.load = crashing_group, crashing_load
'''


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> list[Pair]:
    root = tmp_path_factory.mktemp("crash")
    sys.path.insert(0, str(root))  # spawned workers get this sys.path, so they can import the hook
    (root / "crash_hook.py").write_text(HOOK)
    rng = np.random.default_rng(0)
    out = []
    for name, n in (("a", 16000), ("b_segfault", MARK), ("c", 8000), ("crash_load", 8000)):
        ref = 0.1 * rng.standard_normal(n)
        paths = {}
        for role, x in (("ref", ref), ("est", ref + 0.05 * rng.standard_normal(n)),
                        ("noisy", (ref + 0.2 * rng.standard_normal(n))[: n - 300])):
            paths[role] = root / f"{name}_{role}.wav" if name != "crash_load" else root / f"crash_load_{role}.wav"
            sf.write(paths[role], x, 16000, subtype="FLOAT")
        out.append(Pair(name, str(paths["est"]), str(paths["ref"]), str(paths["noisy"])))
    yield out
    sys.path.remove(str(root))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_segfault_costs_one_metric_of_one_file(pairs, jobs):
    from crash_hook import install

    done = []
    rows = evaluate_pairs(pairs, NAMES, jobs=jobs, on_done=done.append, worker_init=install)
    assert [r["file"] for r in rows] == ["a", "b_segfault", "c", "crash_load"] and len(done) == 4
    expect = {p.name: score_pair(p, NAMES) for p in pairs[:3]}  # in this process, without the hook
    for name in ("a", "c"):
        assert rows[["a", "b_segfault", "c"].index(name)] == expect[name]
    crashed = rows[1]
    assert crashed["reason"] == "si_sdr: crashed (signal 11)"
    assert math.isnan(crashed["si_sdr"]) and math.isnan(crashed["delta_si_sdr"])
    # the other metrics of the file, and its noisy input (4 samples shorter: no crash), kept their values
    for key in ("snr", "scale", "noisy_snr", "noisy_si_sdr", "noisy_scale", "delta_snr"):
        assert crashed[key] == expect["b_segfault"][key], key
    unreadable = rows[3]
    assert unreadable["reason"] == "all: crashed (signal 11) while reading the files"
    assert all(math.isnan(v) for k, v in unreadable.items() if k not in ("file", "reason"))


def test_crash_reasons():
    assert crash_reason(-signal.SIGSEGV) == "crashed (signal 11)"
    assert crash_reason(-signal.SIGKILL) == "crashed (signal 9: killed, out of memory?)"
    assert crash_reason(3) == "crashed (exit code 3)"


def test_jobs_must_be_a_positive_integer(pairs):
    from cspec.errors import ConfigError

    for bad in (0, 1.5, True):
        with pytest.raises(ConfigError, match="--jobs must be a positive integer"):
            evaluate_pairs(pairs, NAMES, jobs=bad)
    assert sys.modules.get("cspec.metrics.workers") is not None
