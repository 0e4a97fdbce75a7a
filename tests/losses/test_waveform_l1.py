"""The L1 time loss of MP-SENet and CMGAN: torch's l1_loss, the mixture-RMS scaling of both papers' data pipelines
worked by hand, and its wiring into the training objective."""

import pytest
import torch

from cspec.errors import ConfigError
from cspec.losses import build
from cspec.losses.waveform import waveform_l1
from cspec.spectral.stft import get_preset
from cspec.train.objective import Objective


def test_equals_torch_l1_and_scales_by_the_mixture_rms():
    est, ref = torch.randn(3, 800), torch.randn(3, 800)
    assert torch.allclose(build("waveform_l1")(est, ref), torch.nn.functional.l1_loss(est, ref))
    # a mixture of constant amplitude a has RMS |a|: the papers' c = sqrt(n / sum mix^2) = 1 / |a|
    mix = torch.tensor([0.5, -2.0, 0.1])[:, None].expand(3, 800)
    per_item = (est - ref).abs().mean(-1) / torch.tensor([0.5, 2.0, 0.1])
    assert torch.allclose(waveform_l1(est, ref, mix), per_item)
    assert torch.allclose(build("waveform_l1", mixture_rms=True)(est, ref, mix), per_item.mean())
    # scale invariance of the scaled term: every signal 10x louder gives the same loss
    assert torch.allclose(waveform_l1(10 * est, 10 * ref, 10 * mix), per_item, rtol=1e-5)
    with pytest.raises(ConfigError, match="mixture"):
        waveform_l1(est, ref, mix[:2])


def test_objective_passes_the_mixture():
    est, ref, mix = torch.randn(2, 1600), torch.randn(2, 1600), torch.randn(2, 1600)
    batch = {"targets": ref[:, None], "mixture": mix}
    obj = Objective({"waveform_l1": 0.2}, {"waveform_l1": {"mixture_rms": True}}, 1, get_preset("mpsenet"))
    total, values = obj({"wave": est}, batch)
    expected = ((est - ref).abs().mean(-1) * mix.pow(2).mean(-1).rsqrt()).mean()
    assert torch.allclose(values["waveform_l1"], expected) and torch.allclose(total, 0.2 * expected)
    plain = Objective({"waveform_l1": 1.0}, {}, 1, get_preset("mpsenet"))
    assert torch.allclose(plain({"wave": est}, batch)[0], (est - ref).abs().mean())
    sep = Objective({"si_sdr": 1.0, "waveform_l1": 0.2}, {"waveform_l1": {"mixture_rms": True}}, 2,
                    get_preset("mpsenet"))
    with pytest.raises(ConfigError, match="one estimate per mixture"):
        sep({"wave": torch.randn(2, 2, 1600)}, {"targets": torch.randn(2, 2, 1600), "mixture": mix})
