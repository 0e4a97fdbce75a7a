"""Normalisation: whitening against an eigendecomposition reference, covariance, running stats, memory, NaN."""

from __future__ import annotations

import gc
import os

import pytest
import torch

from cspec.errors import ConfigError
from cspec.nn import ComplexBatchNorm, ComplexLayerNorm, NaiveComplexBatchNorm


def inv_sqrt_2x2(v: torch.Tensor) -> torch.Tensor:
    """V^(-1/2) of a batch of SPD 2x2 matrices by eigendecomposition (independent of the closed form)."""
    lam, q = torch.linalg.eigh(v)
    return q @ torch.diag_embed(lam.rsqrt()) @ q.mT


def whiten_ref(z, dims, eps, gamma, beta, view):
    """Trabelsi et al. eq. (11)-(12) with complex tensors and matrices; returns complex."""
    c = z - z.mean(dims, keepdim=True)
    vrr = (c.real ** 2).mean(dims, keepdim=True) + eps
    vii = (c.imag ** 2).mean(dims, keepdim=True) + eps
    vri = (c.real * c.imag).mean(dims, keepdim=True)
    v = torch.stack([torch.stack([vrr, vri], -1), torch.stack([vri, vii], -1)], -2)
    w = inv_sqrt_2x2(v)
    x = torch.stack([c.real, c.imag], -1).unsqueeze(-1)
    x = (w @ x).squeeze(-1)
    g = torch.stack([torch.stack([view(gamma[0]), view(gamma[2])], -1),
                     torch.stack([view(gamma[2]), view(gamma[1])], -1)], -2)
    y = (g @ x.unsqueeze(-1)).squeeze(-1)
    return torch.complex(y[..., 0] + view(beta[0]), y[..., 1] + view(beta[1]))


def _random_affine(m):
    with torch.no_grad():
        m.weight.normal_()
        m.bias.normal_()
    return m


def correlated(n, c, f, scale=1.0):
    base = torch.randn(n, c, f, 2)
    mix = torch.tensor([[2.0, 0.0], [1.5, 0.5]])
    x = base @ mix.T * scale + torch.tensor([3.0, -1.0])
    return torch.complex(x[..., 0], x[..., 1])


def test_batchnorm_matches_reference(h):
    m = _random_affine(ComplexBatchNorm(3))
    z = (correlated(4, 3, 5)).requires_grad_(True)
    h.compare(m, lambda x: whiten_ref(x, (0, 2), m.eps, m.weight, m.bias, lambda p: p[None, :, None]), [z],
              atol=1e-4, rtol=1e-4)


def test_batchnorm_output_has_identity_covariance():
    m = ComplexBatchNorm(4, affine=False).train()
    y = m(correlated(64, 4, 32, scale=3.0))
    yr, yi = y.real, y.imag
    for ch in range(4):
        a, b = yr[:, ch].flatten(), yi[:, ch].flatten()
        cov = torch.stack([a, b]) @ torch.stack([a, b]).T / a.numel()
        torch.testing.assert_close(cov, torch.eye(2), atol=1e-3, rtol=0)
        assert abs(a.mean()) < 1e-5 and abs(b.mean()) < 1e-5


def test_running_stats_converge_to_population():
    m = ComplexBatchNorm(2, momentum=0.1).train()
    # population: mean (3 - 1j); [re, im] = A u + mu with A = [[2, 0], [1.5, 0.5]] -> covariance A A^T
    for _ in range(300):
        m(correlated(32, 2, 16))
    cov = torch.tensor([[2.0, 0.0], [1.5, 0.5]]) @ torch.tensor([[2.0, 0.0], [1.5, 0.5]]).T
    expected_cov = torch.tensor([cov[0, 0], cov[1, 1], cov[0, 1]])[:, None].expand(3, 2)
    torch.testing.assert_close(m.running_mean, torch.tensor([[3.0, 3.0], [-1.0, -1.0]]), atol=0.05, rtol=0)
    torch.testing.assert_close(m.running_covar, expected_cov, atol=0.1, rtol=0.03)
    assert m.running_mean.grad_fn is None and m.running_covar.grad_fn is None
    assert not m.running_mean.requires_grad
    # eval mode uses the running statistics: population-whitened output has ~identity covariance
    m.eval()
    y = m(correlated(256, 2, 16))
    a, b = y.real[:, 0].flatten(), y.imag[:, 0].flatten()
    gamma_sq = 0.5  # the default gamma = diag(1/sqrt(2)) halves each variance
    torch.testing.assert_close(torch.stack([a.var(), b.var()]), torch.tensor([gamma_sq, gamma_sq]), atol=0.05, rtol=0)


