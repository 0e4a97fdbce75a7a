"""Checks every architecture must pass, shared by the per-model test files through the ``model_checks`` fixture.

Usage in a test file::

    def test_dccrn(model_checks):
        model_checks.forward_backward(build("dccrn-cl", **SMALL))
        model_checks.overfit(build("dccrn-cl", **SMALL), steps=60)
        model_checks.causal(build("dccrn-cl", **SMALL))
"""

import types

import pytest
import torch


def _batch(model, seconds=1.0, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * model.sample_rate)
    t = torch.arange(n) / model.sample_rate
    # speech-like target(s): a few harmonic, amplitude-modulated tones per source, plus noise in the mixture
    srcs = []
    for s in range(model.n_sources):
        f0 = 120.0 + 60.0 * s + 40.0 * torch.rand(batch, 1, generator=g)
        env = 0.5 + 0.5 * torch.sin(2 * torch.pi * (2.0 + s) * t)
        srcs.append(sum(torch.sin(2 * torch.pi * h * f0 * t) / h for h in (1, 2, 3)) * env * 0.2)
    target = torch.stack(srcs, 1) if model.n_sources > 1 else srcs[0]
    mix = (target.sum(1) if model.n_sources > 1 else target) + 0.05 * torch.randn(batch, n, generator=g)
    return mix, target


def forward_backward(model, seconds=1.0):
    """1 s of audio: forward and backward on CPU, output length equal to input length, finite gradients."""
    mix, target = _batch(model, seconds)
    out = model(mix)
    assert isinstance(out, dict) and "wave" in out
    est = out["wave"]
    expected = (mix.shape[0], model.n_sources, mix.shape[-1]) if model.n_sources > 1 else tuple(mix.shape)
    assert tuple(est.shape) == expected, f"{model.name}: output {tuple(est.shape)} != {expected}"
    est.pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads), "missing or non-finite grads"
    return out


def overfit(model, steps=100, lr=3e-3, seconds=0.5, factor=10.0):
    """One batch, Adam: the waveform MSE (PIT over sources) falls ``factor``-fold within ``steps`` steps."""
    torch.manual_seed(0)
    mix, target = _batch(model, seconds, batch=1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def loss_fn():
        est = model(mix)["wave"]
        if model.n_sources == 1:
            return (est - target).pow(2).mean()
        from cspec.losses import PITLoss

        return PITLoss(lambda e, t: (e - t).pow(2).mean(-1), mode="wo_src")(est, target)[0]

    first = float(loss_fn().detach())
    best = first
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        best = min(best, float(loss.detach()))
        if best <= first / factor:
            break
    assert best <= first / factor, f"{model.name}: loss {first:.4g} -> best {best:.4g} in {steps} steps"
    return first, best


@torch.no_grad()
def causal(model, seconds=0.5, cut=0.6):
    """Changing the input after sample t leaves the output before t - lookahead unchanged."""
    assert model.causal, f"{model.name} does not claim to be causal"
    model.eval()
    mix, _ = _batch(model, seconds, batch=1)
    t = int(cut * mix.shape[-1])
    other = mix.clone()
    other[..., t:] = torch.randn_like(other[..., t:])
    a, b = model(mix)["wave"], model(other)["wave"]
    keep = t - model.lookahead()
    assert keep > 0, "look-ahead longer than the test signal"
    diff = (a[..., :keep] - b[..., :keep]).abs().max().item()
    assert diff < 1e-5, f"{model.name}: output before t - lookahead changed by {diff:.3g}"
    # and the check is not vacuous: the output after t does change
    assert (a[..., t:] - b[..., t:]).abs().max().item() > 1e-4
    return keep


def param_count_close(model, paper_millions, tol=0.05):
    """Trainable parameters within ``tol`` of the paper's reported count (in millions)."""
    n = model.n_parameters() / 1e6
    assert abs(n - paper_millions) <= tol * paper_millions, f"{model.name}: {n:.3f} M vs paper {paper_millions} M"
    return n


@pytest.fixture
def model_checks():
    return types.SimpleNamespace(
        batch=_batch, forward_backward=forward_backward, overfit=overfit, causal=causal,
        param_count_close=param_count_close,
    )
