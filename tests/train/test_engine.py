"""The engine on CPU: a tiny recipe trains, validates, checkpoints and exports; non-finite steps are skipped;
the EMA follows its formula; a metric discriminator trains in the same loop."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch

from cspec.errors import ConfigError
from cspec.models import load
from cspec.train import load_checkpoint, load_recipe, prepare, train
from cspec.train.callbacks import EMA
from cspec.train.module import SpeechTask
from .conftest import TINY


def test_tiny_recipe_trains_validates_and_exports(tiny, tmp_path):
    run = tmp_path / "run"
    raw = tiny(run, ema={"decay": 0.5},
               validation={"every": 2, "metrics": ["pesq_wb", "si_sdr"]})
    raw["data"]["valid"] = {"kind": "simulated", "seconds": 1.0,
                            "options": {"length": 2, "subset": "valid", "use_noise_files": False}}
    init = prepare(load_recipe(raw)).model.state_dict()
    summary = train(raw)
    assert summary["steps"] == 4 and summary["skipped"] == 0 and summary["start_step"] == 0
    loss = summary["loss"]
    assert math.isfinite(loss["loss"])
    assert loss["loss"] == pytest.approx(loss["si_sdr"] + 0.5 * loss["compressed_spectral"], rel=1e-5)
    assert 1.0 <= summary["valid"]["pesq_wb"] <= 4.65 and math.isfinite(summary["valid"]["si_sdr"])
    assert json.loads((run / "summary.json").read_text())["steps"] == 4
    assert [p.name for p in sorted((run / "checkpoints").glob("step-*"))] == ["step-00000002", "step-00000004"]
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    weights, state = load_checkpoint(run)
    assert state["step"] == 4 and state["recipe"]["optim"]["lr"] == 1e-3
    assert state["training"]["optimizers"][0]["state"][0]["step"].item() == 4.0  # Adam took 4 steps
    assert any(not torch.equal(weights[k], v) for k, v in init.items())
    exported = load(run / "model").state_dict()  # the EMA weights
    assert all(torch.equal(exported[k], state["ema"][k]) for k in exported)
    assert any(not torch.equal(exported[k], weights[k]) for k in exported if weights[k].is_floating_point())
    with pytest.raises(ConfigError, match="already holds checkpoints; pass --resume"):
        train(raw)
    with pytest.raises(ConfigError, match="the checkpoint is at step 4, trainer.max_steps is 4"):
        train(raw, resume=True)
    with pytest.raises(ConfigError, match="recipe key 'optim.lr' was 0.001 in the checkpoint and is 0.002 now"):
        train(raw, ["optim.lr=2e-3", "trainer.max_steps=6"], resume=True)


def test_non_finite_loss_skips_the_step(tiny, tmp_path, caplog):
    exp = prepare(load_recipe(tiny(tmp_path), ["trainer.max_steps=3"]))
    torch.manual_seed(0)
    batches = [{"mixture": torch.randn(2, 8000) * 0.1, "targets": torch.randn(2, 1, 8000) * 0.1} for _ in range(3)]
    batches[1]["mixture"][0, 100] = math.nan
    task = SpeechTask(exp.recipe, exp.model, exp.objective)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    with caplog.at_level("WARNING", logger="cspec.train"):
        trainer.fit(task, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    assert task.step == 3 and task.skipped == 1
    assert "step 1: non-finite loss, update skipped (1 skipped so far)" in caplog.text
    assert task.training_state()["optimizers"][0]["state"][0]["step"].item() == 2.0
    assert all(torch.isfinite(p).all() for p in exp.model.parameters())


def test_ema_formula():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    module = SimpleNamespace(model=model, step=0)
    ema = EMA(decay=0.9, start=1)
    ema.on_fit_start(None, module)
    for step, value in [(1, 2.0), (2, 4.0), (3, 8.0)]:
        with torch.no_grad():
            model.weight.fill_(value)
        module.step = step
        ema.on_train_batch_end(None, module, None, None, step)
    expected = (0.9 * 2.0 + 0.1 * 4.0) * 0.9 + 0.1 * 8.0  # copy at step 1, then two averaging steps
    assert torch.allclose(ema.shadow["weight"], torch.full((1, 2), expected))
    with ema.applied(model):
        assert torch.allclose(model.weight, torch.full((1, 2), expected))
    assert torch.equal(model.weight, torch.full((1, 2), 8.0))


def test_metric_discriminator_trains_in_the_same_loop(tiny, tmp_path):
    raw = tiny(tmp_path / "gan", discriminator={"options": {"ndf": 4}, "weight": 0.05})
    summary = train(raw, ["trainer.max_steps=2", "checkpoint.every=0"])
    assert summary["steps"] == 2
    assert math.isfinite(summary["loss"]["metricgan_generator"])
    assert math.isfinite(summary["loss"]["metricgan_discriminator"])
    _, state = load_checkpoint(tmp_path / "gan")
    assert len(state["training"]["optimizers"]) == 2
    assert state["training"]["optimizers"][1]["state"][0]["step"].item() == 2.0  # the discriminator stepped twice
    assert any(k.startswith("disc.") for k in state["training"]["gan"])


def test_model_init_fine_tunes_from_a_model_folder(tiny, tmp_path):
    # model.init copies a saved model's weights before training (fine-tuning); another architecture is refused
    from cspec.models import build, save

    torch.manual_seed(123)
    source = build("gtcrn", channels=4, hidden=4, n_dprnn=1)
    save(source, tmp_path / "source")
    raw = tiny(tmp_path / "run")
    raw["model"]["init"] = str(tmp_path / "source")
    model = prepare(load_recipe(raw)).model
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in model.state_dict().items())
    plain = prepare(load_recipe(tiny(tmp_path / "run2"))).model  # the seed's initialisation differs
    assert any(not torch.equal(v, source.state_dict()[k]) for k, v in plain.state_dict().items())
    save(build("gtcrn", channels=8, hidden=8, n_dprnn=1), tmp_path / "wider")
    raw["model"]["init"] = str(tmp_path / "wider")
    with pytest.raises(ConfigError, match="model.init.*grows only in hidden.*'channels'"):  # nor a grown one
        prepare(load_recipe(raw))
    save(build("crn"), tmp_path / "crn")
    raw["model"]["init"] = str(tmp_path / "crn")
    with pytest.raises(ConfigError, match="model.init.*must be the same"):
        prepare(load_recipe(raw))
    raw["model"]["init"] = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match="model.init"):
        prepare(load_recipe(raw))


def test_cli_run_prints_no_advertisement(tiny, train_cli, tmp_path):
    import yaml

    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(tiny(tmp_path / "run"), sort_keys=False))
    out, err = train_cli(path).communicate(timeout=120)
    assert (tmp_path / "run" / "summary.json").exists(), err[-2000:]
    assert "litlogger" not in out + err and "Tip:" not in out + err


def test_resume_from_a_checkpoint_written_before_a_recipe_key_existed(tiny, tmp_path):
    # a checkpoint's recipe that lacks a key added to the schema later (here model.init) still resumes
    from cspec.train import latest_checkpoint

    raw = tiny(tmp_path / "run")
    train(raw)
    state_file = latest_checkpoint(tmp_path / "run") / "state.json"
    state = json.loads(state_file.read_text())
    del state["recipe"]["model"]["init"]
    state_file.write_text(json.dumps(state))
    summary = train(raw, ["trainer.max_steps=6"], resume=True)
    assert summary["steps"] == 6 and summary["start_step"] == 4


def test_ema_warmup_follows_tensorflows_num_updates_rule():
    # d_t = min(decay, (1 + t) / (10 + t)), t = step - start: 2/11 after the first averaging step, then 3/12 ...
    model = torch.nn.Linear(1, 1, bias=False)
    module = SimpleNamespace(model=model, step=0)
    ema = EMA(decay=0.999, start=0, warmup=True)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema.on_fit_start(None, module)
    expected = 0.0
    for step, value in [(1, 1.0), (2, 1.0), (3, -2.0)]:
        with torch.no_grad():
            model.weight.fill_(value)
        module.step = step
        ema.on_train_batch_end(None, module, None, None, step)
        d = (1 + step) / (10 + step)
        expected = d * expected + (1 - d) * value
    assert ema.shadow["weight"].item() == pytest.approx(expected, rel=1e-6)
    assert ema.rate(10**6) == 0.999 and EMA(decay=0.9).rate(1) == 0.9


def test_validation_scores_the_scale_and_warns_of_an_inverted_model(tiny, tmp_path, caplog):
    # PESQ/STOI/SI-SDR are blind to a sign flip: validation always adds the scale and warns when it is negative
    from cspec.models import build, save

    torch.manual_seed(0)
    inverted = build("gtcrn", channels=4, hidden=4, n_dprnn=1)
    inverted.negate_mask()  # the initial mask becomes the constant -tanh(0.5)
    save(inverted, tmp_path / "inverted")
    raw = tiny(tmp_path / "run", trainer={**TINY["trainer"], "max_steps": 1}, optim={"name": "adamw", "lr": 1e-6},
               validation={"every": 0, "metrics": ["si_sdr"]})
    raw["model"]["init"] = str(tmp_path / "inverted")
    raw["data"]["valid"] = {"kind": "simulated", "seconds": 1.0,
                            "options": {"length": 2, "subset": "valid", "use_noise_files": False}}
    with caplog.at_level("WARNING", logger="cspec.train"):
        summary = train(raw)
    assert set(summary["valid"]) == {"si_sdr", "scale"}
    assert summary["valid"]["scale"] == pytest.approx(-math.tanh(0.5), abs=0.1)
    assert "the estimates are inverted (mean scale -0.4" in caplog.text
