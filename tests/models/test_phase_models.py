"""Learned phase models: NSPP's phase predictor (Ai & Ling 2023) and DeGLI (Masuyama et al. 2019/2021).

Checked against independent facts: the receptive field by perturbation (a change at one frame moves the phase
exactly that many frames away and no further), block-wise prediction equal to one pass, DeGLI's block with a zero
residual equal to a Griffin-Lim step of librosa, and the loader's one-line refusals."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from cspec.errors import ConfigError
from cspec.infer.phase import LearnedPhase
from cspec.models import build, save
from cspec.phase import reconstruct
from cspec.spectral.stft import get_preset, istft, stft


@pytest.fixture(scope="module")
def nspp():
    torch.manual_seed(0)
    return build("nspp", channels=8, kernels=(3, 5), dilations=(1, 2)).eval()


def test_phase_is_wrapped_and_the_receptive_field_is_exact(nspp):
    mag = torch.rand(1, 257, 60) + 0.01
    with torch.no_grad():
        p0 = nspp.predict_phase(mag)
        bumped = mag.clone()
        bumped[..., 30] *= 5.0
        p1 = nspp.predict_phase(bumped)
    assert p0.shape == mag.shape and float(p0.abs().max()) <= np.pi + 1e-6
    moved = (p1 - p0).abs().amax(dim=(0, 1)) > 1e-6
    reach = nspp.receptive_field()
    assert reach == 3 + max(sum(d * (k - 1) // 2 + (k - 1) // 2 for d in (1, 2)) for k in (3, 5)) + 3 == 16
    assert moved[30 - reach] and moved[30 + reach]
    assert not moved[: 30 - reach].any() and not moved[30 + reach + 1:].any()


def test_blockwise_prediction_equals_one_pass(nspp):
    mag = torch.rand(2, 257, 500) + 0.01
    whole = LearnedPhase([nspp], block=10 ** 6).phase(mag, "hann512-128")
    blocks = LearnedPhase([nspp], block=37).phase(mag, "hann512-128")
    torch.testing.assert_close(blocks, whole, atol=1e-5, rtol=0)


def test_learned_with_no_iterations_is_the_predicted_phase(nspp):
    x = torch.randn(16000)
    cfg = get_preset("hann512-128")
    mag = stft(x, cfg).abs()
    lp = LearnedPhase([nspp])
    got = reconstruct(mag, "learned", n_iter=0, config=cfg, length=16000, model=lp)
    with torch.no_grad():
        want = istft(torch.polar(mag, nspp.predict_phase(mag)), cfg, 16000)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    # FGLA after the prediction moves the spectrum towards the magnitude (spectral convergence falls)
    sc = [float((stft(w, cfg).abs() - mag).norm() / mag.norm())
          for w in (got, reconstruct(mag, "learned", n_iter=20, config=cfg, length=16000, model=lp))]
    assert sc[1] < sc[0]


def test_degli_block_with_zero_residual_is_a_griffin_lim_step_of_librosa():
    torch.manual_seed(1)
    model = build("degli", channels=4, first_kernel=(3, 3), kernel=(3, 3)).eval()
    torch.nn.init.zeros_(model.out.weight)
    torch.nn.init.zeros_(model.out.bias)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(8000).astype(np.float64)
    cfg = get_preset("hann512-128")
    mag = stft(torch.from_numpy(x), cfg).abs()
    with torch.no_grad():  # X0 = A (zero phase); X1 = P_C(P_A(X0)); output iSTFT(P_A(X1))
        spec = model.iterate(mag.float(), torch.zeros_like(mag).float(), 1, 8000).to(torch.complex128)
        ours = istft(torch.polar(mag, spec.angle()), cfg, 8000).numpy()
    ref = librosa.griffinlim(mag.numpy(), n_iter=1, hop_length=128, n_fft=512, window="hann", center=True,
                             pad_mode="constant", momentum=0.0, init=None, length=8000)
    assert np.max(np.abs(ours - ref)) < 1e-4 * np.max(np.abs(ref))


def test_degli_training_step_adds_noise_only_in_training():
    model = build("degli", channels=4, first_kernel=(3, 3), kernel=(3, 3))
    x = torch.randn(2, 4000)
    model.eval()
    with torch.no_grad():
        a, b = model(x)["spec"], model(x)["spec"]
    torch.testing.assert_close(a, b)
    model.train()
    with torch.no_grad():
        assert not torch.allclose(model(x)["spec"], model(x)["spec"])


def test_family_folder_picks_by_stft_and_refuses_others(tmp_path):
    for preset in ("hann512-128", "hann512-256"):
        save(build("nspp", preset=preset, channels=4, kernels=(3,), dilations=(1,)), tmp_path / "fam" / preset)
    lp = LearnedPhase.from_pretrained(tmp_path / "fam")
    assert lp.supported == ["hann512-128", "hann512-256"]
    assert lp.model_for(get_preset("hann512-256").replace(source="mine")).preset == "hann512-256"
    with pytest.raises(ConfigError, match="trained for hann512-128, hann512-256 only, not mpsenet"):
        reconstruct(torch.rand(201, 20), "learned", config="mpsenet", model=lp)
    save(build("gtcrn"), tmp_path / "enh")
    with pytest.raises(ConfigError, match="not a phase model"):
        LearnedPhase.from_pretrained(tmp_path / "enh")
    with pytest.raises(ConfigError, match="no pretrained model or model folder 'nope'"):
        LearnedPhase.from_pretrained("nope")


def test_unrolled_output_is_fgla_from_the_prediction_and_trains_through_silence():
    """unroll=k: forward's waveform is k FGLA iterations from the predicted phase (the classical loop, run here with
    gradients; without them cspec.phase runs its in-place loop: both must agree), and digital silence in the
    input gives finite gradients (sgn's gradient 1/|z| is cut at silent bins)."""
    from cspec.phase import fast_griffin_lim

    torch.manual_seed(1)
    model = build("nspp", preset="hann512-256", channels=8, kernels=(3,), dilations=(1,), unroll=4)
    wave = torch.randn(2, 8000) * 0.1
    wave[:, 2000:5000] = 0.0  # digital silence
    out = model(wave)
    with torch.no_grad():
        mag = stft(wave, get_preset("hann512-256")).abs()
        ref = fast_griffin_lim(mag, 4, "hann512-256", 8000, momentum=0.99, init=model.predict_phase(mag))
    torch.testing.assert_close(out["wave"].detach(), ref, atol=1e-5, rtol=1e-4)
    out["wave"].pow(2).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
    with pytest.raises(ConfigError, match="unroll is a number of FGLA iterations >= 0"):
        build("nspp", unroll=-1)
