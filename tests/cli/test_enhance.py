"""cspec enhance / export: folders mirrored, a broken file reported while the rest goes on, inputs never
overwritten, --stream prints the latency, an export runs with --onnx."""

from __future__ import annotations

import numpy as np
import soundfile as sf
import torch

from cspec.cli import main
from cspec.models import build, save


def _tree(tmp_path):
    torch.manual_seed(0)
    save(build("crn", channels=(8, 8, 16, 16, 16)).eval(), tmp_path / "crn")
    rng = np.random.default_rng(0)
    (tmp_path / "in" / "sub").mkdir(parents=True)
    sf.write(tmp_path / "in" / "a.wav", (rng.standard_normal(8000) * 0.1).astype(np.float32), 16000)
    sf.write(tmp_path / "in" / "sub" / "b.flac", (rng.standard_normal((6000, 2)) * 0.1).astype(np.float32), 22050)
    (tmp_path / "in" / "sub" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    return tmp_path / "crn"


def test_folder_with_broken_file(tmp_path, capsys):
    model = _tree(tmp_path)
    rc = main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(model), "--jobs", "2"])
    err = capsys.readouterr()
    assert rc == 1
    assert "broken.wav" in err.err and "enhanced 2 of 3 files" in err.out and "1 failed" in err.out
    a, sr_a = sf.read(tmp_path / "out" / "a.wav")
    b, sr_b = sf.read(tmp_path / "out" / "sub" / "b.wav")  # tree mirrored, rate and channels kept
    assert (a.shape, sr_a, b.shape, sr_b) == ((8000,), 16000, (6000, 2), 22050)
    assert not (tmp_path / "out" / "sub" / "broken.wav").exists()


def test_inputs_never_overwritten(tmp_path, capsys):
    model = _tree(tmp_path)
    src = tmp_path / "in" / "a.wav"
    before = src.read_bytes()
    assert main(["enhance", str(src), "-o", str(src), "--model", str(model), "--overwrite"]) == 2
    assert "refusing to write over" in capsys.readouterr().err and src.read_bytes() == before
    assert main(["enhance", str(src), "--model", str(model), "--plot"]) == 0  # beside the input, with _enhanced
    assert (tmp_path / "in" / "a_enhanced.wav").exists() and (tmp_path / "in" / "a_enhanced.png").exists()
    assert src.read_bytes() == before
    capsys.readouterr()
    assert main(["enhance", str(src), "--model", str(model)]) == 1  # the output exists: reported, exit 1
    assert "the file exists" in capsys.readouterr().err and src.read_bytes() == before


def test_stream_export_and_onnx(tmp_path, capsys):
    model = _tree(tmp_path)
    src = tmp_path / "in" / "a.wav"
    assert main(["enhance", str(src), "-o", str(tmp_path / "s"), "--model", str(model), "--stream"]) == 0
    assert "latency 319 samples = 19.9 ms" in capsys.readouterr().err
    onnx_path = tmp_path / "crn.onnx"
    assert main(["export", str(model), "-o", str(onnx_path)]) == 0
    assert "look-ahead 319" in capsys.readouterr().out
    assert main(["enhance", str(src), "-o", str(tmp_path / "o"), "--onnx", str(onnx_path)]) == 0
    streamed, _ = sf.read(tmp_path / "s" / "a.wav")
    exported, _ = sf.read(tmp_path / "o" / "a.wav")
    assert np.abs(streamed - exported).max() < 1e-3  # same model, two paths, 16-bit files
    assert main(["enhance", str(src), "--model", "no-such-model"]) == 2
    assert "bundled names" in capsys.readouterr().err
