"""Samplers driven by exact functions: Gaussian data is recovered within sampling error, an oracle is returned in
one step, and the number of network passes is what each sampler documents."""

import math

import pytest
import torch

from cspec.errors import ConfigError
from cspec.generative import (
    ConditionalFlow, OUVESDE, SchrodingerBridgeVE, bridge_sample, flow_sample, pc_passes_per_step, pc_sample,
)

N = 10000


def _ouve_score(p, mu, s):
    """The exact score of x_t given y when x0 ~ CN(mu, s^2): -(x - m_t) / v_t."""
    def score(x, y, t):
        d = torch.exp(-p.gamma * t).reshape(-1, 1)
        v = d ** 2 * s ** 2 + p.std(t).reshape(-1, 1) ** 2
        return -(x - (d * mu + (1 - d) * y)) / v
    return score


def _ouve_start(p, gauss, g):
    """A draw of the exact marginal at T (SGMSE+'s prior CN(y, std(T)^2) ignores e^-gamma (mu - y) and e^-2gamma s^2,
    the paper's prior mismatch, so the sampler is checked from the true x_T)."""
    d = math.exp(-p.gamma)
    v = d * d * gauss.S ** 2 + float(p.std(torch.ones(1))) ** 2
    return d * gauss.MU + (1 - d) * gauss.Y + math.sqrt(v) * torch.randn((1, N), dtype=torch.complex64, generator=g)


@pytest.mark.parametrize("corrector", ["ald", "none"])
def test_pc_sampler_recovers_gaussian_data(gauss, corrector):
    """Reverse diffusion with (SGMSE+: annealed Langevin, r = 0.5) or without corrector, 300 steps of the exact
    score from the exact x_T: mean and variance of CN(mu, s^2) within 4 standard errors (+0.5 % for O(1/N))."""
    p, g = OUVESDE(N=300), torch.Generator().manual_seed(5)
    x, nfe = pc_sample(p, _ouve_score(p, gauss.MU, gauss.S), gauss.y(N), corrector=corrector, generator=g,
                       x_init=_ouve_start(p, gauss, g))
    assert nfe == 300 * pc_passes_per_step(corrector) == (600 if corrector == "ald" else 300)
    gauss.check(x, bias=0.005)


def test_reverse_diffusion_equals_euler_maruyama_for_the_ouve(gauss):
    """With the Euler-Maruyama forward discretisation of SGMSE+ the two predictors are the same update."""
    p = OUVESDE(N=7)
    runs = [pc_sample(p, _ouve_score(p, gauss.MU, gauss.S), gauss.y(64), predictor=name, corrector="none",
                      generator=torch.Generator().manual_seed(6))[0]
            for name in ("reverse_diffusion", "euler_maruyama")]
    assert torch.allclose(runs[0], runs[1], atol=1e-6)


def _bridge_posterior_mean(b, mu, s):
    """E[x0 | x_t] for x0 ~ CN(mu, s^2): x_t = w_x x0 + w_y y + std z is Gaussian in x0."""
    def data_fn(x, y, t):
        wx, wy, sd = (w.reshape(-1, 1) for w in b.weights(t))
        V = wx ** 2 * s ** 2 + sd ** 2
        gain = torch.where(V > 0, wx * s ** 2 / V.clamp_min(1e-30), torch.zeros_like(V))  # at T: x_T = y, gain 0
        return mu + gain * (x - wx * mu - wy * y)
    return data_fn


def test_bridge_sde_sampler_recovers_gaussian_data(gauss):
    """SB-SDE with the exact posterior mean, 2000 steps: CN(mu, s^2) within 4 standard errors. Using the posterior
    mean for x0 loses (1 - sigma_t^2/sigma_s^2)^2 Var[x0|x_s] of variance per step, O(1/N) in all (1.4 % at
    N = 1000, measured), hence +0.8 % allowance at N = 2000."""
    b = SchrodingerBridgeVE(N=2000)
    x, nfe = bridge_sample(b, _bridge_posterior_mean(b, gauss.MU, gauss.S), gauss.y(N), "sde",
                           generator=torch.Generator().manual_seed(7))
    assert nfe == 2000
    gauss.check(x, bias=0.008)


@pytest.mark.parametrize("steps", [1, 5, 50])
def test_bridge_ode_sampler_returns_the_posterior_mean(gauss, steps):
    """The bridge starts at the point x_T = y, so its ODE is a deterministic map: with the exact posterior mean it
    stays on the mean path and returns E[x0 | y] = mu exactly, for every number of steps."""
    b = SchrodingerBridgeVE(N=steps)
    x, nfe = bridge_sample(b, _bridge_posterior_mean(b, gauss.MU, gauss.S), gauss.y(16), "ode")
    assert nfe == steps
    assert torch.allclose(x, torch.full_like(x, gauss.MU), atol=1e-5)


