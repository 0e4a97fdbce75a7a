"""Shared helpers of the data tests: tiny look-alike corpora of generated tones, and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from cspec.audio import save

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def tone(path: Path, freq: float = 440.0, seconds: float = 0.1, sr: int = 16000) -> Path:
    """Write a 0.5-amplitude sine of ``seconds`` at ``sr`` to ``path`` (parents created)."""
    t = np.arange(int(seconds * sr)) / sr
    return save(path, 0.5 * np.sin(2 * np.pi * freq * t), sr)


def make(root: Path, rel_paths: list[str], **kw) -> None:
    """A tone file for each of ``rel_paths`` under ``root``, each at its own frequency."""
    for i, rel in enumerate(rel_paths):
        tone(root / rel, 200.0 + 50 * i, **kw)


@pytest.fixture
def make_files():
    """The :func:`make` helper: ``make_files(root, ["a/x.wav", ...], seconds=0.1)``."""
    return make


@pytest.fixture(scope="session")
def manifest() -> Path:
    path = DATA / "manifest.csv"
    if not path.is_file():
        pytest.fail(f"no {path}: set CSPEC_DATA to the shared data folder (with manifest.csv)")
    return path
