"""recipes/pool/calibrate_gain.py: the new mask_gain makes clean speech pass at its level; nothing overwritten."""

from __future__ import annotations

import numpy as np
import torch

from cspec.audio import save
from cspec.models import build, load
from cspec.models import save as save_model

from ..conftest import recipe_script

cg = recipe_script("calibrate_gain")


def test_calibrate_gain(tmp_path, capsys):
    t = np.arange(16000) / 16000
    for i, f0 in enumerate((180, 240)):
        voice = 0.2 * np.sin(2 * np.pi * f0 * t) * (1 + np.sin(2 * np.pi * 3 * t))
        save(tmp_path / "clean" / f"{i}.flac", voice, 16000)
    model = build("gtcrn", channels=8, hidden=8, dilations=(1,), n_dprnn=1)  # the initial mask: tanh(0.5) = 0.46
    save_model(model, tmp_path / "quiet")
    args = ["--clean", str(tmp_path / "clean")]
    assert cg.main([str(tmp_path / "quiet"), str(tmp_path / "cal"), *args]) == 0
    assert "gain on 2 clean recordings: 0.46" in capsys.readouterr().out
    cal = load(tmp_path / "cal").eval()
    assert cal.mask_gain == load(tmp_path / "cal").config["mask_gain"] > 2.0
    files = sorted((tmp_path / "clean").glob("*.flac"))
    assert abs(cg.passthrough_gain(cal, files) - 1.0) < 1e-3
    x = 0.1 * torch.randn(1, 4000)
    with torch.no_grad():  # the same network, the output scaled by mask_gain
        torch.testing.assert_close(cal(x)["wave"], cal.mask_gain * load(tmp_path / "quiet").eval()(x)["wave"])
    before = (tmp_path / "cal" / "model.safetensors").read_bytes()
    assert cg.main([str(tmp_path / "quiet"), str(tmp_path / "cal"), *args]) == 2  # never overwrites
    assert (tmp_path / "cal" / "model.safetensors").read_bytes() == before
    assert "exists" in capsys.readouterr().err
    save_model(build("crn"), tmp_path / "crn")
    assert cg.main([str(tmp_path / "crn"), str(tmp_path / "x"), *args]) == 2
    assert "only GTCRN" in capsys.readouterr().err
    assert cg.main([str(tmp_path / "quiet"), str(tmp_path / "y"), "--clean", str(tmp_path / "none")]) == 2
    assert "no such folder" in capsys.readouterr().err
