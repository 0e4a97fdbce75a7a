"""A model built only from cspec.nn layers: ONNX through the real-pair interface, and torch.compile."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import onnxruntime as ort
import torch

from cspec.errors import ConfigError
from cspec.nn import (AmpPhaseTanh, Cardioid, ComplexAvgPool2d, ComplexBatchNorm, ComplexConv2d,
                      ComplexConvTranspose2d, ComplexDropout, ComplexGRU, ComplexLayerNorm, ComplexLinear,
                      ComplexLSTM, ComplexMaxPool2d, ComplexPReLU, ComplexSequential,
                      ComplexTransformerEncoderLayer, CReLU, ModReLU, NaiveComplexBatchNorm, RealPairWrapper,
                      SplitSigmoid, ZReLU, export_onnx)


def conv_model():
    return ComplexSequential(
        ComplexConv2d(1, 4, (5, 2), stride=(2, 1), padding=(2, 0), causal=True), ComplexBatchNorm(4),
        ComplexPReLU(4), ComplexConv2d(4, 6, 3, padding=1, method="gauss"), NaiveComplexBatchNorm(6), ZReLU(),
        ComplexMaxPool2d((2, 1)), ComplexAvgPool2d((1, 1)), ComplexConvTranspose2d(6, 2, (3, 2), stride=(2, 1),
                                                                                   padding=(1, 0), causal=True),
        Cardioid(), AmpPhaseTanh(),
    )


def seq_model():
    return ComplexSequential(
        ComplexLinear(6, 8), ComplexLSTM(8, 8, num_layers=2, form="dccrn"), ComplexGRU(8, 8, form="full"),
        ComplexTransformerEncoderLayer(8, 2, dim_feedforward=16), ComplexLayerNorm(8), ModReLU(8, dim=-1),
        ComplexDropout(0.2), CReLU(), ComplexLinear(8, 3), SplitSigmoid(),
    )


def seq_model_full():
    """The fully complex RNN (plain tensor ops) and a transformer layer without dropout (it is random)."""
    return ComplexSequential(ComplexLinear(6, 8), ComplexLSTM(8, 8, form="full"),
                             ComplexTransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0), ModReLU(8, dim=-1))


def dccrn_rnn():
    return ComplexSequential(ComplexGRU(6, 4, form="dccrn"), ComplexLinear(4, 2))


def _trained(model, example):
    """A few training steps so that running statistics and weights are not at their initial values."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    for _ in range(3):
        opt.zero_grad()
        model(example).abs().mean().backward()
        opt.step()
    return model.eval()


@pytest.mark.parametrize("make,shape", [(conv_model, (2, 1, 16, 10)), (seq_model, (2, 5, 6))])
def test_onnx_matches_pytorch(tmp_path, make, shape):
    example = torch.randn(shape, dtype=torch.complex64)
    model = _trained(make(), example)
    path = export_onnx(model, example, tmp_path / "model.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    z = torch.randn(shape, dtype=torch.complex64)
    out = sess.run(None, {sess.get_inputs()[0].name: torch.view_as_real(z).numpy()})[0]
    with torch.no_grad():
        ref = torch.view_as_real(model(z)).numpy()
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-4)


def test_real_pair_wrapper_is_the_complex_model():
    model = conv_model().eval()
    z = torch.randn(1, 1, 8, 6, dtype=torch.complex64)
    with torch.no_grad():
        assert torch.equal(RealPairWrapper(model)(torch.view_as_real(z)), torch.view_as_real(model(z)))
    with pytest.raises(ConfigError, match="forward_pair"):
        RealPairWrapper(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("make,shape,fullgraph", [(conv_model, (2, 1, 16, 10), True), (seq_model_full, (2, 3, 6), True),
                                                  (dccrn_rnn, (2, 4, 6), False)])
def test_torch_compile(make, shape, fullgraph):
    """Training-mode forward, backward and running-statistics updates of the compiled model equal eager ones.

    Dynamo does not trace ``nn.LSTM``/``nn.GRU`` (used by the ``dccrn`` form; its experimental ``allow_rnn``
    flag gave wrong results here), so a model with that form compiles with a graph break around each real RNN
    (``fullgraph=False``); everything else, the fully complex RNN included, compiles as one graph.
    """
    model = make().train()
    twin = copy.deepcopy(model)
    compiled = torch.compile(twin, backend="aot_eager", fullgraph=fullgraph)
    z = torch.randn(shape, dtype=torch.complex64, requires_grad=True)
    results = []
    for net, params in ((model, list(model.parameters())), (compiled, list(twin.parameters()))):
        y = net(z)
        results.append((y.detach(), torch.autograd.grad(y.abs().sum(), [z, *params])))
    (y_eager, g_eager), (y_comp, g_comp) = results
    torch.testing.assert_close(y_comp, y_eager, atol=1e-5, rtol=1e-5)
    for a, b in zip(g_comp, g_eager):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    for (name, a), (_, b) in zip(twin.named_buffers(), model.named_buffers()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
