"""Shared helpers of the training tests: a tiny recipe (GTCRN of width 4, 0.5 s simulated clips) and the CLI."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))

TINY = {
    "name": "tiny",
    "seed": 3,
    "model": {"name": "gtcrn", "options": {"channels": 4, "hidden": 4, "n_dprnn": 1}},
    "loss": {"weights": {"si_sdr": 1.0, "compressed_spectral": 0.5}},
    "data": {
        "batch_size": 2,
        "train": {"kind": "simulated", "seconds": 0.5, "options": {"length": 12, "use_noise_files": False}},
    },
    "trainer": {"max_steps": 4, "log_every": 1, "deterministic": True, "progress_bar": False},
    "checkpoint": {"every": 2, "keep": 2},
    "validation": {"every": 0},
}


def tiny_recipe(run_dir: Path, **sections) -> dict:
    """:data:`TINY` with ``output_dir`` set and whole sections replaced by ``sections``."""
    if not (DATA / "manifest.csv").is_file():
        pytest.fail(f"no {DATA / 'manifest.csv'}: set CSPEC_DATA to the shared data folder")
    recipe = copy.deepcopy(TINY)
    recipe["output_dir"] = str(run_dir)
    recipe.update(copy.deepcopy(sections))
    return recipe


def cli(*args, **kw) -> subprocess.Popen:
    """Start ``python -m cspec train ...`` on one thread, as the tests run in-process (stdout, stderr piped)."""
    env = {**os.environ, "CSPEC_DATA": str(DATA), "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "cspec", "train", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


@pytest.fixture
def tiny():
    """The :func:`tiny_recipe` factory: ``tiny(run_dir, trainer={...})``."""
    return tiny_recipe


@pytest.fixture
def train_cli():
    """The :func:`cli` helper: ``train_cli(recipe_path, "key=value", "--resume")`` -> a running process."""
    return cli
