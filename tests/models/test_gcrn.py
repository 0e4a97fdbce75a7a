"""GCRN (Tan & Wang 2020): contract checks, the paper's parameter count, and the grouped LSTM against a reference."""

import torch
from torch import nn

from cspec.models import build
from cspec.models.gcrn import GroupedLSTM

SMALL = dict(channels=(4, 4, 4, 4, 4))


def test_gcrn_paper_parameter_count(model_checks):
    model = build("gcrn")
    assert model.causal and model.lookahead() == 319
    model_checks.param_count_close(model, 9.77)


def test_gcrn_forward_backward(model_checks):
    out = model_checks.forward_backward(build("gcrn"))
    assert out["spec"].is_complex() and out["spec"].shape[-2] == 161


def test_gcrn_overfit(model_checks):
    torch.manual_seed(0)
    model_checks.overfit(build("gcrn", **SMALL), steps=150, lr=2e-2)


def test_gcrn_causal(model_checks):
    torch.manual_seed(0)
    model_checks.causal(build("gcrn", **SMALL))


def test_grouped_lstm_matches_hand_written_reference():
    torch.manual_seed(0)
    g = GroupedLSTM(width=8, groups=2, layers=2)
    x = torch.randn(3, 7, 8)
    with torch.no_grad():
        a0, a1 = (lstm(part)[0] for lstm, part in zip(g.layers[0], (x[..., :4], x[..., 4:])))
        mixed = torch.empty(3, 7, 8)
        mixed[..., 0::2], mixed[..., 1::2] = a0, a1  # rearrangement: both groups feed each next group
        mixed = nn.functional.layer_norm(mixed, (8,), g.norms[0].weight, g.norms[0].bias)
        b0, b1 = (lstm(part)[0] for lstm, part in zip(g.layers[1], (mixed[..., :4], mixed[..., 4:])))
        ref = nn.functional.layer_norm(torch.cat([b0, b1], -1), (8,), g.norms[1].weight, g.norms[1].bias)
        torch.testing.assert_close(g(x), ref)
    # the paper's grouped LSTM: 4 LSTMs of 512 units (2 layers x 2 groups) instead of 2 of 1024
    assert sum(p.numel() for p in GroupedLSTM(1024).parameters()) == 4 * 4 * (2 * 512 * 512 + 2 * 512) + 2 * 2048
