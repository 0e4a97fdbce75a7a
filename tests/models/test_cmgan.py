"""CMGAN generator (Cao et al. 2022): contract checks, parameter count, relative-position attention and sub-pixel
upsampling against hand-written references, the mask + complex-refinement sum, the metric discriminator."""

import torch

from cspec.losses import MetricDiscriminator
from cspec.models import build
from cspec.models.blocks.conformer import RelPosSelfAttention
from cspec.models.cmgan import SubPixelConv2d
from cspec.spectral.features import compress

SMALL = dict(channels=8, n_blocks=1, heads=2, kernel_size=7)


def test_paper_parameter_count(model_checks):
    # paper: 1.83 M for the generator; ours 1.835 M (the 1 s forward/backward at this width takes over a minute)
    model_checks.param_count_close(build("cmgan"), 1.83)


def test_forward_backward_reduced(model_checks):
    out = model_checks.forward_backward(build("cmgan", **SMALL))
    for key in ("spec", "mag", "phase", "mask"):
        assert out[key].shape == (2, 201, 161)


def test_overfit(model_checks):
    model_checks.overfit(build("cmgan", **SMALL, dropout=0.0), steps=100, lr=5e-3, seconds=0.25)


@torch.no_grad()
def test_relpos_attention_equals_shaw_reference():
    # Shaw et al. 2018 written out: logits_ij = (q_i.k_j + q_i.E[clip(i - j, -P, P) + P]) / sqrt(d)
    torch.manual_seed(0)
    att = RelPosSelfAttention(12, heads=3, max_pos=3).eval()
    x = torch.randn(2, 9, 12)  # length 9 > P = 3: the clipping is exercised
    q = att.to_q(x).view(2, 9, 3, 4)
    k, v = att.to_kv(x).view(2, 9, 2, 3, 4).unbind(2)
    out = torch.zeros(2, 9, 3, 4)
    for i in range(9):
        e = att.rel_pos.weight[[min(max(i - j, -3), 3) + 3 for j in range(9)]]  # (9, 4)
        logits = (torch.einsum("bhd,bjhd->bhj", q[:, i], k) + torch.einsum("bhd,jd->bhj", q[:, i], e)) / 2.0
        out[:, i] = torch.einsum("bhj,bjhd->bhd", logits.softmax(-1), v)
    ref = att.to_out(out.reshape(2, 9, 12))
    torch.testing.assert_close(att(x), ref, rtol=1e-5, atol=1e-6)


@torch.no_grad()
def test_sub_pixel_interleaves_the_groups():
    torch.manual_seed(0)
    sp = SubPixelConv2d(3, 2, (1, 3), r=2)
    x = torch.randn(1, 3, 4, 5)
    y = sp(x)
    assert y.shape == (1, 2, 4, 10)
    full = sp.conv(torch.nn.functional.pad(x, (1, 1)))  # (1, 4, 4, 5): group g holds channels [2g, 2g + 2)
    for g in range(2):
        torch.testing.assert_close(y[..., g::2], full[:, 2 * g:2 * g + 2])


@torch.no_grad()
def test_zero_complex_branch_leaves_the_masked_noisy_spectrum(model_checks):
    # X_c = M |Y_c| e^(j angle Y) + complex branch: with the complex decoder's last conv at zero only the mask acts
    torch.manual_seed(0)
    model = build("cmgan", **SMALL, normalize=False).eval()
    last = model.complex_decoder.net[-1]
    last.weight.zero_()
    last.bias.zero_()
    mix, _ = model_checks.batch(model, seconds=0.5)
    out = model(mix)
    noisy_c = compress(torch.stft(mix, 400, 100, 400, torch.hamming_window(400), return_complex=True), 0.3)
    torch.testing.assert_close(compress(out["spec"], 0.3), out["mask"] * noisy_c, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out["mag"], (out["mask"] * noisy_c).abs(), rtol=1e-4, atol=1e-5)


@torch.no_grad()
def test_discriminator_companion_scores_the_compressed_magnitudes(model_checks):
    model = build("cmgan", **SMALL).eval()
    disc = model.discriminator()
    assert isinstance(disc, MetricDiscriminator) and disc is not model.discriminator()
    mix, target = model_checks.batch(model, seconds=0.5)
    clean_c = compress(torch.stft(target, 400, 100, 400, torch.hamming_window(400), return_complex=True), 0.3)
    score = disc.eval()(clean_c.abs(), model(mix)["mag"])
    assert score.shape == (2,) and ((score >= 0) & (score <= 1)).all()
