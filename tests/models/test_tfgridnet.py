"""TF-GridNet (Wang et al. 2023): shared checks at a reduced config, parameter count, attention by hand."""

import math

import torch

from cspec.models import build
from cspec.models.tfgridnet import CrossFrameAttention

SMALL = dict(emb_dim=8, n_blocks=1, hidden=8, kernel=1, heads=2, qk_dim=2)


def _count_by_hand(d, b, i, j, h, heads, e, f, c):
    """Parameters of the layer list (eqs. 3-12): per block two (LayerNorm, BLSTM over D*I inputs, ConvTranspose1d
    2H -> D of kernel I) and the attention (one 1x1 conv to L(2E + D/L), three PReLU(L), LayerNorms over (E, F) or
    (D/L, F) per head, projection conv D -> D, PReLU, LayerNorm over (D, F)); a 3x3 conv + GroupNorm in, a 3x3
    transposed conv to 2C out."""
    lstm = 2 * (4 * h * (d * i + h) + 8 * h)  # two directions, weights and both biases
    along = 2 * d + lstm + 2 * h * d * i + d
    v = d // heads
    att = d * heads * (2 * e + v) + heads * (2 * e + v) + 3 * heads + 2 * f * heads * (2 * e + v)
    att += d * d + d + 1 + 2 * d * f
    return (2 * d * 9 + d + 2 * d) + b * (2 * along + att) + (d * 2 * c * 9 + 2 * c)


def test_tfgridnet_paper_config(model_checks):
    """The authors' WSJ0-2mix configuration (ESPnet recipe of PR #4864): D=48, B=6, I=4, J=1, H=192, L=4,
    E = ceil(512 / 65) = 8, 16 ms / 8 ms at 8 kHz."""
    model = build("tfgridnet")
    assert (model.sample_rate, model.n_sources, model.stft_config.n_fft, model.stft_config.hop_length) == (
        8000, 2, 128, 64)
    cfg = model.config
    assert (cfg["emb_dim"], cfg["n_blocks"], cfg["kernel"], cfg["stride"], cfg["hidden"], cfg["heads"],
            cfg["qk_dim"]) == (48, 6, 4, 1, 192, 4, math.ceil(512 / 65))
    assert model.paper_params is None  # the table's 14.4 M is not this configuration's count (model docstring)
    assert model.n_parameters() == _count_by_hand(48, 6, 4, 1, 192, 4, 8, 65, 2) == 8_175_874
    out = model_checks.forward_backward(model, seconds=0.05)
    assert out["spec"].shape == (2, 2, 65, 7) and out["spec"].is_complex()


def test_tfgridnet_reduced(model_checks):
    out = model_checks.forward_backward(build("tfgridnet", emb_dim=16, n_blocks=1, hidden=16))
    assert out["spec"].shape == (2, 2, 65, 126)
    model_checks.overfit(build("tfgridnet", **SMALL), steps=100, lr=1e-2, seconds=0.25)


def _norm_cf(x, gamma, beta, eps=1e-5):
    # x (C, T, F): per frame over (C, F)
    mean = x.mean((0, 2), keepdim=True)
    var = x.var((0, 2), unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def test_cross_frame_attention_matches_equations():
    """Eqs. 9-12 written out per head with explicit loops over frames."""
    torch.manual_seed(0)
    d, t, f, heads, e = 4, 5, 3, 2, 2
    att = CrossFrameAttention(d, f, heads, e).double()
    with torch.no_grad():
        for p in att.parameters():
            p.normal_(0, 0.5)
    x = torch.randn(1, d, t, f, dtype=torch.float64)
    w, bias = att.qkv.weight[..., 0, 0], att.qkv.bias
    proj = torch.einsum("oc,ctf->otf", w, x[0]) + bias.view(-1, 1, 1)
    proj = proj.view(heads, 2 * e + d // heads, t, f)
    prelu = lambda z, a: torch.where(z >= 0, z, a * z)  # noqa: E731
    outs = []
    for h in range(heads):
        q = _norm_cf(prelu(proj[h, :e], att.act_q.weight[h]), att.norm_q.gamma[h], att.norm_q.beta[h])
        k = _norm_cf(prelu(proj[h, e:2 * e], att.act_k.weight[h]), att.norm_k.gamma[h], att.norm_k.beta[h])
        v = _norm_cf(prelu(proj[h, 2 * e:], att.act_v.weight[h]), att.norm_v.gamma[h], att.norm_v.beta[h])
        out = torch.zeros_like(v)
        for i in range(t):
            scores = torch.stack([(q[:, i] * k[:, j]).sum() / math.sqrt(e * f) for j in range(t)])
            weights = torch.softmax(scores, 0)
            out[:, i] = sum(weights[j] * v[:, j] for j in range(t))
        outs.append(out)
    cat = torch.cat(outs, 0)  # (D, T, F)
    y = torch.einsum("oc,ctf->otf", att.proj[0].weight[..., 0, 0], cat) + att.proj[0].bias.view(-1, 1, 1)
    y = _norm_cf(prelu(y, att.proj[1].weight[0]), att.norm_out.gamma, att.norm_out.beta)
    torch.testing.assert_close(att(x)[0], x[0] + y)
