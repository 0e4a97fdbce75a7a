import pytest

from cspec.errors import ConfigError
from cspec.models import SpeechModel, build, list_models, register


@register("_toy_gain")
class _Toy(SpeechModel):
    def __init__(self, gain: float = 2.0, channels: int = 3):
        super().__init__()
        self.gain = gain

    def forward(self, wave):
        return {"wave": self._check_input(wave) * self.gain}


def test_build_records_config_and_runs():
    import torch

    m = build("_toy_gain", gain=0.5)
    assert m.config == {"gain": 0.5, "channels": 3}
    assert m.name == "_toy_gain" and "_toy_gain" in list_models()
    assert torch.equal(m(torch.ones(1, 4))["wave"], torch.full((1, 4), 0.5))


def test_unknown_model_and_option_are_config_errors():
    with pytest.raises(ConfigError, match="Did you mean '_toy_gain'"):
        build("_toy_gian")
    with pytest.raises(ConfigError, match="no option 'gian'.*Did you mean 'gain'"):
        build("_toy_gain", gian=1.0)


def test_shared_checks_on_a_tiny_causal_model(model_checks):
    import torch

    @register("_toy_fir")
    class _Fir(SpeechModel):
        causal = True

        def __init__(self, taps: int = 16):
            super().__init__()
            self.fir = torch.nn.Conv1d(1, 1, taps, bias=False)
            self.taps = taps

        def forward(self, wave):
            x = torch.nn.functional.pad(self._check_input(wave)[:, None], (self.taps - 1, 0))
            return {"wave": self.fir(x)[:, 0]}

    m = build("_toy_fir")
    model_checks.forward_backward(m)
    model_checks.causal(m)
    fir = build("_toy_fir")
    torch.nn.init.zeros_(fir.fir.weight)  # start at silence: the first loss is the target's power
    first, best = model_checks.overfit(fir, steps=300, lr=3e-2)
    assert best <= first / 10