def _flow_velocity(f, mu, s):
    """E[u_t | x_t] for x0 ~ CN(mu, s^2): (y - mu) + Cov(u, x_t) / Var(x_t) (x - m_t)."""
    def velocity(x, y, t):
        t = t.reshape(-1, 1)
        sd = f.std(t)
        V = (1 - t) ** 2 * s ** 2 + sd ** 2
        cov = -(1 - t) * s ** 2 + (f.sigma_max - f.sigma_min) * sd
        return (y - mu) + cov / V * (x - ((1 - t) * mu + t * y))
    return velocity


@pytest.mark.parametrize("solver,steps,passes", [("euler", 1000, 1), ("midpoint", 20, 2)])
def test_flow_solvers_recover_gaussian_data(gauss, solver, steps, passes):
    """The ODE from x_1 = y + sigma_max z with the exact marginal velocity: CN(mu, s^2) within 4 standard errors
    (+0.5 %: Euler is first order, the midpoint rule second order, measured 1 % / 0.4 % at 400 / 20 steps)."""
    f = ConditionalFlow(N=steps)
    x, nfe = flow_sample(f, _flow_velocity(f, gauss.MU, gauss.S), gauss.y(N), solver,
                         generator=torch.Generator().manual_seed(8))
    assert nfe == steps * passes
    gauss.check(x, bias=0.005)


@pytest.mark.parametrize("sampler", ["sde", "ode"])
@pytest.mark.parametrize("steps", [1, 3])
def test_bridge_with_an_oracle_returns_the_clean_spectrogram(sampler, steps):
    """A data predictor that returns the clean spectrogram: the last update lands on t = 0, where the bridge is x0."""
    g = torch.Generator().manual_seed(9)
    x0, y = (torch.randn(2, 8, 5, dtype=torch.complex64, generator=g) for _ in range(2))
    x, _ = bridge_sample(SchrodingerBridgeVE(N=steps), lambda x, y, t: x0, y, sampler, generator=g)
    assert torch.allclose(x, x0, atol=1e-6)


@pytest.mark.parametrize("solver", ["euler", "midpoint"])
@pytest.mark.parametrize("steps", [1, 4])
def test_flow_with_an_oracle_returns_the_clean_spectrogram(solver, steps):
    """The velocity a perfect data estimate implies is constant along the straight conditional path, so any number
    of Euler or midpoint steps (one included) ends on x0 (sigma_min = 0)."""
    g = torch.Generator().manual_seed(10)
    x0, y = (torch.randn(2, 8, 5, dtype=torch.complex64, generator=g) for _ in range(2))
    f = ConditionalFlow(N=steps)
    x, _ = flow_sample(f, lambda x, y, t: f.velocity_from_data(x, y, t, x0), y, solver, generator=g)
    assert torch.allclose(x, x0, atol=1e-5)


def test_sampler_names_are_checked():
    y = torch.zeros(1, 4, dtype=torch.complex64)
    with pytest.raises(ConfigError, match="ald"):
        pc_sample(OUVESDE(N=1), lambda x, y, t: x, y, corrector="aldd")
    with pytest.raises(ConfigError):
        bridge_sample(SchrodingerBridgeVE(N=1), lambda x, y, t: x, y, "heun")
    with pytest.raises(ConfigError):
        flow_sample(ConditionalFlow(N=1), lambda x, y, t: x, y, "rk4")


def test_annealed_langevin_step_size_is_sgmse_plus():
    """The corrector moves by eps * score with eps = 2 (r std(t))^2 (r = 0.5): with a unit score the noise-free mean
    moves by 0.5 std(1)^2, std(1)^2 = 0.05^2 (100 - e^-3) ln 10 / (1.5 + ln 10) worked by hand."""
    from cspec.generative.samplers import CORRECTORS

    x = torch.zeros(1, 3, dtype=torch.complex64)
    _, x_mean = CORRECTORS.get("ald")(OUVESDE(), lambda x, y, t: torch.ones_like(x), x, x, torch.ones(1), 0.5, 1)
    std2 = 0.05 ** 2 * (100 - math.exp(-3)) * math.log(10) / (1.5 + math.log(10))
    assert torch.allclose(x_mean, torch.full_like(x, 0.5 * std2))
