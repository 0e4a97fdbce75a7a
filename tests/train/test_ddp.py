"""Two-process DDP on CPU (gloo) through Lightning: a few steps, then the dev-set scores of the saved model."""

from __future__ import annotations

import json
import math

import pytest
import torch
import yaml

from cspec.models import load
from cspec.train import load_recipe, prepare
from cspec.train.data import make_valid_loader
from cspec.train.validation import validate


def test_two_process_ddp_on_cpu(tiny, train_cli, tmp_path):
    run = tmp_path / "ddp"
    raw = tiny(run, validation={"every": 0, "metrics": ["si_sdr"]})
    raw["data"]["valid"] = {"kind": "simulated", "seconds": 0.5,
                            "options": {"length": 3, "subset": "valid", "use_noise_files": False}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    proc = train_cli(path, "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
                     "trainer.max_steps=3")
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    assert "distributed_backend=gloo" in err and "Starting with 2 processes" in err
    summary = json.loads(out)
    assert summary["steps"] == 3 and summary["skipped"] == 0 and math.isfinite(summary["loss"]["loss"])
    # the dev set (3 items) was split over the 2 processes (2 + 1) and the sums reduced: the mean equals the
    # mean of one process scoring every item with the saved weights
    exp = prepare(load_recipe(raw))
    model = load(run / "model")
    single = validate(model, make_valid_loader(exp.valid_set, 2, False, 0, 1, 0), ("si_sdr",), 16000, "cpu")
    assert summary["valid"]["si_sdr"] == pytest.approx(single["si_sdr"], abs=1e-4)
    assert not all(torch.equal(a, b) for a, b in zip(exp.model.state_dict().values(), model.state_dict().values()))
