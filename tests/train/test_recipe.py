"""Recipe checks: every misspelled key fails before training, naming the key and the closest valid one."""

from __future__ import annotations

import pytest

from cspec.errors import ConfigError
from cspec.train import load_recipe, prepare
from cspec.train.recipe import parse_override


def _error(raw: dict, overrides=()) -> str:
    with pytest.raises(ConfigError) as info:
        prepare(load_recipe(raw, overrides))
    return str(info.value)


def test_defaults_and_types(tiny, tmp_path):
    r = load_recipe(tiny(tmp_path) | {"optim": {"lr": "3e-4", "betas": [0.8, 0.99]}})
    assert r.optim.lr == 3e-4 and isinstance(r.optim.lr, float)  # YAML 1.1 reads 3e-4 as a string
    assert r.schedule.name == "constant" and r.trainer.max_steps == 4 and r.discriminator is None
    assert r.data.train.options == {"length": 12, "use_noise_files": False} and r.data.valid is None


@pytest.mark.parametrize("raw_change, message", [
    ({"optimizer": {"lr": 1e-3}}, "recipe key 'optimizer' is unknown; did you mean 'optim'?"),
    ({"optim": {"lrr": 1e-3}}, "recipe key 'optim.lrr' is unknown; did you mean 'optim.lr'?"),
    ({"trainer": {"max_step": 10}}, "recipe key 'trainer.max_step' is unknown; did you mean 'trainer.max_steps'?"),
    ({"checkpoint": {"evry": 10}}, "recipe key 'checkpoint.evry' is unknown; did you mean 'checkpoint.every'?"),
    ({"schedule": {"name": "cosin"}}, "recipe key 'schedule.name': unknown value 'cosin'; did you mean 'cosine'?"),
    ({"trainer": {"max_steps": "ten"}}, "recipe key 'trainer.max_steps' must be an integer"),
    ({"loss": {"weights": {"si_sdrr": 1.0}}}, "loss 'loss.weights.si_sdrr' is unknown; did you mean "
                                              "'loss.weights.si_sdr'?"),
    ({"loss": {"weights": {"si_sdr": 1.0}, "options": {"si_sdr": {"zero_meen": True}}}}, "zero_meen"),
    ({"loss": {"weights": {"si_sdr": 1.0}, "options": {"si_sdrr": {}}}},
     "recipe key 'loss.options.si_sdrr' is unknown; did you mean 'loss.options.si_sdr'?"),
    ({"model": {"name": "gtcrm"}}, "unknown model 'gtcrm'. Did you mean 'gtcrn'?"),
    ({"model": {"name": "gtcrn", "options": {"chanels": 4}}}, "no option 'chanels'. Did you mean 'channels'?"),
    ({"stft": "mpsnet"}, "recipe key 'stft': unknown STFT preset 'mpsnet'"),
    ({"validation": {"metrics": ["pesq_wbb"]}}, "recipe key 'validation.metrics': unknown metric 'pesq_wbb'"),
    ({"ema": {"decay": 1.5}}, "recipe key 'ema.decay' must lie in [0, 1)"),
])
def test_misspelled_or_bad_keys(tiny, tmp_path, raw_change, message):
    raw = tiny(tmp_path) | raw_change
    assert message in _error(raw)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing was written


def test_data_keys_are_checked_against_the_datasets_and_readers(tiny, tmp_path):
    raw = tiny(tmp_path)
    raw["data"]["train"]["options"]["lenght"] = 4
    assert "'data.train.options.lenght' is unknown; did you mean 'data.train.options.length'?" in _error(raw)
    raw = tiny(tmp_path)
    raw["data"]["train"]["sim"] = {"snr_range": [0, 5]}
    assert "'data.train.sim.snr_range' is unknown; did you mean 'data.train.sim.snr'?" in _error(raw)
    raw = tiny(tmp_path)
    raw["data"]["valid"] = {"kind": "paired", "options": {"noisy": "x", "clean_dir": "y"}}
    assert "'data.valid.options.noisy' is unknown; did you mean 'data.valid.options.noisy_dir'?" in _error(raw)
    raw["data"]["valid"]["kind"] = "pared"
    assert "recipe key 'data.valid.kind': unknown value 'pared'; did you mean 'paired'?" in _error(raw)


def test_overrides(tiny, tmp_path):
    assert parse_override("optim.lr=3e-4") == (["optim", "lr"], 3e-4)
    assert parse_override("model.options.dilations=[1, 2]") == (["model", "options", "dilations"], [1, 2])
    r = load_recipe(tiny(tmp_path), ["optim.lr=0.01", "trainer.max_steps=7", "model.options.channels=8",
                                     "loss.weights.snr=0.5", "discriminator={weight: 0.1}"])
    assert (r.optim.lr, r.trainer.max_steps, r.model.options["channels"]) == (0.01, 7, 8)
    assert r.loss.weights == {"si_sdr": 1.0, "compressed_spectral": 0.5, "snr": 0.5}
    assert r.discriminator.weight == 0.1 and r.discriminator.name == "metric"
    assert "override key 'optim.lrr' is unknown; did you mean 'optim.lr'?" in _error(tiny(tmp_path), ["optim.lrr=1"])
    assert "override key 'trainr' is unknown; did you mean 'trainer'?" in _error(tiny(tmp_path), ["trainr.devices=2"])
    assert "'optim.lr' is a value, not a section" in _error(tiny(tmp_path), ["optim.lr.x=1"])
    assert "must look like key=value" in _error(tiny(tmp_path), ["optim.lr"])
    assert "override key 'loss.weights.si_sdrr'" not in _error(tiny(tmp_path), ["loss.weights.si_sdrr=1"])
    assert "did you mean 'loss.weights.si_sdr'?" in _error(tiny(tmp_path), ["loss.weights.si_sdrr=1"])


def test_yaml_file_and_prepare_builds_everything(tiny, tmp_path):
    import yaml

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(tiny(tmp_path / "run"), sort_keys=False))
    exp = prepare(load_recipe(path))
    assert exp.model.config["channels"] == 4 and exp.objective.names == ["si_sdr", "compressed_spectral"]
    assert exp.objective.weights == [1.0, 0.5] and len(exp.train_set) == 12 and exp.valid_set is None
    assert exp.metrics == ("pesq_wb", "si_sdr")
    path.write_text("optim: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(path)


def test_an_override_changes_one_path_of_a_yaml_alias(tiny, tmp_path):
    # `valid: {sim: *sim}` is the same object as train's sim after yaml.load; an override of data.train.sim
    # must leave the validation mixtures as the file says (it did not: both changed)
    import yaml

    raw = tiny(tmp_path / "run")
    raw["data"]["train"]["sim"] = {"p_reverb": 0.1}
    raw["data"]["valid"] = {"kind": "simulated", "seconds": 0.5, "sim": raw["data"]["train"]["sim"],
                            "options": {"length": 2, "subset": "valid", "use_noise_files": False}}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.dump(raw, sort_keys=False))
    assert "&id" in path.read_text()  # the file holds an anchor and an alias
    r = load_recipe(path, ["data.train.sim.p_reverb=0.7"])
    assert r.data.train.sim["p_reverb"] == 0.7 and r.data.valid.sim["p_reverb"] == 0.1
