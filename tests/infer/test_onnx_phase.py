"""ONNX export of the phase-retrieval models (cspec.infer.onnx_phase): NSPP with and without its fast Griffin-Lim
iterations, DeGLI's forward and its iterations. onnxruntime equals PyTorch on random input of two lengths and on a
dev-set clip; run in float64, the exported graph equals cspec.phase.fast_griffin_lim / DeGLI.iterate to 1e-8."""

from __future__ import annotations

import copy

import onnx
import pytest
import torch

from cspec.errors import ConfigError
from cspec.infer import OnnxModel, export_onnx
from cspec.infer.onnx_phase import DeGLIGraph, NSPPGraph
from cspec.infer.phase import LearnedPhase
from cspec.models import build
from cspec.phase import fast_griffin_lim
from cspec.spectral.stft import istft, make_window, stft

from .conftest import assert_export_equal, dev_clip


def _inputs() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(1, 7777, generator=gen) * 0.1, torch.randn(2, 16000, generator=gen) * 0.05, dev_clip()]


def _model(name: str, **kw):
    torch.manual_seed(0)
    return build(name, **({"channels": 16} if name == "nspp" else {"channels": 8}), **kw).eval()


def _check_graph(path: Path) -> None:
    graph = onnx.load(str(path)).graph
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in [*graph.input, *graph.output])
    assert not {"STFT", "DFT"} & {n.op_type for n in graph.node}  # the transforms are convolutions


def _reconstruct(model, x: torch.Tensor, n_iter: int) -> torch.Tensor:
    """``LearnedPhase.reconstruct`` of the magnitude of ``x``: the phase retrieval the ``n_iter`` graph exports."""
    cfg = model.stft_config
    return LearnedPhase([model]).reconstruct(stft(x, cfg).abs(), cfg, n_iter, length=x.shape[-1])


@pytest.mark.parametrize("unroll", [0, 4])
def test_nspp_export_equals_pytorch(tmp_path, unroll):
    model = _model("nspp", unroll=unroll)
    path = export_onnx(model, tmp_path / "nspp.onnx")
    _check_graph(path)
    runner = OnnxModel(path)
    assert runner.name == "nspp" and runner.meta["n_iter"] == unroll and not runner.causal
    # FGLA's iterations amplify float32 rounding where the graph and PyTorch use other kernels (1.1e-4 after 4
    # iterations on an AMD EPYC, below 1e-4 on an Intel Xeon)
    assert_export_equal(model, runner, _inputs(), atol=1e-4 if unroll == 0 else 3e-4)


def test_degli_export_equals_pytorch(tmp_path):
    model = _model("degli")
    block = OnnxModel(export_onnx(model, tmp_path / "d.onnx"))  # forward: one block on the input's spectrogram
    loop = OnnxModel(export_onnx(model, tmp_path / "d3.onnx", n_iter=3))  # phase retrieval: 3 blocks from phase 0
    assert block.meta["n_iter"] is None and loop.meta["n_iter"] == 3
    for x in _inputs():
        with torch.no_grad():
            ref = model(x)["wave"]
        assert float((block(x)["wave"] - ref).abs().max()) <= 1e-4
        assert float((loop(x)["wave"] - _reconstruct(model, x, 3)).abs().max()) <= 1e-4


def test_nspp_phase_retrieval_export_equals_learned_phase(tmp_path):
    """``n_iter`` overrides ``unroll``: the graph of ``LearnedPhase.reconstruct`` with that many FGLA iterations."""
    model = _model("nspp")
    runner = OnnxModel(export_onnx(model, tmp_path / "n.onnx", n_iter=4))
    for x in _inputs()[:2]:
        # FGLA's iterations amplify float32 rounding where the graph and PyTorch use other kernels (1.1e-4 after 4
        # iterations on an AMD EPYC, below 1e-4 on an Intel Xeon)
        assert float((runner(x)["wave"] - _reconstruct(model, x, 4)).abs().max()) <= 3e-4


def _exact(graph):
    """``graph`` in float64 with its DFT bases and squared window computed in float64 (ConvSTFT stores them
    rounded to float32): the windowed DFT ``w[n] e^{-2 pi i k n / N}`` and its one-sided inverse, written here."""
    graph = graph.double()
    sp, cfg = graph.spectral, graph.model.stft_config
    w = make_window(cfg, dtype=torch.float64)
    k = torch.arange(cfg.n_freqs, dtype=torch.float64)[:, None]
    ang = 2 * torch.pi * k * torch.arange(cfg.n_fft, dtype=torch.float64) / cfg.n_fft
    c = torch.where((k == 0) | (k == cfg.n_fft / 2), 1.0, 2.0)
    sp.stft.basis = torch.cat([w * torch.cos(ang), -w * torch.sin(ang)])[:, None]
    sp.istft.basis = (torch.cat([c * torch.cos(ang), -c * torch.sin(ang)]) * w / cfg.n_fft)[:, None]
    sp.istft.win_sq = (w**2)[None, None]
    return graph


def test_graphs_in_float64_are_the_algorithms():
    """The exported modules run in float64 give the float64 PyTorch results to 1e-8 after 16 fast Griffin-Lim
    iterations (NSPP) and 4 DeGLI blocks on the dev clip: the graphs are the algorithms. (In float32 the iterations
    amplify rounding: after 8 fast Griffin-Lim iterations on this clip PyTorch's float32 result is itself 1.6e-4
    from its float64 one; the module docstring of cspec.infer.onnx_phase says more.)"""
    x = dev_clip().double()
    nspp, degli = (copy.deepcopy(_model(n)).double() for n in ("nspp", "degli"))
    mag = stft(x, nspp.stft_config).abs()
    with torch.no_grad():
        ref = fast_griffin_lim(mag, 16, nspp.stft_config, x.shape[-1], init=nspp.predict_phase(mag))
        assert float((_exact(NSPPGraph(nspp, 16))(x) - ref).abs().max()) <= 1e-8
        spec = degli.iterate(mag, torch.zeros_like(mag), 4, x.shape[-1])
        ref = istft(spec, degli.stft_config, x.shape[-1])
        assert float((_exact(DeGLIGraph(degli, 4))(x) - ref).abs().max()) <= 1e-8


def test_refusals(tmp_path):
    with pytest.raises(ConfigError, match="not causal"):
        export_onnx(_model("nspp"), tmp_path / "n.onnx", mode="frames")
    with pytest.raises(ConfigError, match="n_iter is a number of iterations >= 0"):
        export_onnx(_model("degli"), tmp_path / "d.onnx", n_iter=-1)
    with pytest.raises(ConfigError, match="n_iter sets the iterations of a phase model"):
        export_onnx(build("dcunet-10", channels=(4, 8, 8, 8, 8)), tmp_path / "c.onnx", n_iter=2)
    with pytest.raises(ConfigError, match="n_iter applies to the offline export"):
        export_onnx(_model("nspp"), tmp_path / "n.onnx", mode="frames", n_iter=2)
