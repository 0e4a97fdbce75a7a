"""Conv-TasNet (Luo & Mesgarani 2019): shared checks, cLN against its definition, exact look-ahead."""

import torch

from cspec.models import build
from cspec.models.blocks.separation import CumulativeLayerNorm, GlobalLayerNorm

SMALL = dict(n_filters=32, bn_chan=16, hid_chan=32, skip_chan=16, n_blocks=3, n_repeats=1)


def test_convtasnet_paper_config(model_checks):
    model = build("convtasnet")
    assert (model.sample_rate, model.n_sources, model.stft_config, model.causal) == (8000, 2, None, False)
    model_checks.param_count_close(model, 5.1)
    model_checks.forward_backward(model, seconds=0.05)  # the paper config on a short clip (1 s takes > 3 s)


def test_convtasnet_reduced(model_checks):
    model_checks.forward_backward(build("convtasnet", n_filters=128, hid_chan=128, n_blocks=4, n_repeats=1))
    model_checks.overfit(build("convtasnet", **SMALL), steps=100, lr=1e-2, seconds=0.25)


def test_convtasnet_causal(model_checks):
    model = build("convtasnet", causal=True, **SMALL)
    assert model.lookahead() == 15
    model_checks.causal(model)
    model_checks.overfit(build("convtasnet", causal=True, **SMALL), steps=100, lr=1e-2, seconds=0.25)


def test_lookahead_is_exact():
    """Input sample t = 399 is the last sample of the frame that starts at 384 (frames start at multiples of
    L/2 = 8): changing it moves output 384 = t - (L - 1) and nothing earlier, so L - 1 is tight."""
    torch.manual_seed(0)
    model = build("convtasnet", causal=True, **SMALL).eval()
    x = torch.randn(1, 800)
    t = 399
    y = x.clone()
    y[0, t] += 1.0
    with torch.no_grad():
        a, b = model(x)["wave"], model(y)["wave"]
    first_changed = int(((a - b).abs().amax(1) > 1e-7).nonzero()[0, -1])
    assert first_changed == t - model.lookahead()


def test_cumulative_layer_norm_matches_definition():
    """cLN (eqs. 15-16) against a loop over frames; gLN against one mean/variance per item."""
    torch.manual_seed(0)
    x = torch.randn(2, 5, 7, dtype=torch.float64)
    cln, gln = CumulativeLayerNorm(5).double(), GlobalLayerNorm(5).double()
    with torch.no_grad():
        cln.gamma.uniform_(0.5, 1.5), cln.beta.normal_()
    ref = torch.empty_like(x)
    for k in range(x.shape[-1]):
        past = x[..., : k + 1]
        mean = past.mean((1, 2), keepdim=True)
        var = past.var((1, 2), unbiased=False, keepdim=True)
        ref[..., k: k + 1] = (x[..., k: k + 1] - mean) / torch.sqrt(var + 1e-8)
    ref = cln.gamma.view(1, -1, 1) * ref + cln.beta.view(1, -1, 1)
    torch.testing.assert_close(cln(x), ref)
    g = gln(x)
    torch.testing.assert_close(g.mean((1, 2)), torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(g.var((1, 2), unbiased=False), torch.ones(2, dtype=torch.float64), rtol=1e-6, atol=1e-6)


def test_receptive_field_of_the_paper_tcn():
    """R=3 repeats of X=8 blocks, P=3: 1 + 3 * 2 * (1 + 2 + ... + 128) = 1531 frames (1.53 s at 8 kHz)."""
    assert build("convtasnet").separator.receptive_field() == 1 + 3 * 2 * 255
