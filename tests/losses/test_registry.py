"""The loss registry: every name builds, unknown names and options raise ConfigError with a hint."""

import pytest
import torch
from torch import nn

from cspec.errors import ConfigError
from cspec.losses import PITLoss, SISDRLoss, build, list_losses, register
from cspec.losses import registry as registry_module


def test_every_name_builds_a_module():
    names = list_losses()
    assert {"si_sdr", "snr", "sd_sdr", "weighted_sdr", "complex_mse", "compressed_spectral",
            "multi_resolution_stft", "consistency", "phase", "pit", "lsgan_generator", "lsgan_discriminator",
            "hinge_generator", "hinge_discriminator", "feature_matching", "metricgan_generator",
            "metricgan_discriminator"} <= set(names)
    for name in names:
        kwargs = {"loss": "si_sdr"} if name == "pit" else {}
        assert isinstance(build(name, **kwargs), nn.Module)


def test_built_losses_compute_the_same_numbers():
    g = torch.Generator().manual_seed(0)
    est, ref = torch.randn(3, 2, 400, generator=g), torch.randn(3, 2, 400, generator=g)
    torch.testing.assert_close(build("si_sdr", zero_mean=False)(est, ref), SISDRLoss(zero_mean=False)(est, ref))
    loss, perm = build("pit", loss="si_sdr", loss_kwargs={"zero_mean": False})(est, ref)
    loss2, perm2 = PITLoss(SISDRLoss(zero_mean=False).pairwise)(est, ref)
    torch.testing.assert_close(loss, loss2)
    assert torch.equal(perm, perm2)
    # a loss without a pairwise matrix is wrapped one pair at a time
    spec_est, spec_ref = torch.randn(2, 2, 9, 5, dtype=torch.complex64), torch.randn(2, 2, 9, 5, dtype=torch.complex64)
    pit_mse = build("pit", loss="complex_mse", reduction="none")
    assert pit_mse.mode == "wo_src"
    value, _ = pit_mse(spec_est, spec_ref)
    assert value.shape == (2,)
    assert build("lsgan_generator")(torch.zeros(3)).item() == pytest.approx(1.0)
    assert build("metricgan_generator", target=0.5)(torch.zeros(3)).item() == pytest.approx(0.25)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ConfigError, match="Did you mean 'si_sdr'") as err:
        build("sisdr")
    assert "multi_resolution_stft" in str(err.value)  # lists the valid names
    with pytest.raises(ConfigError, match="Did you mean 'multi_resolution_stft'"):
        build("multi_resolution_stf")
    with pytest.raises(ConfigError, match="Did you mean 'phase'"):
        build("pit", loss="phse")


def test_bad_options():
    with pytest.raises(ConfigError, match="bad options for loss 'si_sdr'"):
        build("si_sdr", zero_means=True)
    with pytest.raises(ConfigError, match="needs loss="):
        build("pit")
    with pytest.raises(ConfigError, match="reduction"):
        build("snr", reduction="avg")


def test_register(monkeypatch):
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))
    register("l1", nn.L1Loss)
    assert "l1" in list_losses()
    assert build("l1")(torch.ones(2), torch.zeros(2)).item() == 1.0
    with pytest.raises(ConfigError, match="exists already"):
        register("si_sdr", nn.L1Loss)
