"""Function-preserving widening of GTCRN and uPIT-BLSTM (cspec.models.blocks.grow, after Net2Net): invariants, no training."""

import pytest
import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.models import build
from cspec.models.blocks.grow import embed_


def _trained_like(seed: int = 0):
    """A GTCRN with every weight and BatchNorm statistic random, so no zero hides a wrong copy."""
    torch.manual_seed(seed)
    small = build("gtcrn")
    with torch.no_grad():
        for p in small.parameters():
            p.normal_(0, 0.3)
        for m in small.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return small


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_grown_gtcrn_computes_the_same_function(mode):
    small = _trained_like()
    big = build("gtcrn", hidden=40, dprnn_scale=3, n_dprnn=3, df_order=3).grow_from(small)
    assert big.n_parameters() > 1.5 * small.n_parameters()
    x = torch.randn(2, 12000) * 0.1
    getattr(small, mode)()
    getattr(big, mode)()
    with torch.no_grad():
        a, b = small(x), big(x)
    assert torch.allclose(a["mask"], b["mask"], atol=1e-5)
    assert torch.allclose(a["wave"], b["wave"], atol=1e-5)


def test_new_units_start_unread_but_get_gradient():
    small = _trained_like(1)
    big = build("gtcrn", hidden=32, dprnn_scale=2, n_dprnn=3).grow_from(small)
    assert torch.equal(big.dprnn[2].intra_ln.weight, torch.zeros(33, 16))  # the new block adds nothing at first
    fc = big.dprnn[0].inter_fc.weight  # (16, 32): two groups of 16 units, the first 8 of each were small's
    assert torch.equal(fc[:, 8:16], torch.zeros(16, 8)) and torch.equal(fc[:, 24:], torch.zeros(16, 8))
    assert torch.equal(fc[:, :8], small.dprnn[0].inter_fc.weight[:, :8])
    assert torch.equal(fc[:, 16:24], small.dprnn[0].inter_fc.weight[:, 8:])
    intra = big.dprnn[1].intra_fc.weight  # groups x directions: 4 blocks of 8, small's 4 leading in each
    for b in range(4):
        assert torch.equal(intra[:, 8 * b: 8 * b + 4], small.dprnn[1].intra_fc.weight[:, 4 * b: 4 * b + 4])
        assert torch.equal(intra[:, 8 * b + 4: 8 * b + 8], torch.zeros(16, 4))
    gru, gru_s = big.dprnn[0].inter.rnns[1], small.dprnn[0].inter.rnns[1]  # gates r, z, n stacked: 3 x 16 rows
    for g in range(3):
        assert torch.equal(gru.weight_hh_l0[16 * g: 16 * g + 8, :8], gru_s.weight_hh_l0[8 * g: 8 * g + 8])
        assert torch.equal(gru.bias_ih_l0[16 * g: 16 * g + 8], gru_s.bias_ih_l0[8 * g: 8 * g + 8])
    assert torch.equal(gru.weight_hh_l0[:, 8:], torch.zeros(48, 8))
    p2 = big.encoder[2].point2[0].weight  # GTConv: hidden 16 -> 32, new input channels unread
    assert torch.equal(p2[:, 16:], torch.zeros(8, 16, 1, 1))
    big.train()
    big(torch.randn(2, 8000) * 0.1)["wave"].square().mean().backward()
    assert big.dprnn[0].inter_fc.weight.grad[:, 8:16].abs().sum() > 0  # the zero weights move at the first step
    assert p2.grad[:, 16:].abs().sum() > 0
    assert big.dprnn[2].inter_ln.weight.grad.abs().sum() > 0


def test_embed_by_hand():
    big = torch.full((6, 4), 9.0)
    small = torch.arange(8.0).reshape(4, 2)
    embed_(big, small, blocks=(2, 1), zero_new_inputs=True)
    expected = torch.tensor([[0, 1, 0, 0], [2, 3, 0, 0], [9, 9, 0, 0],  # block 1 rows: 0, 1; row 2 new
                             [4, 5, 0, 0], [6, 7, 0, 0], [9, 9, 0, 0]], dtype=torch.float32)
    assert torch.equal(big, expected)


def test_grow_refuses_what_it_cannot_keep():
    small = build("gtcrn", hidden=32)
    with pytest.raises(ConfigError, match="smaller"):
        build("gtcrn", hidden=16).grow_from(small)
    with pytest.raises(ConfigError, match="channels"):
        build("gtcrn", channels=24, hidden=32).grow_from(small)
    with pytest.raises(ConfigError, match="gtcrn grows only from a gtcrn, got crn"):
        build("gtcrn").grow_from(build("crn"))


