"""DCUNet-10/16/20 and Large-DCUNet-20 (Choi et al. 2019): shared checks, layer tables, mask bounds."""

import hashlib

import pytest
import torch

from cspec.models import build
from cspec.models.dcunet import DCUNet
from cspec.nn.norm import ComplexBatchNorm

NAMES = ["dcunet-10", "dcunet-16", "dcunet-20", "large-dcunet-20"]

# the same layer tables (kernels, strides) with few channels, for the fast checks
SMALL = {
    "dcunet-10": dict(channels=(4, 8, 8, 8, 8)),
    "dcunet-16": dict(channels=(4, 4, 8, 8, 8, 8, 8, 8)),
    "dcunet-20": dict(channels=(4, 4, 8, 8, 8, 8, 8, 8, 8, 12)),
    "large-dcunet-20": dict(channels=(6, 6, 12, 12, 12, 12, 12, 12, 12, 16), decoder_channels=(12,) * 9),
}

# encoder tables of the paper's Appendix A as (channels, kernels (freq, time), strides (freq, time))
K20 = [(7, 1), (1, 7), (7, 5), (7, 5), (5, 3), (5, 3), (5, 3), (5, 3), (5, 3), (5, 3)]
S20 = [(1, 1), (1, 1), (2, 2), (2, 1), (2, 2), (2, 1), (2, 2), (2, 1), (2, 2), (2, 1)]
TABLES = {
    "dcunet-10": ([32, 64, 64, 64, 64], [(7, 5), (7, 5), (5, 3), (5, 3), (5, 3)],
                  [(2, 2), (2, 2), (2, 2), (2, 2), (2, 1)], None),
    "dcunet-16": ([32, 32, 64, 64, 64, 64, 64, 64], [(7, 5)] * 3 + [(5, 3)] * 5,
                  [(2, 2), (2, 1), (2, 2), (2, 1), (2, 2), (2, 1), (2, 2), (2, 1)], None),
    "dcunet-20": ([32, 32, 64, 64, 64, 64, 64, 64, 64, 90], K20, S20, None),
    "large-dcunet-20": ([45, 45, 90, 90, 90, 90, 90, 90, 90, 128], K20, S20, [90] * 9),
}


def _count_by_hand(channels, kernels, dec_channels):
    """Complex conv: 2 (real, imag) kernels + 2 biases; whitening complex BN: 3 gamma + 2 beta per channel."""
    conv = lambda cin, cout, k: 2 * cin * cout * k[0] * k[1] + 2 * cout  # noqa: E731
    n, total, cin = len(channels), 0, 1
    for c, k in zip(channels, kernels):
        total += conv(cin, c, k) + 5 * c
        cin = c
    dec_out = dec_channels or [channels[n - 2 - i] for i in range(n - 1)]
    prev = channels[-1]
    for i in range(n):
        e = n - 1 - i
        cin = prev if i == 0 else prev + channels[e]  # decoder output concatenated with the mirrored encoder's
        cout = dec_out[i] if i < n - 1 else 1
        total += conv(cin, cout, kernels[e]) + (5 * cout if i < n - 1 else 0)
        prev = cout
    return total


COUNTS = {"dcunet-10": 1_423_426, "dcunet-16": 2_377_986, "dcunet-20": 3_531_192, "large-dcunet-20": 7_667_278}


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_matches_the_layer_table(name):
    model = build(name)
    assert isinstance(model, DCUNet) and not model.causal and model.paper_params is None
    assert model.n_parameters() == _count_by_hand(*[TABLES[name][i] for i in (0, 1, 3)]) == COUNTS[name]


