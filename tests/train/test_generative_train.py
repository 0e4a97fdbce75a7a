"""The engine trains a generative enhancer on its own objective (``training_loss``), checkpoints it, and the saved
folder enhances with any number of network passes; a recipe loss or discriminator for it is refused."""

from __future__ import annotations

import math

import pytest
import torch

from cspec.errors import ConfigError
from cspec.infer import Enhancer
from cspec.models import load
from cspec.train import load_recipe, prepare, train

GEN = {"name": "flowse", "options": {"backbone": "ncsnpp_compact",
                                     "backbone_options": {"nf": 4, "ch_mult": [1, 2], "mid_attention": False}}}


def test_flow_matching_trains_checkpoints_and_enhances_with_any_steps(tiny, tmp_path):
    raw = tiny(tmp_path / "run", model=GEN, loss={}, ema={"decay": 0.5})
    raw.pop("loss")
    raw["data"]["valid"] = {"kind": "simulated", "seconds": 0.5,
                            "options": {"length": 2, "subset": "valid", "use_noise_files": False}}
    raw["validation"] = {"every": 4, "metrics": ["si_sdr"]}
    before = {k: v.clone() for k, v in prepare(load_recipe(raw)).model.state_dict().items()}
    summary = train(raw)
    assert summary["steps"] == 4 and summary["skipped"] == 0
    assert set(summary["loss"]) == {"loss", "flow_matching"} and math.isfinite(summary["loss"]["loss"])
    assert summary["loss"]["loss"] == pytest.approx(summary["loss"]["flow_matching"])
    assert math.isfinite(summary["valid"]["si_sdr"])
    model = load(tmp_path / "run" / "model")
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    wave = torch.randn(8000) * 0.1
    outs = {}
    for steps in (1, 3):
        enh = Enhancer(load(tmp_path / "run" / "model"), steps=steps)
        outs[steps] = enh.enhance(wave, 16000)
        assert outs[steps].shape == wave.shape and torch.isfinite(outs[steps]).all()
    assert not torch.allclose(outs[1], outs[3])


@pytest.mark.parametrize("section", [{"loss": {"weights": {"si_sdr": 1.0}, "options": {"si_sdr": {"zero_mean": True}}}},
                                     {"loss": {"weights": {"complex_mse": 1.0}}}])
def test_a_recipe_loss_for_a_generative_model_is_refused(tiny, tmp_path, section):
    raw = tiny(tmp_path / "run", model=GEN, **section)
    with pytest.raises(ConfigError, match="trains with its own objective"):
        prepare(load_recipe(raw))


def test_the_bridge_starts_from_its_predictive_twin(tiny, tmp_path):
    # model.init across the generative family: the twin computes net([y, y], t=1), the bridge's first pass from
    # x_T = y at T = 1; with the twin's weights and the ODE sampler, the bridge's one-pass output is the twin's
    from cspec.models import build, save

    opts = GEN["options"]
    torch.manual_seed(5)
    twin = build("predictive", **opts)
    save(twin, tmp_path / "twin")
    raw = tiny(tmp_path / "run", model={"name": "sbridge", "options": dict(opts, sampler="ode")}, loss={})
    raw.pop("loss")
    raw["model"]["init"] = str(tmp_path / "twin")
    bridge = prepare(load_recipe(raw)).model
    assert all(torch.equal(v, twin.state_dict()[k]) for k, v in bridge.state_dict().items())
    wave = torch.randn(1, 6000) * 0.1
    bridge.steps = 1
    with torch.no_grad():
        assert torch.allclose(bridge(wave)["wave"], twin(wave)["wave"], atol=1e-6)
    save(build("gtcrn", channels=4, hidden=4, n_dprnn=1), tmp_path / "other")
    raw["model"]["init"] = str(tmp_path / "other")
    with pytest.raises(ConfigError, match="model.init.*must be the same"):
        prepare(load_recipe(raw))
