"""The forward processes against their closed forms, by Monte Carlo, and the training objectives at their optimum."""

import math

import pytest
import torch

from cspec.errors import ConfigError
from cspec.generative import (
    ConditionalFlow, OUVESDE, SchrodingerBridgeVE, data_prediction_loss, flow_matching_loss, score_matching_loss,
)

N_PATHS = 20000


def _complex_noise(shape, g):
    return torch.randn(shape, dtype=torch.complex128, generator=g)


def test_ouve_marginal_matches_euler_maruyama_simulation():
    """Simulate dx = gamma (y - x) dt + g(t) dw with 2000 Euler-Maruyama steps from a fixed x0; the sample mean and
    variance at t = 0.3 and t = 1 match marginal_prob within 4 standard errors (plus 0.5 % for the O(dt) bias)."""
    p, g = OUVESDE(), torch.Generator().manual_seed(1)
    x0, y = torch.full((1, N_PATHS), 1.0 - 0.5j, dtype=torch.complex128), torch.full((1, N_PATHS), 0.3 + 0.2j,
                                                                                       dtype=torch.complex128)
    x, steps, checks = x0.clone(), 2000, {600: None, 2000: None}
    dt = torch.full((1,), 1.0 / steps, dtype=torch.float64)
    for i in range(steps):
        drift, diff = p.sde(x, y, torch.full((1,), i / steps, dtype=torch.float64))
        x = x + drift * dt + diff * torch.sqrt(dt) * _complex_noise(x.shape, g)
        if i + 1 in checks:
            t = torch.full((1,), (i + 1) / steps, dtype=torch.float64)
            mean, std = p.marginal_prob(x0, y, t)
            sd = float(std)
            assert abs(complex(x.mean()) - complex(mean[0, 0])) < 4 * sd / math.sqrt(N_PATHS)
            var = float((x - mean).abs().pow(2).mean())
            assert abs(var / sd ** 2 - 1) < 4 / math.sqrt(N_PATHS) + 0.005, (t, var, sd ** 2)


def test_bridge_marginal_is_the_reference_process_conditioned_on_both_ends():
    """Simulate the reference SDE of Table 1 (f = 0, g = sqrt(c) k^t) from x0; regress x_t on x_T: the conditional
    mean at x_T = y and the residual variance match Eq. (11)'s weights and std (4 standard errors)."""
    p, g, steps = SchrodingerBridgeVE(), torch.Generator().manual_seed(2), 2000
    x0, y = 0.7 + 0.1j, -0.2 + 0.4j
    x = torch.full((N_PATHS,), x0, dtype=torch.complex128)
    kept = {}
    for i in range(steps):  # midpoint rule for int g^2 over each step
        t_mid = torch.tensor([(i + 0.5) / steps], dtype=torch.float64)
        x = x + p.sde(x[None], None, t_mid)[1] * math.sqrt(1 / steps) * _complex_noise(x.shape, g)
        if i + 1 in (500, 1000, 1500):
            kept[(i + 1) / steps] = x.clone()
    xT = x
    for t, xt in kept.items():
        ct, cT = xt - xt.mean(), xT - xT.mean()
        b = complex((ct * cT.conj()).mean() / cT.abs().pow(2).mean())  # E[x_t | x_T] = a + b x_T
        resid = float((ct - b * cT).abs().pow(2).mean())
        cond_mean = complex(xt.mean()) + b * (y - complex(xT.mean()))
        tt = torch.tensor([t], dtype=torch.float64)
        mean, std = p.marginal_prob(torch.full((1, 1), x0, dtype=torch.complex128),
                                    torch.full((1, 1), y, dtype=torch.complex128), tt)
        se = math.sqrt(resid / N_PATHS) * (1 + abs(y - x0) / float(cT.abs().pow(2).mean().sqrt()))
        assert abs(cond_mean - complex(mean[0, 0])) < 4 * se, (t, cond_mean, complex(mean[0, 0]))
        assert abs(resid / float(std) ** 2 - 1) < 4 * math.sqrt(2 / N_PATHS), (t, resid, float(std) ** 2)


def test_flow_marginal_moments_and_velocity_is_the_path_derivative(gauss):
    """x_t drawn from the path with Gaussian x0 has mean (1-t) mu + t y and variance (1-t)^2 s^2 + std_t^2; along a
    fixed (x0, y, z) the central difference of x_t equals conditional_velocity (the path is linear in t)."""
    p, g = ConditionalFlow(), torch.Generator().manual_seed(3)
    x0 = gauss.MU + gauss.S * torch.randn((1, N_PATHS), dtype=torch.complex128, generator=g)
    y = torch.full_like(x0, gauss.Y)
    for t in (0.2, 0.7):
        xt, _ = p.sample_marginal(x0, y, torch.tensor([t], dtype=torch.float64), generator=g)
        var = (1 - t) ** 2 * gauss.S ** 2 + ((1 - t) * p.sigma_min + t * p.sigma_max) ** 2
        m, v = gauss.stats(xt)
        assert abs(m - ((1 - t) * gauss.MU + t * gauss.Y)) < 4 * math.sqrt(var / N_PATHS)
        assert abs(v / var - 1) < 4 / math.sqrt(N_PATHS)
    z = torch.randn((1, 50), dtype=torch.complex128, generator=g)
    x0s, ys = x0[:, :50], y[:, :50]

    def path(t):
        mean, std = p.marginal_prob(x0s, ys, torch.tensor([t], dtype=torch.float64))
        return mean + std * z

    fd = (path(0.4 + 1e-4) - path(0.4 - 1e-4)) / 2e-4
    assert torch.allclose(fd, p.conditional_velocity(x0s, ys, z), atol=1e-8)