def _rss_bytes() -> int:
    try:
        import psutil
        return psutil.Process(os.getpid()).memory_info().rss
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_training_memory_stays_flat():
    bn = ComplexBatchNorm(4)
    gain = torch.nn.Parameter(torch.ones(()))  # so the input is a graph node (16 KiB) a leaky BN would keep
    opt = torch.optim.SGD([*bn.parameters(), gain], lr=1e-3)
    z = torch.randn(8, 4, 8, 8, dtype=torch.complex64)

    def step():
        opt.zero_grad(set_to_none=True)
        bn(z * gain).abs().mean().backward()
        opt.step()

    for _ in range(100):
        step()
    gc.collect()
    before = _rss_bytes()
    for _ in range(1000):
        step()
    gc.collect()
    grown = _rss_bytes() - before
    # a graph kept by the running statistics would hold >= 16 KiB per step (16 MiB over 1,000 steps)
    assert grown < 4 * 2 ** 20, f"RSS grew by {grown / 2**20:.1f} MiB over 1,000 steps"
    assert bn.running_mean.grad_fn is None and bn.running_covar.grad_fn is None


@pytest.mark.parametrize("kind", ["zeros", "constant", "collinear"])
def test_batchnorm_finite_on_degenerate_inputs(kind):
    m = ComplexBatchNorm(3)
    if kind == "zeros":
        z = torch.zeros(4, 3, 6, dtype=torch.complex64)
    elif kind == "constant":
        z = torch.full((4, 3, 6), 2.5 - 7j, dtype=torch.complex64)
    else:  # imaginary part exactly proportional to the real part: det V = 0 up to round-off
        r = torch.randn(4, 3, 6) * 1e3
        z = torch.complex(r, 3 * r)
    z.requires_grad_(True)
    for mode in ("train", "eval", "train"):
        getattr(m, mode)()
        y = m(z)
        (g,) = torch.autograd.grad(y.abs().sum(), z)
        assert torch.isfinite(torch.view_as_real(y)).all() and torch.isfinite(torch.view_as_real(g)).all()
    assert torch.isfinite(m.running_covar).all() and torch.isfinite(m.running_mean).all()


def test_naive_batchnorm_matches_per_part_formula(h):
    m = _random_affine(NaiveComplexBatchNorm(3))
    z = correlated(4, 3, 5).requires_grad_(True)

    def ref(x):
        out = []
        for k, part in enumerate((x.real, x.imag)):
            mu, var = part.mean((0, 2), keepdim=True), part.var((0, 2), unbiased=False, keepdim=True)
            out.append((part - mu) / torch.sqrt(var + m.eps) * m.weight[k][:, None] + m.bias[k][:, None])
        return torch.complex(*out)

    h.compare(m, ref, [z], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(m.running_mean[0], 0.1 * z.real.detach().mean((0, 2)))


def test_layer_norm_matches_reference(h):
    m = _random_affine(ComplexLayerNorm((2, 4)))
    z = correlated(3, 2, 4).requires_grad_(True)
    h.compare(m, lambda x: whiten_ref(x, (-2, -1), m.eps, m.weight, m.bias, lambda p: p), [z], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("make,shape", [
    (lambda: ComplexBatchNorm(2), (3, 2, 3)),
    (lambda: NaiveComplexBatchNorm(2), (3, 2, 3)),
    (lambda: ComplexLayerNorm(4), (2, 4)),
])
def test_gradcheck(h, make, shape):
    m = _random_affine(make())
    h.gradcheck(m, h.crandn(*shape, dtype=torch.complex128))


def test_errors():
    with pytest.raises(ConfigError, match="more than one value"):
        ComplexBatchNorm(2)(torch.ones(1, 2, dtype=torch.complex64))
    with pytest.raises(ConfigError, match="expects"):
        ComplexBatchNorm(2)(torch.ones(3, 5, dtype=torch.complex64))
