"""NCSN++ backbone of SGMSE+ (cspec.models.ncsnpp) and the backbone registry (cspec.models.backbones)."""

import json

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from cspec.errors import ConfigError
from cspec.models.backbones import build_backbone, get_backbone, list_backbones
from cspec.models.blocks.ncsnpp_layers import FIRResample, fir_kernel_2d
from cspec.models.ncsnpp import COMPACT, PAPER_PARAMS, NCSNpp

TINY = dict(nf=8, ch_mult=[1, 2, 2], num_res_blocks=1, attn_levels=[1])  # multiple 4, attention at level 1


def _tiny(**kw):
    torch.manual_seed(0)
    return build_backbone("ncsnpp", **{**TINY, "init_scale": 1.0, **kw})


def _hand_count(c_in=4, c_out=2, nf=128, ch_mult=(1, 1, 2, 2, 2, 2, 2), nrb=2, attn_levels=(4,)):
    """Parameters of NCSN++ counted layer by layer from the architecture (Song et al. 2021, App. H.1, as the
    SGMSE+ code builds it), without touching the module: conv k x k = ci co k^2 + co, GroupNorm 2C,
    dense i o + o; BigGAN block GN, conv3, dense(temb), GN, conv3, 1x1 shortcut if channels/size change;
    attention GN + four 1x1; input-skip 1x1 combiner per downsampling; output pyramid GN + conv3 per level."""
    conv = lambda ci, co, k: ci * co * k * k + co  # noqa: E731
    lin = lambda i, o: i * o + o  # noqa: E731
    temb = 4 * nf

    def res(ci, co=None, resample=False):
        co = co or ci
        return 2 * ci + conv(ci, co, 3) + lin(temb, co) + 2 * co + conv(co, co, 3) + (
            conv(ci, co, 1) if (ci != co or resample) else 0)

    attn = lambda c: 2 * c + 4 * conv(c, c, 1)  # noqa: E731
    n = lin(2 * nf, temb) + lin(temb, temb) + conv(c_in, nf, 3)
    hs, c = [nf], nf
    for lvl, m in enumerate(ch_mult):
        for _ in range(nrb):
            n += res(c, nf * m) + (attn(nf * m) if lvl in attn_levels else 0)
            c = nf * m
            hs.append(c)
        if lvl != len(ch_mult) - 1:
            n += res(c, resample=True) + conv(c_in, c, 1)
            hs.append(c)
    n += 2 * res(c) + attn(c)
    for lvl in reversed(range(len(ch_mult))):
        for _ in range(nrb + 1):
            n += res(c + hs.pop(), nf * ch_mult[lvl])
            c = nf * ch_mult[lvl]
        n += (attn(c) if lvl in attn_levels else 0) + 2 * c + conv(c, c_in, 3)
        n += res(c, resample=True) if lvl else 0
    return n + conv(c_in, c_out, 1)


def test_paper_parameter_count():
    """The default configuration is SGMSE+'s NCSN++ (Richter et al. 2023, TASLP, Sec. IV-B: Song et al.'s
    256x256 CelebA-HQ continuous-VE configuration). The authors give its size as "65M parameters" (J. Richter,
    sp-uhh/sgmse issue #11, 2022-10-04; the paper states none): within 1 %. Exactly 65,590,694 by the layer-by-
    layer hand count of that architecture (the fixed Fourier frequencies, 128 of them, are a buffer here)."""
    with torch.device("meta"):
        net = build_backbone("ncsnpp")
    n = net.n_parameters()
    assert n == _hand_count() == PAPER_PARAMS == 65_590_694
    assert abs(n - 65e6) <= 0.01 * 65e6
    assert net.multiple == 64
    cfg = net.config
    assert cfg["nf"] == 128 and cfg["ch_mult"] == [1, 1, 2, 2, 2, 2, 2] and cfg["num_res_blocks"] == 2
    assert cfg["fir"] and cfg["fir_kernel"] == [1, 3, 3, 1] and cfg["skip_rescale"] and cfg["attn_levels"] == [4]
    assert cfg["input_skip"] and cfg["output_skip"] and cfg["fourier_scale"] == 16.0 and cfg["log_time"]
    assert sum(isinstance(m, torch.nn.GroupNorm) for m in net.modules()) > 100


@pytest.mark.parametrize("kw", [TINY, COMPACT, dict(nf=16, ch_mult=[1, 2], num_res_blocks=2, attn_levels=[0, 1])])
def test_hand_count_matches_other_configs(kw):
    with torch.device("meta"):
        net = build_backbone("ncsnpp", **kw)
    assert net.n_parameters() == _hand_count(nf=kw["nf"], ch_mult=kw["ch_mult"], nrb=kw["num_res_blocks"],
                                             attn_levels=kw["attn_levels"])


@pytest.mark.parametrize("f,t", [(4, 4), (8, 12), (32, 4), (12, 20)])
def test_shapes(f, t):
    net = _tiny()
    assert net.multiple == 4
    y = net(torch.randn(2, 4, f, t), torch.tensor([0.5, 1.0]))
    assert y.shape == (2, 2, f, t) and torch.isfinite(y).all()
    other = _tiny(in_channels=6, out_channels=3, output_skip=False, input_skip=False, fir=False)
    assert other(torch.randn(1, 6, f, t), 0.3).shape == (1, 3, f, t)