# asteroid 0.7.0's DCUNet (PyPI; an independent transcription of Appendix A), recorded with
# `pip install --no-deps asteroid asteroid-filterbanks huggingface_hub` and, for each architecture A,
# `m = asteroid.models.DCUNet(A)`: (all parameters, those of the 4-D conv / transposed-conv kernels, and the first 16
# hex digits of the SHA-256 of `repr([tuple(p.shape) for n, p in m.named_parameters() if "re_module" in n and
# p.dim() == 4])`: the real kernels' shapes in layer order).
# Its kernels (real and imaginary) are exactly cspec's; the rest differs on purpose: asteroid normalises the real
# and imaginary parts apart (2 + 2 per channel) and drops the biases of convolutions followed by a norm, cspec uses
# the paper's complex batch norm (Sec. 3.1, Trabelsi et al.: 3 + 2 per channel) and keeps every bias.
ASTEROID = {"dcunet-10": (1_421_890, 1_419_840, "2ecad1ef9db9eea6"),
            "dcunet-16": (2_375_490, 2_372_160, "e65d10926de18725"),
            "dcunet-20": (3_527_850, 3_523_392, "e1ec676299ca446c"),
            "large-dcunet-20": (7_662_304, 7_655_670, "3f1d9abe596b5319")}


@pytest.mark.parametrize("name", NAMES)
def test_kernels_match_asteroid(name):
    model = build(name)
    kernels = sum(p.numel() for p in model.parameters() if p.dim() == 4)
    total, asteroid_kernels, shapes = ASTEROID[name]
    assert kernels == asteroid_kernels
    ours = [tuple(p.shape) for n, p in model.named_parameters() if n.endswith("weight_real")]
    assert hashlib.sha256(repr(ours).encode()).hexdigest()[:16] == shapes
    norm_channels = sum(m.bias.shape[-1] for m in model.modules() if isinstance(m, ComplexBatchNorm))
    conv_biases = sum(p.numel() for n, p in model.named_parameters() if n.split(".")[-1].startswith("bias_"))
    # asteroid: kernels + 4 per normalised channel + the last layer's complex bias (2)
    assert total == kernels + 4 * norm_channels + 2
    assert model.n_parameters() == kernels + 5 * norm_channels + conv_biases


@pytest.mark.parametrize("name", ["dcunet-10", "dcunet-16"])
def test_forward_backward_paper_config(model_checks, name):
    model_checks.forward_backward(build(name))


@pytest.mark.parametrize("name", ["dcunet-20", "large-dcunet-20"])
def test_forward_backward_reduced(model_checks, name):
    out = model_checks.forward_backward(build(name, **SMALL[name]))
    assert out["spec"].shape == out["mask"].shape and out["spec"].is_complex()


@pytest.mark.parametrize("name", NAMES)
def test_overfit(model_checks, name):
    torch.manual_seed(0)
    model_checks.overfit(build(name, **SMALL[name]), steps=40)


@pytest.mark.parametrize("kind", ["BDT", "BDSS", "UBD"])
def test_mask_bounds_and_odd_lengths(kind):
    torch.manual_seed(1)
    model = build("dcunet-10", mask=kind, **SMALL["dcunet-10"]).eval()
    wave = 3.0 * torch.randn(2, 4001)  # an odd length, loud enough to drive the raw mask far from 0
    with torch.no_grad():
        out = model(wave)
    m = out["mask"]
    assert out["wave"].shape == wave.shape and m.shape == (2, 513, 1 + 4001 // 256)
    if kind == "BDT":  # |M| = tanh(|O|) < 1, up to float32 rounding once tanh saturates
        assert m.abs().max() <= 1.0 + 1e-6
    elif kind == "BDSS":  # each part a sigmoid: the first quadrant of the unit square
        assert m.real.min() >= 0 and m.real.max() <= 1 and m.imag.min() >= 0 and m.imag.max() <= 1
    assert torch.isfinite(out["wave"]).all()


def test_config_round_trip():
    model = build("large-dcunet-20", **SMALL["large-dcunet-20"])
    again = build("large-dcunet-20", **model.config)
    assert again.config == model.config and again.n_parameters() == model.n_parameters()
