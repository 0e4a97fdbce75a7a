"""The bundled generative enhancer `generative` (issue #24): present with its card, loaded without pickle, it makes
exactly the bundled number of network passes (or `steps=`), returns a finite signal of the input's length, and its
ONNX export (the whole sampler, random draws as an input) equals PyTorch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from cspec.audio import load, resample
from cspec.infer import Enhancer, OnnxModel, available_pretrained, export_onnx
from cspec.infer.enhancer import PRETRAINED_DIR

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


@pytest.fixture(scope="module")
def noisy() -> torch.Tensor:
    clips = sorted((DATA / "dev_pairs" / "noisy").glob("*.flac"))
    if not clips:
        pytest.fail(f"no dev pairs under {DATA / 'dev_pairs'}: set CSPEC_DATA to the shared data folder")
    wave, sr = load(clips[0], mono=True)
    return resample(wave, sr, 16000)[:, 16000: 16000 + 24000]


def test_bundle_files_and_card():
    assert "generative" in available_pretrained()
    folder = PRETRAINED_DIR / "generative"
    assert sorted(p.name for p in folder.iterdir()) == ["MODEL_CARD.md", "config.json", "model.safetensors"]
    card = (folder / "MODEL_CARD.md").read_text()
    for needed in ("predictive twin", "PESQ-WB", "DNSMOS", "passes", "bash recipes/generative/rebuild.sh", "Limits"):
        assert needed in card, needed
    assert json.loads((folder / "config.json").read_text())["config"]["steps"] >= 1


@pytest.mark.parametrize("steps", [None, 2])
def test_network_passes_are_the_bundled_steps_or_the_option(noisy, steps):
    enh = Enhancer.from_pretrained("generative", backend="torch", steps=steps)
    model = enh.model
    bundled = json.loads((PRETRAINED_DIR / "generative" / "config.json").read_text())["config"]["steps"]
    calls = []
    handle = model.net.register_forward_hook(lambda *_: calls.append(1))
    try:
        out = enh.enhance(noisy, 16000)
    finally:
        handle.remove()
    assert len(calls) == (bundled if steps is None else steps)
    assert out.shape == noisy.shape and torch.isfinite(out).all()


def test_onnx_export_equals_pytorch(tmp_path, noisy):
    model = Enhancer.from_pretrained("generative", backend="torch").model
    runner = OnnxModel(export_onnx(model, tmp_path / "g.onnx"))
    with torch.no_grad():
        ref = model(noisy)["wave"]
    out = runner(noisy)["wave"]
    assert out.shape == ref.shape
    assert float((out - ref).abs().max()) <= 1e-4 * max(1.0, float(ref.abs().max()))
