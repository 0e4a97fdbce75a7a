"""ONNX export of the generative enhancers and their predictive twin (cspec.infer.onnx_generative): the sampler
unrolled on real pairs, its random draws an input that OnnxModel fills as forward draws them, so onnxruntime equals
PyTorch on a random batch of two, on an input shorter than half a window and on a dev-set clip."""

from __future__ import annotations


import onnx
import onnxruntime as ort
import pytest
import torch

from cspec.errors import ConfigError
from cspec.infer import Enhancer, OnnxModel, export_onnx
from cspec.infer.onnx_generative import draw_noise
from cspec.models import build

from .conftest import assert_export_equal, dev_clip

# NCSN++ at a few channels with both resamplers, attention and both pyramids; init_scale 0.1 instead of the
# paper's 0 (1e-10), so that every branch shapes the output, which then has the scale of the input
BACKBONE = dict(nf=8, ch_mult=[1, 1, 1], num_res_blocks=1, attn_levels=[2], init_scale=0.1)

# (name, options, random draws the sampler makes: counted by hand from the samplers)
CASES = [
    ("predictive", {}, 0),
    ("sgmse", dict(steps=2), 1 + 2),  # prior + one PC step: 1 corrector (ALD) + 1 predictor draw
    ("sbridge", dict(steps=2), 2),  # one draw per SDE step
    ("sbridge", dict(steps=2, sampler="ode"), 0),
    ("flowse", dict(steps=2, solver="midpoint"), 1),  # the prior only
]


def _model(name: str, **kw):
    torch.manual_seed(0)
    return build(name, backbone="ncsnpp", backbone_options=BACKBONE, **kw).eval()


def _inputs() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(2, 12000, generator=gen) * 0.05, torch.randn(1, 100, generator=gen) * 0.1, dev_clip(1.0)]


@pytest.mark.parametrize("name, kw, draws", CASES, ids=[f"{c[0]}-{c[1].get('sampler', '')}" for c in CASES])
def test_generative_export_equals_pytorch(tmp_path, name, kw, draws):
    model = _model(name, **kw)
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == (["wave", "noise"] if draws else ["wave"])
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in [*graph.input, *graph.output])
    assert not {"STFT", "DFT", "RandomNormal", "RandomNormalLike"} & {n.op_type for n in graph.node}
    runner = OnnxModel(path)
    assert runner.meta["generative"]["draws"] == draws and runner.steps == model.steps
    with pytest.raises(ConfigError, match="fixed at export"):  # Enhancer(steps=) cannot change an export's passes
        Enhancer(runner, steps=2 * model.steps)
    assert_export_equal(model, runner, _inputs())
    if draws:  # Enhancer runs the export (OnnxModel draws the noise); other draws give another sample: the graph
        # reads its noise and draws none itself
        x = _inputs()[1]
        with torch.no_grad():
            ref = model(x)["wave"]
        assert float((Enhancer(runner).enhance(x, 16000) - ref).abs().max()) <= 1e-4
        out = runner(x)["wave"]
        noise = draw_noise(runner.meta, *x.shape)
        session = ort.InferenceSession(str(path))
        same = session.run(None, {"wave": x.numpy(), "noise": noise.numpy()})[0]
        other = session.run(None, {"wave": x.numpy(), "noise": torch.randn_like(noise).numpy()})[0]
        assert float((torch.from_numpy(same) - out).abs().max()) == 0.0
        assert float((torch.from_numpy(other) - ref).abs().max()) > 1e-2 * float(ref.abs().max())


def test_refusals(tmp_path):
    model = _model("flowse", steps=2)
    model.steps = 4  # set after building: the export's digest records the config, which says 2
    with pytest.raises(ConfigError, match="build the model with steps=4"):
        export_onnx(model, tmp_path / "f.onnx")
    with pytest.raises(ConfigError, match="not causal"):
        export_onnx(_model("predictive"), tmp_path / "p.onnx", mode="frames")
