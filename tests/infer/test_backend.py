"""Backends of a model folder: its ``model.onnx`` through onnxruntime when that export holds the folder's weights
(the weights digest recorded at export), else PyTorch; the bundled models ship such an export."""

from __future__ import annotations

import shutil

import pytest
import torch

from cspec.errors import ConfigError
from cspec.infer import Enhancer, export_onnx
from cspec.infer.enhancer import PRETRAINED_DIR
from cspec.models import save
from cspec.models.io import model_digest

from .conftest import small


@pytest.mark.parametrize("name", ["default", "tiny"])
def test_bundled_export_holds_the_bundled_weights_and_equals_pytorch(name):
    onnx, torch_ = Enhancer.from_pretrained(name), Enhancer.from_pretrained(name, backend="torch")
    assert (onnx.backend, torch_.backend) == ("onnx", "torch")
    assert onnx.model.meta["model_sha256"] == model_digest(torch_.model)
    x = torch.randn(2, 16000 * 3, generator=torch.Generator().manual_seed(2)) * 0.05
    assert float((onnx.enhance(x, 16000) - torch_.enhance(x, 16000)).abs().max()) <= 1e-4


def test_digest_changes_with_any_weight_and_with_the_config():
    from cspec.models import build

    model = small("gtcrn")
    before = model_digest(model)
    assert model_digest(model) == before
    same_weights = build("gtcrn", **{**model.config, "mask_gain": 2.0})
    same_weights.load_state_dict(model.state_dict())
    assert model_digest(same_weights) != before
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-6
    assert model_digest(model) != before


def test_auto_runs_a_matching_export_and_never_a_stale_or_missing_one(tmp_path):
    model = small("gtcrn")
    folder = save(model, tmp_path / "m")
    assert Enhancer.from_pretrained(folder).backend == "torch"  # no export: PyTorch
    with pytest.raises(ConfigError, match="no model.onnx"):
        Enhancer.from_pretrained(folder, backend="onnx")
    export_onnx(model, folder / "model.onnx")
    enh = Enhancer.from_pretrained(folder)
    assert enh.backend == "onnx"
    x = torch.randn(1, 8000, generator=torch.Generator().manual_seed(3)) * 0.1
    with torch.no_grad():
        ref = model.eval()(x)["wave"]
    assert float((enh.enhance(x, 16000) - ref).abs().max()) <= 1e-4
    # new weights saved over the folder: the export is stale, so auto runs PyTorch and onnx refuses
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.9)
    save(model, folder)
    assert Enhancer.from_pretrained(folder).backend == "torch"
    with pytest.raises(ConfigError, match="another model"):
        Enhancer.from_pretrained(folder, backend="onnx")
    # an unreadable export: auto runs PyTorch, onnx says why
    (folder / "model.onnx").write_bytes(b"not an onnx file")
    assert Enhancer.from_pretrained(folder).backend == "torch"
    with pytest.raises(ConfigError, match="onnxruntime cannot load"):
        Enhancer.from_pretrained(folder, backend="onnx")
    with pytest.raises(ConfigError, match="unknown backend"):
        Enhancer.from_pretrained(folder, backend="tensorrt")
    with pytest.raises(ConfigError, match="CPU"):
        Enhancer.from_pretrained(folder, backend="onnx", device="meta")


def test_cli_backend_choice_and_its_errors(tmp_path, capsys):
    from cspec.audio import save as save_audio
    from cspec.cli import main

    folder = tmp_path / "default"
    shutil.copytree(PRETRAINED_DIR / "default", folder)
    (folder / "model.onnx").unlink()
    src = tmp_path / "in.wav"
    save_audio(src, torch.randn(1, 16000, generator=torch.Generator().manual_seed(4)) * 0.05, 16000)
    assert main(["enhance", str(src), "-o", str(tmp_path / "a.wav")]) == 0
    assert "(onnxruntime)" in capsys.readouterr().out  # the bundled default, through its export
    assert main(["enhance", str(src), "-o", str(tmp_path / "b.wav"), "--model", str(folder)]) == 0
    assert "(PyTorch)" in capsys.readouterr().out  # no export in that folder
    assert main(["enhance", str(src), "-o", str(tmp_path / "c.wav"), "--model", str(folder), "--backend", "onnx"]) == 2
    err = capsys.readouterr().err
    assert "no model.onnx" in err and "Traceback" not in err
    assert main(["enhance", str(src), "-o", str(tmp_path / "d.wav"), "--stream", "--backend", "onnx"]) == 2
    assert "--stream" in capsys.readouterr().err
    export = tmp_path / "x.onnx"
    export.write_bytes((PRETRAINED_DIR / "tiny" / "model.onnx").read_bytes())
    assert main(["enhance", str(src), "-o", str(tmp_path / "e.wav"), "--onnx", str(export), "--backend", "torch"]) == 2
    assert "drop --backend" in capsys.readouterr().err
    assert main(["enhance", str(src), "-o", str(tmp_path / "f.wav"), "--onnx", str(export)]) == 0


def test_batched_files_through_the_bundled_export_equal_pytorch(tmp_path):
    import soundfile as sf

    from cspec.audio import load as load_audio

    rng = torch.Generator().manual_seed(5)
    srcs = []
    for i in range(3):  # equal lengths: one batch of three files (and a stereo one: its channels in the batch)
        srcs.append(tmp_path / f"f{i}.wav")
        sf.write(srcs[-1], (torch.randn(8000, 1 + (i == 1), generator=rng) * 0.05).numpy(), 16000)
    for backend in ("onnx", "torch"):
        enh = Enhancer.from_pretrained("default", backend=backend, batch_size=4)
        assert enh.enhance_files(srcs, [tmp_path / backend / p.name for p in srcs]) == [None] * 3
    for p in srcs:
        a, b = load_audio(tmp_path / "onnx" / p.name)[0], load_audio(tmp_path / "torch" / p.name)[0]
        assert a.shape == b.shape and float((a - b).abs().max()) <= 1e-4
