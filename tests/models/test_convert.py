"""cspec.models.convert: the official GTCRN checkpoints reproduce the official code's recorded outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from cspec.errors import ConfigError, ModelError
from cspec.models import load
from cspec.models.convert import convert, convert_state_dict, read_checkpoint

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DATA = Path(os.environ.get("CSPEC_DATA", SHARED / "data"))
TEACHERS = Path(os.environ.get("CSPEC_TEACHERS", SHARED / "teachers")) / "gtcrn"
REF = TEACHERS / "reference"
CKPT = {"dns3": TEACHERS / "model_trained_on_dns3.tar", "vctk": TEACHERS / "model_trained_on_vctk.tar"}


def _official_stft(x: np.ndarray) -> torch.Tensor:
    """The official infer.py's STFT: 512 points, hop 256, sqrt-Hann, torch's reflect centring."""
    return torch.stft(torch.from_numpy(x), 512, 256, 512, torch.hann_window(512).pow(0.5), return_complex=True)


@pytest.mark.parametrize("which", ["dns3", "vctk"])
def test_converted_gtcrn_reproduces_the_official_outputs(which, tmp_path):
    folder = convert(CKPT[which], tmp_path / which)
    model = load(folder).eval()
    index = json.loads((REF / "index.json").read_text())
    refs = [k for k in index if k.endswith("." + which)]
    assert len(refs) == 3
    for key in refs:
        info = index[key]
        x, sr = sf.read(DATA / info["input"], dtype="float32")
        assert sr == 16000
        noisy = _official_stft(x[: info["first_samples"]])[None]
        with torch.no_grad():
            out = (model.estimate_mask(noisy) * noisy)[0]
        ref = torch.view_as_complex(torch.from_numpy(np.load(REF / f"{key}.spec.npy")).contiguous())
        assert out.shape == ref.shape
        # float32 precision of a 23 k-parameter network run twice in another order: relative 1e-5 of the peak
        assert float((out - ref).abs().max()) <= 1e-5 * float(ref.abs().max())
        wave = torch.istft(out, 512, 256, 512, torch.hann_window(512).pow(0.5))
        ref_wave = torch.from_numpy(np.load(REF / f"{key}.wave.npy"))
        assert wave.shape == ref_wave.shape
        assert float((wave - ref_wave).abs().max()) <= 1e-5 * float(ref_wave.abs().max())


def test_converter_refuses_foreign_and_partial_checkpoints(tmp_path):
    state = read_checkpoint(CKPT["dns3"])
    assert len(state) == 271  # the README's count: 269 network tensors and the two ERB matrices
    partial = dict(state)
    partial.pop("dpgrnn2.inter_fc.bias")
    with pytest.raises(ModelError, match="dprnn.1.inter_fc.bias"):
        convert_state_dict(partial)
    bad = dict(state)
    bad["encoder.en_convs.0.conv.weight"] = torch.zeros(16, 9, 1, 3)
    with pytest.raises(ModelError, match="shape"):
        convert_state_dict(bad)
    with pytest.raises(ModelError, match="erb"):
        convert_state_dict({"w": torch.zeros(1)})
    with pytest.raises(ConfigError, match="no converter for 'nope'"):
        convert_state_dict(state, "nope")
    text = tmp_path / "x.tar"
    text.write_text("not a checkpoint")
    with pytest.raises(ModelError, match="plain tensors"):
        read_checkpoint(text)


def test_checkpoint_with_code_is_refused_without_running_it(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    evil = tmp_path / "evil.tar"
    torch.save({"model": {"w": torch.zeros(1)}, "x": Boom()}, evil)
    with pytest.raises(ModelError, match="plain tensors"):
        read_checkpoint(evil)
    assert not (tmp_path / "ran").exists()
