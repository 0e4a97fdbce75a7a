"""Small models for the inference tests: a non-causal STFT mask model with a short receptive field, and a causal
time-domain one (the bounded-context streaming path)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from cspec.models import SpeechModel, build

from ..conftest import input_dependent
from cspec.spectral.stft import STFTConfig, istft, stft


class LocalMask(SpeechModel):
    """Non-causal: a complex mask from a conv over +-3 frames (receptive field < 0.15 s at hop 128)."""

    sample_rate = 16000
    stft_config = STFTConfig(512, 128, 512, "hann")
    causal = False

    def __init__(self, frames: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, (3, 2 * frames + 1), padding=(1, frames))

    def forward(self, wave):
        wave = self._check_input(wave)
        y = stft(wave, self.stft_config)
        m = torch.tanh(self.conv(torch.stack([y.real, y.imag], 1)))
        spec = y * torch.complex(m[:, 0], m[:, 1])
        return {"wave": istft(spec, self.stft_config, length=wave.shape[-1])}


class CausalFIR(SpeechModel):
    """Causal time-domain model with a 64-sample receptive field (no STFT, no state)."""

    sample_rate = 8000
    causal = True

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 64)

    def forward(self, wave):
        wave = self._check_input(wave)
        return {"wave": torch.tanh(self.conv(nn.functional.pad(wave[:, None], (63, 0))))[:, 0]}


@pytest.fixture
def local_mask():
    torch.manual_seed(0)
    return LocalMask().eval()


@pytest.fixture
def causal_fir():
    torch.manual_seed(0)
    return CausalFIR().eval()


def small(name: str):
    """Registered models at random initialisation, shrunk where the paper size is slow on a CPU."""
    torch.manual_seed(0)
    kw = {"crn": {"channels": (8, 8, 16, 16, 16)}, "gcrn": {"channels": (8, 8, 16, 16, 16)},
          "dccrn-cl": {"channels": (4, 8, 8), "rnn_units": 32}, "dccrn-e": {"channels": (4, 8, 8), "rnn_units": 32}}
    variants = {"gtcrn-wide": {"hidden": 32, "dprnn_scale": 2},  # a grown GTCRN (GTCRN.grow_from)
                "gtcrn-df": {"df_order": 3}}  # with a deep filter
    if name in variants:
        return input_dependent(build("gtcrn", **variants[name])).eval()
    return input_dependent(build(name, **kw.get(name, {}))).eval()


DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def dev_clip(seconds: float = 2.0, rate: int = 16000) -> torch.Tensor:
    """The first ``seconds`` of the first noisy dev-set clip at ``rate`` ``(1, samples)``: real input for the
    export tests beside the random one."""
    from cspec.audio import load, resample

    clips = sorted((DATA / "dev_pairs" / "noisy").glob("*.flac"))
    if not clips:
        pytest.fail(f"no dev pairs under {DATA / 'dev_pairs'}: set CSPEC_DATA to the shared data folder")
    wave, sr = load(clips[0], mono=True)
    return resample(wave, sr, rate)[:, : int(seconds * rate)]


def assert_export_equal(model, runner, inputs, atol: float = 1e-4) -> None:
    """``runner`` (an :class:`OnnxModel`) gives ``model``'s waveform within ``atol`` on every input."""
    for x in inputs:
        with torch.no_grad():
            ref = model(x)["wave"]
        out = runner(x)["wave"]
        assert out.shape == ref.shape
        assert float((out - ref).abs().max()) <= atol
