"""Stream: random chunk sizes give the offline output (<= 1e-4), latency is the look-ahead and is met."""

from __future__ import annotations

import pytest
import torch

from cspec.errors import ConfigError
from cspec.infer import Stream

from .conftest import small


def _feed(stream, x, gen, max_chunk):
    outs, pos, slack = [], 0, []
    while pos < x.shape[-1]:
        k = int(torch.randint(0, max_chunk, (1,), generator=gen))
        outs.append(stream.process(x[..., pos: pos + k]))
        pos = min(pos + k, x.shape[-1])
        slack.append(sum(o.shape[-1] for o in outs) - (pos - stream.latency))
    outs.append(stream.flush())
    return torch.cat(outs, -1), slack


@pytest.mark.parametrize("name", ["gtcrn", "gtcrn-wide", "gtcrn-df", "crn", "gcrn", "dccrn-cl", "dccrn-e"])
def test_stream_equals_offline(name):
    model = small(name)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6000, generator=gen) * 0.1
    with torch.no_grad():
        ref = model(x)["wave"]
    stream = Stream(model)
    assert stream.latency == model.lookahead() and stream.framewise
    y, slack = _feed(stream, x, gen, 900)
    assert y.shape == x.shape and float((y - ref).abs().max()) <= 1e-4
    assert min(slack) >= 0  # at least n - latency samples are out after n samples in
    y1, slack1 = _feed(stream, x[0], gen, 300)  # reset by flush; mono input
    assert y1.shape == x[0].shape and float((y1 - ref[0]).abs().max()) <= 1e-4


def test_latency_is_tight_sample_by_sample():
    model = small("crn")
    stream = Stream(model)
    counts = [stream.process(torch.randn(1) * 0.1).shape[-1] for _ in range(1200)]
    total = torch.tensor(counts).cumsum(0)
    n_in = torch.arange(1, 1201)
    assert bool((total >= n_in - stream.latency).all()) and bool((total == n_in - stream.latency).any())


def test_bounded_context_path_for_other_causal_models(causal_fir):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(1, 20000, generator=gen) * 0.3
    with torch.no_grad():
        ref = causal_fir(x)["wave"]
    stream = Stream(causal_fir, context_seconds=0.05)
    assert not stream.framewise and stream.latency == 0
    y, slack = _feed(stream, x, gen, 1500)
    assert float((y - ref).abs().max()) < 1e-6 and min(slack) >= 0


def test_non_causal_model_is_refused(local_mask):
    with pytest.raises(ConfigError, match="not causal"):
        Stream(local_mask)


def test_deep_filter_model_streams_through_the_frames_export(tmp_path):
    # the export's states are the Stream's (_stateful), so the deep filter's past frames travel with them
    from cspec.infer import OnnxModel, export_onnx

    model = small("gtcrn-df")
    runner = OnnxModel(export_onnx(model, tmp_path / "df.onnx", mode="frames"))
    x = torch.randn(9000, generator=torch.Generator().manual_seed(4)) * 0.1
    with torch.no_grad():
        ref = model(x[None])["wave"][0]
    stream = Stream(runner)
    y = torch.cat([stream.process(x[i: i + 1000]) for i in range(0, 9000, 1000)] + [stream.flush()])
    assert float((y - ref).abs().max()) <= 1e-4
