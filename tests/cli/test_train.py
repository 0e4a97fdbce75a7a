"""``cspec train``: recipe errors are one line naming the key and the closest valid one; --check; options and
overrides in any order. (Training itself, the SIGKILL resume and DDP are tested in tests/train.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from cspec.cli import main

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))

RECIPE = {
    "name": "cli",
    "model": {"name": "gtcrn", "options": {"channels": 4, "hidden": 4, "n_dprnn": 1}},
    "loss": {"weights": {"si_sdr": 1.0}},
    "data": {"batch_size": 2, "train": {"kind": "simulated", "seconds": 0.5,
                                        "options": {"length": 8, "use_noise_files": False}}},
    "trainer": {"max_steps": 2, "progress_bar": False},
}


@pytest.fixture
def recipe(tmp_path):
    if not (DATA / "manifest.csv").is_file():
        pytest.fail(f"no {DATA / 'manifest.csv'}: set CSPEC_DATA to the shared data folder")
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({**RECIPE, "output_dir": str(tmp_path / "run")}, sort_keys=False))
    return path


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["train", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_misspelled_key_in_file_is_one_line_before_training(capsys, recipe, tmp_path):
    text = recipe.read_text().replace("max_steps:", "max_step:")
    recipe.write_text(text)
    code, out, err = _run(capsys, recipe)
    assert code == 2 and out == ""
    assert err == ("cspec train: error: recipe key 'trainer.max_step' is unknown; did you mean "
                   "'trainer.max_steps'? (valid keys of trainer: max_steps, grad_clip, precision, accelerator, "
                   "devices, num_nodes, strategy, deterministic, log_every, progress_bar)\n")
    assert not (tmp_path / "run").exists()


def test_misspelled_override_and_nested_keys(capsys, recipe, tmp_path):
    code, _, err = _run(capsys, recipe, "optim.lrr=1e-3")
    assert code == 2 and "override key 'optim.lrr' is unknown; did you mean 'optim.lr'?" in err
    assert err.count("\n") == 1
    code, _, err = _run(capsys, recipe, "--check", "model.options.chanels=8")
    assert code == 2 and "recipe key 'model': model 'gtcrn' has no option 'chanels'. Did you mean 'channels'?" in err
    code, _, err = _run(capsys, recipe, "loss.weights.sisdr=1")
    assert code == 2 and "did you mean 'loss.weights.si_sdr'?" in err
    assert not (tmp_path / "run").exists()


def test_check_builds_everything_without_training(capsys, recipe, tmp_path):
    code, out, err = _run(capsys, recipe, "model.options.channels=8", "--check", "--out", tmp_path / "other",
                          "optim.lr=3e-4")
    assert code == 0, err
    assert out.startswith("recipe OK: model gtcrn (") and "losses si_sdr, 8 training items, 0 dev items" in out
    assert f"run folder {tmp_path / 'other'}" in out
    assert not (tmp_path / "other").exists() and not (tmp_path / "run").exists()


def test_help_and_missing_recipe(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--resume" in out and "torchrun" in out and "optim.lr=3e-4" in out
    code, _, err = _run(capsys, tmp_path / "nope.yaml")
    assert code == 2 and err == f"cspec train: error: {tmp_path / 'nope.yaml'}: no such recipe file\n"
