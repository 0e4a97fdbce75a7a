"""recipes/pool/flip_polarity.py: an inverted GTCRN is flipped exactly, one in phase is copied unchanged."""

from __future__ import annotations

import numpy as np
import torch

from cspec.audio import save
from cspec.models import build, load
from cspec.models import save as save_model

from ..conftest import recipe_script

fp = recipe_script("flip_polarity")


def test_flip_polarity(tmp_path, capsys):
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    clean = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    save(tmp_path / "pairs" / "clean" / "a.flac", clean, 16000)
    save(tmp_path / "pairs" / "noisy" / "a.flac", clean + 0.02 * rng.standard_normal(len(t)), 16000)
    model = build("gtcrn", channels=8, hidden=8, dilations=(1,), n_dprnn=1)
    with torch.no_grad():
        model.mask_norm.bias.copy_(torch.tensor([-0.5, 0.0]))  # the constant mask -tanh(0.5): inverted
    save_model(model, tmp_path / "inverted")
    assert fp.scale(load(tmp_path / "inverted").eval(), tmp_path / "pairs") < -0.4
    args = ["--pairs", str(tmp_path / "pairs")]
    assert fp.main([str(tmp_path / "inverted"), str(tmp_path / "flipped"), *args]) == 0
    flipped = load(tmp_path / "flipped").eval()
    assert fp.scale(flipped, tmp_path / "pairs") > 0.4
    x = torch.randn(1, 4000) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(flipped(x)["wave"], -load(tmp_path / "inverted").eval()(x)["wave"])
    assert fp.main([str(tmp_path / "flipped"), str(tmp_path / "again"), *args]) == 0
    assert "already in phase" in capsys.readouterr().out
    with torch.no_grad():
        torch.testing.assert_close(load(tmp_path / "again").eval()(x)["wave"], flipped(x)["wave"])
    assert fp.main([str(tmp_path / "flipped"), str(tmp_path / "again"), *args]) == 2  # never overwrites
