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
