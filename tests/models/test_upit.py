"""uPIT-BLSTM (Kolbæk et al. 2017): shared checks, parameter count by hand, masks against cspec.spectral.masks."""

import pytest
import torch

from cspec.errors import ConfigError
from cspec.models import build
from cspec.spectral.masks import apply_mask, bounded_mask
from cspec.spectral.stft import stft

SMALL = dict(hidden=16, layers=2)


def test_paper_config_parameter_count_by_hand():
    """3 BLSTM layers of 896 units on 257 bins: per direction 4 gates x 896 x (input + 896) weights and two bias
    vectors of 4 x 896; layer norm 2 x 257; the output layer 1792 -> 2 sources x 257 bins."""
    model = build("upit")
    assert (model.n_sources, model.stft_config.n_fft, model.stft_config.hop_length) == (2, 512, 128)
    h, f = 896, 257
    lstm = 2 * (4 * h * (f + h) + 8 * h) + 2 * 2 * (4 * h * (2 * h + h) + 8 * h)
    assert model.n_parameters() == lstm + 2 * f + 2 * h * 2 * f + 2 * f


@pytest.mark.parametrize("mask", ["magnitude", "complex"])
def test_upit_shared_checks(model_checks, mask):
    model_checks.forward_backward(build("upit", mask=mask, **SMALL))
    model_checks.overfit(build("upit", mask=mask, **SMALL), steps=150, lr=1e-2, seconds=0.5)


def _mixture(n=16000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, n, generator=g) * 0.1


@torch.no_grad()
def test_magnitude_masks_keep_the_mixture_phase_and_stay_below_it():
    model = build("upit", **SMALL).eval()
    x = _mixture()
    out = model(x)
    mix = stft(x * model.input_scale(x), model.stft_config).unsqueeze(1)
    ratio = out["spec"] / mix
    # a real mask in (0, 1): the estimate is the mixture times a real number between 0 and 1, per bin
    ok = mix.abs() > 1e-3
    assert ratio.imag[ok.expand_as(ratio)].abs().max() < 1e-4
    assert 0 <= ratio.real[ok.expand_as(ratio)].min() and ratio.real[ok.expand_as(ratio)].max() <= 1 + 1e-5


@torch.no_grad()
def test_complex_masks_are_dcunet_bdt():
    """The network's raw output, turned into a mask by cspec.spectral.masks.bounded_mask('BDT') and applied to
    the mixture, gives the model's spectra."""
    model = build("upit", mask="complex", **SMALL).eval()
    x = _mixture()
    out = model(x)
    mix = stft(x * model.input_scale(x), model.stft_config)
    feat = torch.log(mix.abs().square() + 1e-6).transpose(1, 2)
    raw = model.out(model.rnn(model.norm(feat))[0])  # (B, T, C * 2 * F)
    b, t, _ = raw.shape
    raw = raw.view(b, t, 2, 2, -1).permute(0, 2, 3, 4, 1)
    masks = bounded_mask(torch.complex(raw[:, :, 0], raw[:, :, 1]), "BDT")
    expected = apply_mask(mix.unsqueeze(1), masks)
    torch.testing.assert_close(out["spec"], expected, atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_output_scales_with_the_input():
    """Level normalisation in, undone out: separate(a x) = a separate(x)."""
    model = build("upit", **SMALL).eval()
    x = _mixture()
    a = model(x)["wave"]
    b = model(x * 0.01)["wave"]
    torch.testing.assert_close(b, a * 0.01, atol=1e-6, rtol=1e-3)


def test_refusals():
    with pytest.raises(ConfigError, match="mask must be one of"):
        build("upit", mask="psm")
    with pytest.raises(ConfigError, match="hidden >= 1"):
        build("upit", hidden=0)
