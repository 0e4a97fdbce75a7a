"""Enhancer: pretrained look-up, model folders, batches of files with per-file errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from cspec.errors import ConfigError
from cspec.infer import Enhancer, available_pretrained
from cspec.models import save

from .conftest import small


def test_from_pretrained_unknown_lists_names_and_folder_works(tmp_path):
    with pytest.raises(ConfigError, match="bundled names"):
        Enhancer.from_pretrained("no-such-model")
    assert isinstance(available_pretrained(), list)
    model = small("crn")
    save(model, tmp_path / "crn")
    enh = Enhancer.from_pretrained(tmp_path / "crn")
    x = torch.randn(4000) * 0.1
    with torch.no_grad():
        ref = model(x[None])["wave"][0]
    y = enh.enhance(x, 16000)
    assert float((y - ref).abs().max()) < 1e-6
    assert not y.is_inference()  # the model ran in inference mode; its output is an ordinary tensor
    y += 1.0


def test_enhance_files_batches_equal_single_files_and_reports_errors(tmp_path):
    model = small("gtcrn")
    rng = np.random.default_rng(0)
    srcs = []
    for i, n in enumerate([4000, 5000, 5000, 7000]):
        srcs.append(tmp_path / f"f{i}.wav")
        sf.write(srcs[-1], (rng.standard_normal(n) * 0.1).astype(np.float32), 16000, subtype="FLOAT")
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    srcs.insert(2, tmp_path / "bad.wav")
    dsts = [tmp_path / "out" / f"{p.stem}.flac" for p in srcs]
    seen = []
    enh = Enhancer(model, batch_size=8)
    calls = []
    forward = enh._forward
    enh._forward = lambda w: calls.append(w.shape[0]) or forward(w)
    errors = enh.enhance_files(srcs, dsts, on_done=lambda s, d, e: seen.append(s))
    assert sorted(calls) == [1, 1, 2]  # the two 5000-sample files went through the model together
    assert [e is None for e in errors] == [True, True, False, True, True] and sorted(seen) == sorted(srcs)
    for src, dst in zip(srcs, dsts):
        if src.name == "bad.wav":
            assert not dst.exists()
            continue
        x, _ = sf.read(src, dtype="float32")
        with torch.no_grad():
            ref = model(torch.from_numpy(x)[None])["wave"][0].numpy()
        y, _ = sf.read(dst, dtype="float32")
        assert y.shape == x.shape and np.abs(y - ref).max() < 1e-4  # 16-bit FLAC quantisation


class _Sampler(torch.nn.Module):
    """A stand-in for a generative model: ``steps`` network passes, counted."""

    sample_rate, n_sources, stft_config = 16000, 1, None

    def __init__(self):
        super().__init__()
        self.steps, self.calls = 30, 0

    def forward(self, wave):
        self.calls += self.steps
        return {"wave": wave * 0.5}


def test_steps_sets_a_generative_models_passes_and_is_refused_elsewhere():
    model = _Sampler()
    enh = Enhancer(model, steps=4)
    out = enh.enhance(torch.ones(1600) * 0.1, 16000)
    assert model.steps == 4 and model.calls == 4 and torch.allclose(out, torch.full((1600,), 0.05))
    with pytest.raises(ConfigError, match="steps must be >= 1"):
        Enhancer(_Sampler(), steps=0)
    with pytest.raises(ConfigError, match="is not generative; it runs in one pass"):
        Enhancer(small("gtcrn"), steps=4)