@pytest.mark.parametrize("process", [OUVESDE(), SchrodingerBridgeVE(), ConditionalFlow()],
                         ids=lambda p: type(p).__name__)
def test_endpoints(process):
    """At t = 0 every kernel is the clean x0 (std 0; the flow's std is sigma_min = 0); the bridge ends on y exactly."""
    x0, y = torch.randn(2, 3, 4, dtype=torch.complex64), torch.randn(2, 3, 4, dtype=torch.complex64)
    mean, std = process.marginal_prob(x0, y, torch.zeros(2))
    assert torch.allclose(mean, x0) and torch.all(std == 0)
    if isinstance(process, SchrodingerBridgeVE):
        mean, std = process.marginal_prob(x0, y, torch.ones(2))
        assert torch.allclose(mean, y, atol=1e-6) and torch.all(std < 1e-6)
        assert torch.equal(process.prior_sampling(y.shape, y), y)


def test_defaults_copy_and_validation():
    """The papers' defaults; copy(N=...) changes the steps only; bad values raise ConfigError."""
    p = OUVESDE()
    assert (p.gamma, p.sigma_min, p.sigma_max, p.t_eps, p.N) == (1.5, 0.05, 0.5, 0.03, 30)
    assert (SchrodingerBridgeVE().k, SchrodingerBridgeVE().c, SchrodingerBridgeVE().N) == (2.6, 0.4, 50)
    assert (ConditionalFlow().sigma_min, ConditionalFlow().sigma_max, ConditionalFlow().t_eps) == (0.0, 0.5, 0.03)
    q = p.copy(N=4)
    assert q.N == 4 and p.N == 30 and q.gamma == p.gamma
    for bad in (lambda: OUVESDE(sigma_max=0.01), lambda: p.copy(N=0), lambda: SchrodingerBridgeVE(k=1.0),
                lambda: ConditionalFlow(sigma_min=-1), lambda: p.copy(bogus=1)):
        with pytest.raises(ConfigError):
            bad()
    # OUVE std at t = 1 by the closed form worked by hand: 0.05^2 (10^2 - e^-3) ln10 / (1.5 + ln10)
    expect = math.sqrt(0.05 ** 2 * (100 - math.exp(-3)) * math.log(10) / (1.5 + math.log(10)))
    assert abs(float(p.std(torch.ones(1))) - expect) < 1e-6


def test_objectives_at_their_optimum_match_closed_forms(gauss):
    """With Gaussian data the exact score / posterior mean / velocity leave a known residual loss:
    DSM: E|std s* + z|^2 = 1 - std^2 / v_t; data prediction: Var[x0 | x_t]; CFM: Var[u_t | x_t]."""
    g, n, t = torch.Generator().manual_seed(4), 200000, torch.tensor([0.5], dtype=torch.float64)
    x0 = gauss.MU + gauss.S * torch.randn((1, n), dtype=torch.complex128, generator=g)
    y, s2 = torch.full_like(x0, gauss.Y), gauss.S ** 2

    p = OUVESDE()
    xt, z = p.sample_marginal(x0, y, t, generator=g)
    d, std2 = math.exp(-p.gamma * 0.5), float(p.std(t)) ** 2
    v = d * d * s2 + std2
    loss = score_matching_loss(-(xt - (d * gauss.MU + (1 - d) * y)) / v, z, p.std(t))
    assert abs(float(loss) - (1 - std2 / v)) < 0.01

    b = SchrodingerBridgeVE()
    xt, _ = b.sample_marginal(x0, y, t, generator=g)
    wx, wy, sd = (float(w) for w in b.weights(t))
    V = wx * wx * s2 + sd * sd
    post = gauss.MU + wx * s2 / V * (xt - wx * gauss.MU - wy * y)
    loss, terms = data_prediction_loss(post, x0)
    assert abs(float(loss) / (s2 * sd * sd / V) - 1) < 0.01 and set(terms) == {"data"}

    f = ConditionalFlow()
    xt, z = f.sample_marginal(x0, y, t, generator=g)
    sdt, dsd = float(f.std(t)), f.sigma_max - f.sigma_min
    V = 0.25 * s2 + sdt ** 2
    cov = -0.5 * s2 + dsd * sdt
    vel = (y - gauss.MU) + cov / V * (xt - (0.5 * gauss.MU + 0.5 * y))
    loss = flow_matching_loss(vel, f.conditional_velocity(x0, y, z))
    assert abs(float(loss) / (s2 + dsd ** 2 - cov ** 2 / V) - 1) < 0.01
