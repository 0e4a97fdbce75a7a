"""Shared fixtures of the phase-retrieval tests: one real clean-speech clip from the shared data."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
import torch

from cspec import audio

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


@pytest.fixture(scope="session")
def speech() -> torch.Tensor:
    """The first LJSpeech clip of 2-4 s listed in the manifest, mono float32 at 16 kHz, shape (samples,)."""
    manifest = DATA / "manifest.csv"
    if not manifest.is_file():
        pytest.fail(f"no {manifest}: set CSPEC_DATA to the shared data folder (with manifest.csv)")
    with open(manifest, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["path"].startswith("speech/ljspeech/")]
    rows = sorted((r for r in rows if 2.0 <= float(r["duration_s"]) <= 4.0), key=lambda r: r["path"])
    wave, rate = audio.load(DATA / rows[0]["path"], mono=True)
    assert rate == 16000
    return wave[0]