def test_recipe_init_grows_a_smaller_gtcrn(tmp_path):
    from cspec.models.io import save
    from cspec.train.engine import _initialise

    small = _trained_like(2).eval()
    save(small, tmp_path / "small")
    big = build("gtcrn", hidden=24, dprnn_scale=2).eval()
    _initialise(big, str(tmp_path / "small"))
    x = torch.randn(1, 8000) * 0.1
    with torch.no_grad():
        assert torch.allclose(small(x)["wave"], big(x)["wave"], atol=1e-5)
    with pytest.raises(ConfigError, match="model.init.*smaller"):
        _initialise(build("gtcrn", hidden=8), str(tmp_path / "small"))


def test_deep_filter_by_hand():
    """S(t, f) = sum_k M_k(t, f) Y(t - k, f) in the 65 lowest bins, M_0 Y above (deep filtering, worked by hand)."""
    torch.manual_seed(3)
    model = build("gtcrn", df_order=3)
    re, im = torch.randn(2, 257, 7), torch.randn(2, 257, 7)
    taps = torch.randn(2, 6, 7, 257)
    sr, si = model._apply_taps(re, im, taps)
    y = torch.complex(re, im).numpy()
    m = torch.complex(taps[:, 0::2], taps[:, 1::2]).numpy()  # (B, 3, T, F)
    expected = y * m[:, 0].transpose(0, 2, 1)
    for b in range(2):
        for t in range(7):
            for f in range(65):
                expected[b, f, t] = sum(m[b, k, t, f] * y[b, f, t - k] for k in range(3) if t - k >= 0)
    got = torch.complex(sr, si).numpy()
    assert abs(got - expected).max() < 1e-5


def _trained_like_upit(hidden: int, seed: int = 0):
    torch.manual_seed(seed)
    model = build("upit", hidden=hidden, layers=3, n_sources=2)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_grown_upit_separates_the_same(mode):
    small = _trained_like_upit(6)
    big = build("upit", hidden=10, layers=3, n_sources=2).grow_from(small)
    x = torch.randn(2, 8000) * 0.1
    getattr(small, mode)()
    getattr(big, mode)()
    with torch.no_grad():
        assert torch.allclose(small(x)["wave"], big(x)["wave"], atol=1e-6)


def test_grown_lstm_layout_by_index():
    """torch's LSTM stacks the gates i, f, g, o along the rows; a deeper bidirectional layer reads [forward,
    backward] of the layer below; the output layer reads both directions of the last one."""
    small = _trained_like_upit(4, seed=2)
    big = build("upit", hidden=6, layers=3, n_sources=2).grow_from(small)
    rs, rb = small.rnn, big.rnn
    for g in range(4):  # each gate's first 4 rows are small's
        assert torch.equal(rb.weight_hh_l1[6 * g: 6 * g + 4, :4], rs.weight_hh_l1[4 * g: 4 * g + 4])
        assert torch.equal(rb.bias_ih_l2_reverse[6 * g: 6 * g + 4], rs.bias_ih_l2_reverse[4 * g: 4 * g + 4])
    assert torch.equal(rb.weight_hh_l1[:, 4:], torch.zeros(24, 2))  # nothing reads a new unit
    w, ws = rb.weight_ih_l2, rs.weight_ih_l2  # inputs: 6 forward + 6 backward units of layer 1
    assert torch.equal(w[:4, :4], ws[:4, :4]) and torch.equal(w[:4, 6:10], ws[:4, 4:8])
    assert torch.equal(w[:, 4:6], torch.zeros(24, 2)) and torch.equal(w[:, 10:], torch.zeros(24, 2))
    assert torch.equal(rb.weight_ih_l0[:4], rs.weight_ih_l0[:4])  # layer 0 reads the 257 bins, unchanged in size
    out, outs = big.out.weight, small.out.weight
    assert torch.equal(out[:, :4], outs[:, :4]) and torch.equal(out[:, 6:10], outs[:, 4:8])
    assert torch.equal(out[:, 4:6], torch.zeros(514, 2)) and torch.equal(out[:, 10:], torch.zeros(514, 2))
    big.train()
    big(torch.randn(1, 4000) * 0.1)["wave"].square().sum().backward()
    assert big.out.weight.grad[:, 4:6].abs().sum() > 0  # the new units' outgoing weights learn from step one


def test_upit_grows_only_in_hidden():
    small = _trained_like_upit(4)
    with pytest.raises(ConfigError, match="grows only in hidden.*'layers'"):
        build("upit", hidden=6, layers=2, n_sources=2).grow_from(small)
    with pytest.raises(ConfigError, match="smaller"):
        build("upit", hidden=3, layers=3, n_sources=2).grow_from(small)
    with pytest.raises(ConfigError, match="upit grows only from a upit"):
        build("upit", hidden=6, layers=3, n_sources=2).grow_from(build("gtcrn"))
