"""MP-SENet (Lu et al. 2023): contract checks, parameter count, mask bound, output consistency, dense block reach."""

import math

import pytest
import torch
from torch import nn

from cspec.models import build
from cspec.models.blocks.dense import DilatedDenseBlock
from cspec.spectral.features import compress_magnitude
from cspec.spectral.stft import istft, stft

SMALL = dict(channels=8, n_blocks=1, heads=2, kernel_size=7)


def test_paper_parameter_count(model_checks):
    # paper: 2.05 M; ours 2.049 M (the 1 s forward/backward at this width takes over a minute on the test CPU)
    model_checks.param_count_close(build("mpsenet"), 2.05)


def test_forward_backward_reduced(model_checks):
    out = model_checks.forward_backward(build("mpsenet", **SMALL))
    for key in ("spec", "mag", "phase", "mask"):
        assert out[key].shape == (2, 201, 161)
    assert out["spec"].is_complex()


def test_overfit(model_checks):
    model_checks.overfit(build("mpsenet", **SMALL, dropout=0.0), steps=100, lr=5e-3, seconds=0.25)


@torch.no_grad()
def test_mask_bound_and_outputs_consistent(model_checks):
    torch.manual_seed(0)
    model = build("mpsenet", **SMALL).eval()
    mix, _ = model_checks.batch(model, seconds=0.5)
    out = model(mix)
    # learnable sigmoid with beta = 2: 0 <= M <= 2, so the estimate is at most twice the noisy compressed magnitude
    assert out["mask"].min() >= 0 and out["mask"].max() <= 2.0
    noisy_c = compress_magnitude(stft(mix, "mpsenet").abs(), 0.3)
    assert (out["mag"] <= 2.0 * noisy_c * (1 + 1e-5) + 1e-6).all()
    assert out["phase"].abs().max() <= math.pi
    # "mag" is the compressed magnitude of "spec" and "phase" its angle: what the MP-SENet losses compare
    torch.testing.assert_close(compress_magnitude(out["spec"].abs(), 0.3), out["mag"], rtol=1e-4, atol=1e-5)
    big = out["mag"] > 1e-2
    d = torch.angle(out["spec"]) - out["phase"]
    assert (torch.remainder(d + math.pi, 2 * math.pi) - math.pi)[big].abs().max() < 1e-4
    torch.testing.assert_close(out["wave"], istft(out["spec"], "mpsenet", length=mix.shape[-1]))


@torch.no_grad()
def test_rms_normalisation_makes_the_model_scale_equivariant(model_checks):
    torch.manual_seed(0)
    model = build("mpsenet", **SMALL).eval()
    mix, _ = model_checks.batch(model, seconds=0.5)
    # a power of two scales exactly in floating point: the network sees bit-identical inputs (any other factor
    # may flip the wrapped phase of real-valued DC/Nyquist bins between +pi and -pi), so only the rescaling of
    # the outputs is under test
    a, b = model(mix), model(4.0 * mix)
    torch.testing.assert_close(b["wave"], 4.0 * a["wave"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b["spec"], 4.0 * a["spec"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b["mag"], 4.0 ** 0.3 * a["mag"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b["phase"], a["phase"])


@pytest.mark.parametrize("kernel, causal, past, future", [((3, 3), False, 15, 15), ((2, 3), True, 15, 0)])
@torch.no_grad()
def test_dense_block_reach_worked_by_hand(kernel, causal, past, future):
    # layer i is dilated by 2**i: a centred 3-tap kernel reaches 2**i frames each way (1+2+4+8 = 15), the causal
    # 2-tap kernel of CMGAN 2**i frames into the past only; instance norms (global statistics) are removed here
    torch.manual_seed(0)
    block = DilatedDenseBlock(4, 4, kernel, causal)
    for layer in block.layers:
        layer[1] = nn.Identity()
    assert block.receptive_field() == (past, future)
    x = torch.randn(1, 4, 60, 5)
    t0 = 30
    y = x.clone()
    y[:, :, t0] += 1.0
    changed = (block(x) - block(y)).abs().amax(dim=(0, 1, 3)) > 1e-7
    frames = changed.nonzero().flatten()
    assert frames.min().item() == t0 - future and frames.max().item() == t0 + past
