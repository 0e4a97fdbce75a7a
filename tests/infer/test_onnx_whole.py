"""ONNX export of the non-causal STFT models and the separators (cspec.infer.onnx_graphs): onnxruntime equals
PyTorch on random input of two batch sizes and lengths and on real speech, with no complex tensor in the graph."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
import torch

from cspec.audio import load, resample
from cspec.errors import ConfigError
from cspec.infer import Enhancer, OnnxModel, export_onnx
from cspec.models import build
from cspec.models.mpsenet import MPSENet, atan2

from ..conftest import input_dependent

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))

# the paper's layouts at a few channels (export covers the code paths, not the sizes)
SMALL = {
    "mpsenet": dict(channels=8, n_blocks=1),
    "cmgan": dict(channels=8, n_blocks=1),
    "dcunet-10": dict(channels=(4, 8, 8, 8, 8)),
    "dcunet-20": dict(channels=(4, 4, 8, 8, 8, 8, 8, 8, 8, 12)),
    "tfgridnet": dict(emb_dim=8, n_blocks=1, hidden=8, heads=2, qk_dim=2),
    "upit": dict(hidden=8, layers=2),
    "upit-complex": dict(hidden=8, layers=1, mask="complex"),
    "dprnn": dict(n_filters=16, hidden=16, n_blocks=1, chunk_size=50),
    "convtasnet": dict(n_filters=32, kernel_size=16, bn_chan=16, hid_chan=32, skip_chan=16, n_blocks=3, n_repeats=1),
}


def _model(name: str):
    torch.manual_seed(0)
    return input_dependent(build(name.removesuffix("-complex"), **SMALL[name])).eval()


def _real_input(sample_rate: int, separate: bool) -> torch.Tensor:
    """2 s of a dev-set noisy clip, or for a separator the sum of two read-speech clips of two speakers."""
    if separate:
        rows = sorted((DATA / "speech_read" / "librispeech").glob("*/*.opus"))
        speakers = {}
        for p in rows:
            speakers.setdefault(p.parent.name, p)
        if len(speakers) < 2:
            pytest.fail(f"no read speech under {DATA / 'speech_read'}: set CSPEC_DATA to the shared data folder")
        a, b = (load(p, mono=True) for p in list(speakers.values())[:2])
        x = [resample(w, sr, sample_rate)[:, sample_rate // 2: sample_rate * 5 // 2] for w, sr in (a, b)]
        return x[0] + 0.7 * x[1]
    clips = sorted((DATA / "dev_pairs" / "noisy").glob("*.flac"))
    if not clips:
        pytest.fail(f"no dev pairs under {DATA / 'dev_pairs'}: set CSPEC_DATA to the shared data folder")
    wave, sr = load(clips[0], mono=True)
    return resample(wave, sr, sample_rate)[:, : 2 * sample_rate]


@pytest.mark.parametrize("name", list(SMALL))
def test_whole_model_export_equals_pytorch(tmp_path, name):
    model = _model(name)
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    graph = onnx.load(str(path)).graph
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in [*graph.input, *graph.output])
    assert not {"STFT", "DFT"} & {n.op_type for n in graph.node}  # the transforms are convolutions
    runner = OnnxModel(path)
    assert runner.name == name.removesuffix("-complex") and runner.n_sources == model.n_sources and not runner.causal
    sr = model.sample_rate
    real = _real_input(sr, model.n_sources > 1)
    for x in (torch.randn(1, 7777) * 0.1, torch.randn(2, sr) * 0.05, real):  # dynamic batch and length
        with torch.no_grad():
            ref = model(x)["wave"]
        out = runner(x)["wave"]
        assert out.shape == ref.shape
        # float32 through deep graphs on other kernels: MP-SENet differs by 1.04e-4 on an AMD EPYC
        assert float((out - ref).abs().max()) <= 2e-4 * max(1.0, float(ref.abs().max()))


def test_enhancer_runs_the_export_of_a_non_causal_model(tmp_path):
    model = _model("dcunet-10")
    runner = OnnxModel(export_onnx(model, tmp_path / "d.onnx"))
    x = _real_input(16000, False)
    with torch.no_grad():
        ref = model(x)["wave"]
    assert float((Enhancer(runner).enhance(x, 16000) - ref).abs().max()) <= 1e-4


def test_attention_exports_beyond_the_relative_position_window(tmp_path):
    """CMGAN's relative positions are clipped at 512: past 513 frames (5.1 s) the graph must still slice right."""
    torch.manual_seed(0)
    model = input_dependent(build("cmgan", channels=4, n_blocks=1, heads=1)).eval()
    runner = OnnxModel(export_onnx(model, tmp_path / "c.onnx"))
    x = torch.randn(1, 100 * 530) * 0.1  # 531 frames
    with torch.no_grad():
        ref = model(x)["wave"]
    assert float((runner(x)["wave"] - ref).abs().max()) <= 1e-4


def test_phase_input_and_atan2(tmp_path):
    # the first frame of a centred reflect-padded STFT is symmetric, so its DFT is real: torch.stft leaves
    # rounding of either sign in Im, which atan2 turns into +pi or -pi; the phase input takes such bins as real
    re = torch.tensor([[[-2.0, -2.0, 1.0, -2.0], [0.5, 0.0, -1.0, 0.0]]])
    im = torch.tensor([[[-1e-7, 1e-7, -1e-7, -0.5], [0.0, 0.0, 1e-9, 0.0]]])
    phase = MPSENet.phase_input(re, im)
    assert torch.allclose(phase[0, 0, :3], torch.tensor([torch.pi, torch.pi, 0.0]))
    assert torch.allclose(phase[0, :, 3], torch.atan2(im[0, :, 3], re[0, :, 3]))  # a genuine -0.5 stays
    # the export's atan2 (quadrant rules on atan) against torch.atan2, axes and origin included
    y, x = torch.randn(500), torch.randn(500)
    y[:4], x[4:8] = 0.0, 0.0
    y[8], x[8] = 0.0, 0.0

    class Atan2(torch.nn.Module):
        def forward(self, a, b):
            return atan2(a, b)

    path = tmp_path / "a.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice (cspec.infer.onnx says why)
        torch.onnx.export(Atan2(), (y, x), str(path), input_names=["y", "x"], output_names=["o"], opset_version=17,
                          dynamo=False, dynamic_axes={"y": {0: "n"}, "x": {0: "n"}})
    out = ort.InferenceSession(str(path)).run(None, {"y": y.numpy(), "x": x.numpy()})[0]
    assert torch.allclose(torch.from_numpy(out), torch.atan2(y, x), atol=1e-6)


def test_refusals(tmp_path):
    with pytest.raises(ConfigError, match="not causal"):
        export_onnx(_model("mpsenet"), tmp_path / "m.onnx", mode="frames")
    with pytest.raises(ConfigError, match="exports with mode='offline' only"):
        export_onnx(_model("dprnn"), tmp_path / "s.onnx", mode="frames")
