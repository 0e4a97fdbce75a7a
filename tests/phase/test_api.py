"""reconstruct(): every method by name, lengths, shapes, presets, initial phases and errors."""

from __future__ import annotations

import pytest
import torch

from cspec.errors import ConfigError
from cspec.metrics.spectral import spectral_convergence_db
from cspec.phase import METHODS, fast_griffin_lim, pghi_phase, reconstruct
from cspec.spectral.stft import STFTConfig, get_preset, stft


@pytest.mark.parametrize("method", sorted(set(METHODS) - {"learned"}))  # learned: tests/models/test_phase_models.py
def test_every_method_returns_the_requested_length(method):
    torch.manual_seed(0)
    x = torch.randn(2, 1, 5037)
    mag = stft(x, "mpsenet").abs()
    out = reconstruct(mag, method, n_iter=4, length=5037)
    assert out.shape == (2, 1, 5037) and out.dtype == torch.float32 and torch.isfinite(out).all()
    default = reconstruct(mag[0, 0], method, n_iter=2)
    assert default.shape == (100 * (mag.shape[-1] - 1),)  # mpsenet hop 100
    assert reconstruct(mag[0, 0].half(), method, n_iter=1).dtype == torch.float32  # half is computed in float32


def test_names_configs_and_inits_agree(speech):
    x = speech[:16000]
    cfg = get_preset("fullsubnet")
    spec = stft(x, cfg)
    mag = spec.abs()
    # a preset name and its config give the same result; a complex input is taken by its modulus
    torch.testing.assert_close(reconstruct(spec, "gla", 5, "fullsubnet", 16000), reconstruct(mag, "gla", 5, cfg, 16000))
    # "pghi+fgla" is FGLA started from PGHI's phase
    a = reconstruct(mag, "pghi+fgla", 10, cfg, 16000)
    b = fast_griffin_lim(mag, 10, cfg, 16000, init=pghi_phase(mag, cfg))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(reconstruct(mag, "fgla", 10, cfg, 16000, init="pghi"), a)
    # the true phase as init: already consistent, so 3 iterations keep SC near 0 (-60 dB or better)
    exact = reconstruct(mag, "gla", 3, cfg, 16000, init=spec)
    assert spectral_convergence_db(mag, exact, cfg).item() < -60.0


def test_pghi_start_beats_random_start(speech):
    cfg = STFTConfig(512, 128)
    mag = stft(speech, cfg).abs()
    n = speech.shape[-1]
    rnd = spectral_convergence_db(mag, reconstruct(mag, "fgla", 20, cfg, n), cfg).item()
    warm = spectral_convergence_db(mag, reconstruct(mag, "pghi+fgla", 20, cfg, n), cfg).item()
    gla_warm = spectral_convergence_db(mag, reconstruct(mag, "pghi+gla", 20, cfg, n), cfg).item()
    assert warm < rnd - 3.0 and gla_warm < rnd


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="gla, fgla, rtisi, pghi, pghi\\+fgla, pghi\\+gla"):
        reconstruct(torch.ones(201, 5), "wavenet")
    with pytest.raises(ConfigError, match="unknown STFT preset"):
        reconstruct(torch.ones(201, 5), "gla", config="nope")
