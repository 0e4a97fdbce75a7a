"""ONNX export: onnxruntime equals PyTorch (offline and streaming frames); unsupported models are named."""

from __future__ import annotations


import onnx
import pytest
import torch

from cspec.errors import ConfigError
from cspec.infer import OnnxModel, Stream, export_onnx

from .conftest import dev_clip, small

@pytest.mark.parametrize("name", ["gtcrn", "gtcrn-wide", "gtcrn-df", "dccrn-cl", "dccrn-e", "crn", "gcrn"])
def test_offline_export_equals_pytorch(tmp_path, name):
    model = small(name)
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    graph = onnx.load(str(path)).graph
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in graph.input)
    runner = OnnxModel(path)
    assert runner.sample_rate == 16000 and runner.lookahead() == model.lookahead()
    for x in (torch.randn(1, 7777) * 0.1, torch.randn(3, 16000) * 0.1, dev_clip()):  # dynamic batch and length
        with torch.no_grad():
            ref = model(x)["wave"]
        assert float((runner(x)["wave"] - ref).abs().max()) <= 1e-4


def test_frames_export_streams_like_pytorch(tmp_path):
    model = small("gtcrn")
    runner = OnnxModel(export_onnx(model, tmp_path / "g.onnx", mode="frames"))
    x = torch.randn(9000) * 0.1
    with torch.no_grad():
        ref = model(x[None])["wave"][0]
    stream = Stream(runner)
    assert stream.latency == 510
    y = torch.cat([stream.process(x[i: i + 1000]) for i in range(0, 9000, 1000)] + [stream.flush()])
    assert float((y - ref).abs().max()) <= 1e-4


def test_unsupported_model_and_bad_path(tmp_path, local_mask):
    # an architecture cspec does not know (a user's SpeechModel) is refused with the list of covered ones
    with pytest.raises(ConfigError, match="does not export to ONNX; covered: gtcrn.*mpsenet"):
        export_onnx(local_mask, tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match=".onnx"):
        export_onnx(small("crn"), tmp_path / "m.bin")