@pytest.mark.parametrize("x,t", [
    (torch.randn(1, 4, 6, 8), [0.5]), (torch.randn(1, 4, 8, 10), [0.5]), (torch.randn(1, 3, 8, 8), [0.5]),
    (torch.randn(1, 4, 8, 8, dtype=torch.complex64), [0.5]), (torch.randn(4, 8, 8), [0.5]),
    (torch.randn(2, 4, 8, 8), [0.5, 0.5, 0.5]), (torch.randn(1, 4, 8, 8), [0.0]),
])
def test_refused_inputs(x, t):
    with pytest.raises(ConfigError) as err:
        _tiny()(x, torch.tensor(t))
    assert "\n" not in str(err.value)


def test_registry_and_config_roundtrip():
    assert {"ncsnpp", "ncsnpp_compact"} <= set(list_backbones())
    assert get_backbone("NCSNpp") is NCSNpp
    with pytest.raises(ConfigError, match="known: .*ncsnpp"):
        build_backbone("ncsnpp++")
    with pytest.raises(ConfigError):
        build_backbone("ncsnpp", attn_levels=[3], ch_mult=[1, 2])
    net = build_backbone("ncsnpp_compact", nf=8)
    cfg = json.loads(json.dumps(net.config))  # plain values
    assert cfg["nf"] == 8 and cfg["ch_mult"] == COMPACT["ch_mult"]
    again = build_backbone("ncsnpp", **cfg)
    assert again.config == net.config
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}


def test_time_conditioning_matters():
    net = _tiny().eval()
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        a, b, a2 = net(x, torch.tensor([0.2])), net(x, torch.tensor([0.7])), net(x, torch.tensor([0.2]))
    assert torch.equal(a, a2)
    assert (a - b).abs().max() > 1e-3 * a.abs().max()
    lin = _tiny(log_time=False).eval()  # t = 0 allowed when t itself is embedded
    with torch.no_grad():
        assert (lin(x, torch.tensor([0.0])) - lin(x, torch.tensor([1.0]))).abs().max() > 0


def test_gradient_reaches_every_parameter():
    net = _tiny(dropout=0.1)
    net(torch.randn(2, 4, 8, 8), torch.tensor([0.1, 0.9])).pow(2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert not any(p.requires_grad for p in net.buffers())  # the Fourier frequencies stay fixed


def test_batch_items_independent():
    """GroupNorm and attention work per item: in eval mode item 0's output ignores item 1 (input and time)."""
    net = _tiny().eval()
    x = torch.randn(2, 4, 8, 12)
    t = torch.tensor([0.3, 0.6])
    with torch.no_grad():
        y = net(x, t)
        x2, t2 = x.clone(), t.clone()
        x2[1] = 10 * torch.randn_like(x2[1])
        t2[1] = 0.9
        y2 = net(x2, t2)
        single = net(x[:1], t[:1])
    torch.testing.assert_close(y2[0], y[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(single[0], y[0], rtol=1e-5, atol=1e-6)
    assert (y2[1] - y[1]).abs().max() > 1e-3


def _upfirdn(x, k2, up, down, pad0, pad1):
    """StyleGAN2's upfirdn2d by its definition on one 2-D image: zero insertion, padding, full 2-D convolution
    (scipy), decimation."""
    u = np.zeros((x.shape[0] * up, x.shape[1] * up))
    u[::up, ::up] = x
    u = np.pad(u, ((pad0, pad1), (pad0, pad1)))
    return convolve2d(u, k2, mode="valid")[::down, ::down]


def test_fir_kernel_and_resampling():
    """The FIR filter is [1, 3, 3, 1] k^T / 64 (times 4 when upsampling), and the separable resampling equals
    upfirdn2d with the paper's padding (up (2, 1), down (1, 1) for 4 taps)."""
    k = np.array([1.0, 3.0, 3.0, 1.0])
    expected = np.outer(k, k) / 64.0
    np.testing.assert_allclose(fir_kernel_2d([1, 3, 3, 1]).numpy(), expected)
    np.testing.assert_allclose(FIRResample("down").kernel_2d.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(FIRResample("up").kernel_2d.numpy(), 4 * expected, rtol=1e-6)
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    down, up = FIRResample("down")(x), FIRResample("up")(x)
    assert down.shape == (2, 3, 4, 3) and up.shape == (2, 3, 16, 12)
    for b in range(2):
        for c in range(3):
            img = x[b, c].numpy()
            np.testing.assert_allclose(down[b, c].numpy(), _upfirdn(img, expected, 1, 2, 1, 1), atol=1e-12)
            np.testing.assert_allclose(up[b, c].numpy(), _upfirdn(img, 4 * expected, 2, 1, 2, 1), atol=1e-12)
    # other lengths follow the same padding rule ((L-1)//2 (+1 up), (L-2)//2)
    for taps in ([1, 1], [1, 2, 1], [1, 4, 6, 4, 1]):
        kk = np.outer(taps, taps) / np.sum(taps) ** 2
        img = x[0, 0].numpy()
        L = len(taps)
        np.testing.assert_allclose(FIRResample("down", taps)(x)[0, 0].numpy(),
                                   _upfirdn(img, kk, 1, 2, (L - 1) // 2, (L - 2) // 2), atol=1e-12)
        np.testing.assert_allclose(FIRResample("up", taps)(x)[0, 0].numpy(),
                                   _upfirdn(img, 4 * kk, 2, 1, (L - 1) // 2 + 1, (L - 2) // 2), atol=1e-12)
