"""The registered enhancers as SpeechModels: length kept, reproducible, trainable, and steps = network passes."""

import pytest
import torch

import cspec.generative  # noqa: F401  (registers the enhancers)
from cspec.errors import ConfigError
from cspec.models import build, list_models

NAMES = {"sgmse": dict(steps=4), "sbridge": dict(steps=2), "flowse": dict(steps=2), "predictive": {}}


def _wave(n, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 16000
    clean = 0.3 * torch.sin(2 * torch.pi * 220 * t) * torch.ones(batch, 1)
    return clean + 0.05 * torch.randn(batch, n, generator=g), clean


def test_registered():
    assert {"sgmse", "sbridge", "flowse", "predictive"} <= set(list_models())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", [100, 1000, 4001])
def test_forward_keeps_length_and_is_finite(tiny, name, length):
    model = build(name, backbone=tiny(), **NAMES[name])
    noisy, _ = _wave(length)
    out = model(noisy)
    assert out["wave"].shape == noisy.shape and torch.isfinite(out["wave"]).all()
    assert out["spec"].is_complex() and out["spec"].shape[:2] == (2, 256)


@pytest.mark.parametrize("name", ["sgmse", "sbridge", "flowse"])
def test_same_seed_same_output(tiny, name):
    torch.manual_seed(0)
    model = build(name, backbone=tiny(), seed=3, **NAMES[name])
    noisy, _ = _wave(2000)
    a, b = model(noisy)["wave"], model(noisy)["wave"]
    assert torch.equal(a, b)
    model.seed = 4
    assert not torch.equal(a, model(noisy)["wave"])


@pytest.mark.parametrize("name", NAMES)
def test_training_loss_is_finite_and_backpropagates(tiny, name):
    model = build(name, backbone=tiny(), **NAMES[name])
    noisy, clean = _wave(3000)
    loss, terms = model.training_loss(noisy, clean)
    assert loss.dim() == 0 and torch.isfinite(loss) and terms
    assert all(not v.requires_grad and torch.isfinite(v) for v in terms.values())
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name,options,steps", [
    ("sgmse", {}, 6), ("sgmse", dict(corrector="none"), 3), ("sgmse", dict(corrector_steps=2), 9),
    ("sbridge", {}, 4), ("sbridge", dict(sampler="ode"), 1), ("flowse", {}, 3),
    ("flowse", dict(solver="midpoint"), 4), ("predictive", {}, 1),
])
def test_steps_count_network_passes(tiny, counting, name, options, steps):
    net = counting(tiny())
    model = build(name, backbone=net, **options)
    if name != "predictive":
        model.steps = steps
    model(_wave(1500)[0])
    assert net.calls == model.steps == steps


def test_steps_that_the_sampler_cannot_make_are_refused(tiny):
    model = build("sgmse", backbone=tiny())
    assert model.steps == 60  # the paper's 30 PC steps, two passes each
    with pytest.raises(ConfigError, match="multiple of 2"):
        model.steps = 3
    assert build("sgmse", backbone=tiny(), corrector="none").steps == 30
    assert build("flowse", backbone=tiny(), solver="midpoint").steps == 10
    with pytest.raises(ConfigError):
        build("flowse", backbone=tiny(), solver="midpoint", steps=5)
    with pytest.raises(ConfigError):
        build("predictive", backbone=tiny()).steps = 2
    with pytest.raises(ConfigError, match="unknown corrector"):
        build("sgmse", backbone=tiny(), corrector="langevine")


def test_backbone_by_name_through_the_registry(tiny, tmp_path):
    """A backbone registered in cspec.models.backbones is built by name from plain options; the model saves and
    loads through cspec.models.save/load (JSON config + safetensors) and enhances identically."""
    from cspec.models import backbones, load, save

    backbones.register_backbone("_gen_test_tiny")(tiny)
    try:
        model = build("flowse", backbone="_gen_test_tiny", backbone_options={"hidden": 4}, steps=1)
        assert model.net.conv1.out_channels == 4 and model.config["backbone_options"] == {"hidden": 4}
        noisy = _wave(800)[0]
        out = model(noisy)["wave"]
        assert out.shape == (2, 800)
        again = load(save(model, tmp_path / "flowse"))
        assert type(again) is type(model) and torch.equal(again(noisy)["wave"], out)
    finally:
        backbones._REGISTRY.pop("_gen_test_tiny", None)


def test_compact_ncsnpp_backbone():
    """The compact NCSN++ of cspec.models.ncsnpp as the backbone: one flow step and one bridge training loss."""
    noisy, clean = _wave(4000, batch=1)
    model = build("flowse", backbone="ncsnpp_compact", steps=1)
    assert model(noisy)["wave"].shape == noisy.shape
    loss, _ = build("sbridge", backbone="ncsnpp_compact").training_loss(noisy, clean)
    assert torch.isfinite(loss)


def test_crp_trains_through_the_few_step_sampler(tiny, counting):
    """``crp_steps`` (Lay et al. 2023's second stage): one training loss runs the n-pass sampler with gradients; the
    differentiable trajectory equals the sampler's output, and the loss is the data loss of that output."""
    from cspec.generative import SchrodingerBridgeVE, bridge_sample, bridge_trajectory, data_prediction_loss

    net = counting(tiny())
    model = build("sbridge", backbone=net, crp_steps=3, sampler="ode")
    noisy, clean = _wave(3000)
    loss, terms = model.training_loss(noisy, clean)
    assert net.calls == 3
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    process = SchrodingerBridgeVE().copy(N=3)
    y = torch.randn(2, 8, 8, dtype=torch.complex64, generator=torch.Generator().manual_seed(1))
    w = torch.tensor(0.5, requires_grad=True)
    fn = lambda x, y_, t: w * y_ + 0.1 * x  # noqa: E731  a differentiable stand-in for the network
    for sampler in ("sde", "ode"):
        a, _ = bridge_sample(process, fn, y, sampler, torch.Generator().manual_seed(2))
        b, _ = bridge_trajectory(process, fn, y, sampler, torch.Generator().manual_seed(2))
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)
        assert not a.requires_grad and b.requires_grad
    value, _ = data_prediction_loss(b, torch.zeros_like(y))
    value.backward()
    assert w.grad is not None and w.grad != 0
    with pytest.raises(ConfigError, match="crp_steps"):
        build("sbridge", backbone=tiny(), crp_steps=-1)
