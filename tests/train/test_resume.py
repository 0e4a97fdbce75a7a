"""A run killed with SIGKILL after a checkpoint and resumed ends with the same weights as an uninterrupted run."""

from __future__ import annotations

import json
import signal
import time

import yaml
from safetensors.torch import load_file

from cspec.train import latest_checkpoint, train


def _recipe(tiny, run):
    raw = tiny(run, ema={"decay": 0.8}, trainer={"max_steps": 12, "log_every": 5, "deterministic": True,
                                                 "progress_bar": False},
               checkpoint={"every": 3, "keep": 2})
    raw["data"]["batch_size"] = 4
    raw["data"]["train"] = {"kind": "simulated", "seconds": 1.0, "options": {"length": 24, "use_noise_files": False}}
    raw["model"]["options"] = {"channels": 8, "hidden": 8, "n_dprnn": 1}
    raw["schedule"] = {"name": "cosine", "warmup_steps": 5}
    return raw


def test_sigkill_then_resume_equals_uninterrupted(tiny, train_cli, tmp_path):
    killed = tmp_path / "killed"
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(_recipe(tiny, killed), sort_keys=False))
    proc = train_cli(path)
    deadline = time.monotonic() + 60
    while latest_checkpoint(killed) is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    step_at_kill = int(latest_checkpoint(killed).name.split("-")[1])
    assert 3 <= step_at_kill < 12 and step_at_kill % 3 == 0
    assert not (killed / "summary.json").exists()  # it really was interrupted

    resumed = train_cli(path, "--resume")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["start_step"] >= step_at_kill and summary["steps"] == 12

    reference = train(_recipe(tiny, tmp_path / "reference"))
    assert reference["steps"] == 12 and reference["start_step"] == 0
    for name in ("model/model.safetensors", "checkpoints/step-00000012/model.safetensors",
                 "checkpoints/step-00000012/state.safetensors"):
        a, b = load_file(str(killed / name)), load_file(str(tmp_path / "reference" / name))
        assert a.keys() == b.keys()
        worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())
        assert worst <= 1e-7, (name, worst)
    assert summary["loss"] == reference["loss"]


def test_export_of_the_last_checkpoint_equals_the_final_model(tiny, tmp_path):
    # the run's model/ folder holds the EMA weights; exporting its last checkpoint gives the same tensors,
    # and ema=False gives the raw weights of that checkpoint instead
    import pytest

    from cspec.errors import ConfigError
    from cspec.train import export_checkpoint

    run = tmp_path / "run"
    raw = tiny(run, ema={"decay": 0.8}, checkpoint={"every": 4, "keep": 1})
    train(raw)
    final = load_file(str(run / "model" / "model.safetensors"))
    out = export_checkpoint(run, tmp_path / "exported")
    exported = load_file(str(out / "model.safetensors"))
    assert final.keys() == exported.keys() and all((final[k] == exported[k]).all() for k in final)
    raw_w = load_file(str(export_checkpoint(run, tmp_path / "raw", ema=False) / "model.safetensors"))
    ckpt = load_file(str(latest_checkpoint(run) / "model.safetensors"))
    assert all((raw_w[k] == ckpt[k]).all() for k in ckpt)
    assert any(not (raw_w[k] == final[k]).all() for k in final)  # EMA differs from the raw weights
    with pytest.raises(ConfigError, match="already exists"):
        export_checkpoint(run, out)
