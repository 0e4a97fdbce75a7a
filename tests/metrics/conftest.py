"""Shared fixtures of the metrics tests: the paired dev set of ../shared/data (or $CSPEC_DATA)."""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
DEV = DATA / "dev_pairs"


def dev_names() -> list[str]:
    return sorted(p.stem for p in (DEV / "clean").glob("*.flac"))


@pytest.fixture(scope="session")
def dev_pairs() -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """``{name: (clean, noisy, rate)}`` of every dev pair, float64, cut to a common length."""
    out = {}
    for name in dev_names():
        clean, sr = sf.read(DEV / "clean" / f"{name}.flac", dtype="float64")
        noisy, sr2 = sf.read(DEV / "noisy" / f"{name}.flac", dtype="float64")
        assert sr == sr2 == 16000
        n = min(len(clean), len(noisy))
        out[name] = (clean[:n], noisy[:n], sr)
    assert len(out) == 15, f"expected the 15 dev pairs under {DEV}"
    return out


@pytest.fixture(scope="session")
def pysepm_quality():
    """pysepm-evo's quality measures, imported without the package __init__ (which needs srmrpy, not on PyPI)
    and with scipy.signal.kaiser restored (moved to scipy.signal.windows in SciPy 1.13)."""
    import scipy.signal
    import scipy.signal.windows

    if not hasattr(scipy.signal, "kaiser"):
        scipy.signal.kaiser = scipy.signal.windows.kaiser
    if "pysepm_evo" not in sys.modules:
        spec = importlib.util.find_spec("pysepm_evo")
        pkg = types.ModuleType("pysepm_evo")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["pysepm_evo"] = pkg
    import pysepm_evo.qualityMeasures as qm

    return qm
