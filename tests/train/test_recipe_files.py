"""Every recipe in recipes/ passes the schema and builds its model, losses and discriminator; the pool recipes
also build their datasets from the shared data (the corpora of the others are not on this machine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cspec.audio import save
from cspec.infer import available_pretrained
from cspec.models import build
from cspec.train import load_recipe, prepare
from cspec.train.objective import Objective, loss_stft

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*/*.yaml"))


def test_recipe_folders():
    groups = {p.parent.name for p in RECIPES}
    assert groups == {"vbdemand", "librimix", "pool", "read", "sep", "phase", "generative"}
    assert {p.stem for p in RECIPES if p.parent.name == "librimix"} == {"convtasnet", "dprnn", "tfgridnet"}
    assert len([p for p in RECIPES if p.parent.name == "vbdemand"]) == 13


SIMULATED = ("pool", "read", "sep", "phase", "generative")  # recipes that simulate their data from the shared pools


@pytest.mark.parametrize("path", [p for p in RECIPES if p.parent.name not in SIMULATED], ids=lambda p: p.stem)
def test_corpus_recipe_builds(path):
    r = load_recipe(path)
    assert r.paper and r.model.name and r.trainer.max_steps > 1000
    model = build(r.model.name, **r.model.options)
    objective = Objective(r.loss.weights, r.loss.options, model.n_sources, loss_stft(r.stft, model), r.loss.pit)
    assert objective.pit == (path.parent.name == "librimix")


@pytest.mark.parametrize("path", [p for p in RECIPES if p.parent.name in SIMULATED], ids=lambda p: p.stem)
def test_pool_recipe_prepares(path, tmp_path, monkeypatch):
    r = load_recipe(path)
    if r.model.init:  # a bundled model, or an earlier run's folder that the recipe's header says how to make
        if r.model.init not in available_pretrained():
            assert r.model.init in path.read_text().split("model:")[0], "the header must say how to make it"
            r = load_recipe(path, ["model.init=''"])
    valid_options = r.data.valid.options if r.data.valid else {}
    extra = r.data.train.options.get("noise_manifests") or valid_options.get("noise_manifests")
    if extra:  # the third stages read recipes/pool/debian_noise.py's pool: a one-file look-alike of it here
        assert extra == ["$CSPEC_DEBIAN_NOISE"]
        save(tmp_path / "noise" / "a.flac", 0.1 * np.random.default_rng(0).standard_normal(16000), 16000)
        (tmp_path / "manifest.csv").write_text("path,duration_s,kind,speaker,source,license\n"
                                               "noise/a.flac,1.0,noise debian,,test,CC0\n")
        monkeypatch.setenv("CSPEC_DEBIAN_NOISE", str(tmp_path))
    speech = r.data.train.options.get("speech_manifests")
    if speech:  # recipes/pool/debian_speech.py's pool: a one-speaker look-alike
        assert speech == ["$CSPEC_DEBIAN_SPEECH"]
        rng = np.random.default_rng(1)
        rows = "".join(f"speech/{i}.flac,1.0,clean prompts,voice-x,test,CC0\n" for i in range(3))
        for i in range(3):
            save(tmp_path / "sp" / "speech" / f"{i}.flac", 0.1 * rng.standard_normal(16000), 16000)
        (tmp_path / "sp" / "manifest.csv").write_text("path,duration_s,kind,speaker,source,license\n" + rows)
        monkeypatch.setenv("CSPEC_DEBIAN_SPEECH", str(tmp_path / "sp"))
    paired = r.data.train.kind == "paired"
    if paired:  # recipes/read/distill_dfn3.py's targets: a two-pair look-alike, where the header says to make them
        assert r.data.train.options == {"noisy_dir": "$CSPEC_DISTILL/noisy", "clean_dir": "$CSPEC_DISTILL/clean"}
        assert "distill_dfn3.py --out" in path.read_text().split("model:")[0]
        for i in range(2):
            for folder in ("noisy", "clean"):
                save(tmp_path / "distill" / folder / f"{i}.wav", np.zeros(16000), 16000)
        monkeypatch.setenv("CSPEC_DISTILL", str(tmp_path / "distill"))
    exp = prepare(r)
    # generative recipes validate on 10 clips: each runs the sampler (several network passes)
    if paired:
        assert len(exp.train_set) == 2
    else:
        assert len(exp.train_set) == r.data.train.options["length"] >= 20000
    assert len(exp.valid_set) == (10 if path.parent.name == "generative" else 40)
