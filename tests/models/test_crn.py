"""CRN (Tan & Wang 2018): contract checks, the paper's parameter count, and the look-ahead found by hand."""

import torch

from cspec.models import build
from cspec.models.blocks.crn_common import causal_istft, causal_stft
from cspec.models.crn import CRN_STFT, encoder_sizes

SMALL = dict(channels=(4, 4, 4, 4, 4))


def scan_lookahead(model, n=1600, start=1000):
    """Perturb one input sample at each of ``hop`` positions; the farthest back any output moves is the
    look-ahead (float64, so unaffected outputs are equal to rounding)."""
    model = model.double().eval()
    hop = model.stft_config.hop_length
    base = 0.1 * torch.randn(1, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pos = torch.arange(start, start + hop)
    batch = base.repeat(hop, 1)
    batch[torch.arange(hop), pos] += 1.0
    with torch.no_grad():
        changed = (model(batch)["wave"] - model(base)["wave"]).abs() > 1e-12
    assert changed.any(-1).all()
    first = changed.double().argmax(-1)
    return int((pos - first).max())


def test_crn_paper_parameter_count(model_checks):
    model = build("crn")
    assert model.causal and model.stft_config.n_freqs == 161 and not model.stft_config.center
    model_checks.param_count_close(model, 17.58)


def test_crn_forward_backward(model_checks):
    out = model_checks.forward_backward(build("crn"))
    assert out["spec"].shape[-2] == 161 and (out["mag"] >= 0).all()


def test_crn_overfit(model_checks):
    torch.manual_seed(0)
    model_checks.overfit(build("crn", **SMALL), steps=150, lr=2e-2)


def test_crn_causal(model_checks):
    torch.manual_seed(0)
    model_checks.causal(build("crn", **SMALL))


def test_crn_lookahead_exact_and_encoder_sizes():
    assert encoder_sizes(161, 5) == [161, 80, 39, 19, 9, 4]  # Table 1 of the paper
    x = torch.randn(2, 1601)  # causal framing (left zeros, right completion) inverts exactly
    torch.testing.assert_close(causal_istft(causal_stft(x, CRN_STFT), CRN_STFT, 1601), x, atol=1e-5, rtol=0)
    torch.manual_seed(0)
    model = build("crn", **SMALL)
    assert model.lookahead() == 319  # Hamming: first and last window samples non-zero -> win - 1
    assert scan_lookahead(model) == model.lookahead()
