"""GTCRN (Rong et al. 2024): contract checks, the paper's parameter counts, ERB/SFE/mask by hand, exact look-ahead."""

import pytest
import torch
from torch import nn

from cspec.models import build
from cspec.models.blocks.crn_gtcrn import SFE, erb_filterbank

from ..conftest import input_dependent

SMALL = dict(channels=8, hidden=8, dilations=(1,), n_dprnn=1)


def _same_weights(**options):
    """A small float64 GTCRN, the same weights under ``options``, and a test waveform (seed 0)."""
    torch.manual_seed(0)
    plain = input_dependent(build("gtcrn", **SMALL)).double().eval()
    variant = build("gtcrn", **SMALL, **options).double().eval()
    variant.load_state_dict(plain.state_dict())
    return plain, variant, 0.1 * torch.randn(1, 4096, dtype=torch.float64)


def test_gtcrn_paper_parameter_counts(model_checks):
    model = build("gtcrn")
    model_checks.param_count_close(model, 0.0237)  # the ICASSP paper: 23.7 k (ERB matrices not counted)
    assert abs(model.n_parameters_with_erb() - 48_200) <= 0.05 * 48_200  # the authors' repository: 48.2 k
    assert model.n_parameters() < 100_000


def test_gtcrn_forward_backward(model_checks):
    out = model_checks.forward_backward(build("gtcrn"))
    assert out["spec"].shape[-2] == 257 and out["mask"].shape == out["spec"].shape


def test_gtcrn_overfit(model_checks):
    torch.manual_seed(0)
    model_checks.overfit(build("gtcrn", **SMALL), steps=100, lr=1e-2)


def test_gtcrn_causal(model_checks):
    torch.manual_seed(0)
    model_checks.causal(input_dependent(build("gtcrn", **SMALL)))
    model_checks.causal(input_dependent(build("gtcrn", **SMALL, df_order=3)))  # the deep filter reads past frames


def test_erb_sfe_and_mask_by_hand():
    fb = erb_filterbank(65, 64)
    assert fb.shape == (64, 192) and (fb >= 0).all()
    torch.testing.assert_close(fb.sum(0), torch.ones(192))  # triangles cross at half height: a partition of one
    x = torch.randn(2, 3, 5, 11)
    ref = nn.Unfold((1, 3), padding=(0, 1))(x).reshape(2, 9, 5, 11)  # the paper's SFE as an unfold
    torch.testing.assert_close(SFE(3)(x), ref)
    torch.manual_seed(0)
    model = input_dependent(build("gtcrn", **SMALL)).eval()
    wave = torch.randn(1, 4000)
    with torch.no_grad():
        out = model(wave)
    m = out["mask"]
    assert m.real.abs().max() <= 1 and m.imag.abs().max() <= 1  # tanh parts, ERB splitting keeps them in (-1, 1)
    noisy = torch.stft(wave, 512, 256, 512, torch.hann_window(512).sqrt(), center=True, pad_mode="constant",
                       return_complex=True)  # zero-centred sqrt-Hann frames: zeros of the past, none of the future
    torch.testing.assert_close(out["spec"], m * noisy)


def test_gtcrn_initial_mask_is_a_constant_real_gain():
    model = build("gtcrn").eval()
    with torch.no_grad():
        out = model(0.1 * torch.randn(2, 8000))
    assert torch.allclose(out["mask"], torch.full_like(out["mask"], torch.tanh(torch.tensor(0.5)).item()))


def test_gtcrn_lookahead_exact():
    """Perturb one input sample at each of ``hop`` positions (float64): the farthest back an output moves is the
    look-ahead, 510 = win - 2 (the sqrt-Hann window's first sample is zero)."""
    torch.manual_seed(0)
    model = input_dependent(build("gtcrn", **SMALL)).double().eval()
    hop, n, start = 256, 2048, 1200
    base = 0.1 * torch.randn(1, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pos = torch.arange(start, start + hop)
    batch = base.repeat(hop, 1)
    batch[torch.arange(hop), pos] += 1.0
    with torch.no_grad():
        changed = (model(batch)["wave"] - model(base)["wave"]).abs() > 1e-12
    assert changed.any(-1).all()
    assert int((pos - changed.double().argmax(-1)).max()) == model.lookahead() == 510


def test_gtcrn_frame_lookahead(tmp_path):
    """lookahead_frames=L: the same weights, the mask of frame t taken from the network's output at t + L; the
    perturbation test then finds 510 + L x 256 samples of look-ahead. Stream and frame-wise ONNX refuse it."""
    from cspec.errors import ConfigError
    from cspec.infer import OnnxModel, Stream, export_onnx
    from cspec.models import load, save

    causal, ahead, wave = _same_weights(lookahead_frames=2)
    with torch.no_grad():
        m0 = causal(torch.nn.functional.pad(wave, (0, 512)))["mask"]  # two more frames of input: zeros
        m2 = ahead(wave)["mask"]
    torch.testing.assert_close(m2, m0[..., 2:2 + m2.shape[-1]])  # frame t gets the mask computed at t + 2
    hop, n, start = 256, 3072, 1200
    pos = torch.arange(start, start + hop)
    base = 0.1 * torch.randn(1, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    batch = base.repeat(hop, 1)
    batch[torch.arange(hop), pos] += 1.0
    with torch.no_grad():
        changed = (ahead(batch)["wave"] - ahead(base)["wave"]).abs() > 1e-12
    assert int((pos - changed.double().argmax(-1)).max()) == ahead.lookahead() == 510 + 2 * 256
    assert load(save(ahead, tmp_path / "m")).lookahead_frames == 2
    with pytest.raises(ConfigError, match="2 frames ahead"):
        Stream(ahead)
    with pytest.raises(ConfigError, match="2 frames ahead"):
        export_onnx(ahead.float(), tmp_path / "m.onnx", mode="frames")
    with pytest.raises(ConfigError, match="lookahead_frames"):
        build("gtcrn", lookahead_frames=-1)
    export_onnx(ahead.float(), tmp_path / "m.onnx")  # offline export: the padding and shift are in the graph
    with torch.no_grad():
        ref = ahead.float()(wave.float())["wave"]
    got = torch.as_tensor(OnnxModel(tmp_path / "m.onnx")(wave.float())["wave"])
    assert (got - ref).abs().max() < 1e-4


def test_negate_mask_flips_the_output_polarity_exactly():
    torch.manual_seed(0)
    model = input_dependent(build("gtcrn"))
    for m in model.modules():  # non-trivial BatchNorm statistics, as after training
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    model.eval()
    x = 0.1 * torch.randn(1, 8000)
    with torch.no_grad():
        before = model(x)
        after = model.negate_mask()(x)
    assert torch.allclose(after["mask"], -before["mask"], atol=1e-6)
    assert torch.allclose(after["wave"], -before["wave"], atol=1e-6)


def test_mask_gain_scales_the_output_exactly_offline_streaming_and_onnx(tmp_path):
    """mask_gain g multiplies the mask, hence (iSTFT being linear) the output, by g; Stream and frame-wise ONNX
    run the same mask path, so they carry it too."""
    from cspec.errors import ConfigError
    from cspec.infer import OnnxModel, Stream, export_onnx
    from cspec.models import load, save

    plain, loud, wave = _same_weights(mask_gain=1.25)
    with torch.no_grad():
        ref, out = plain(wave), loud(wave)
    torch.testing.assert_close(out["mask"], 1.25 * ref["mask"])
    torch.testing.assert_close(out["wave"], 1.25 * ref["wave"])
    x = wave[0].float()
    with torch.no_grad():
        ref32 = loud.float()(x[None])["wave"][0]
    frames = OnnxModel(export_onnx(loud, tmp_path / "f.onnx", mode="frames"))
    for runner in (loud, frames):  # PyTorch and ONNX frame by frame
        stream = Stream(runner)
        got = torch.cat([stream.process(x[i: i + 700]) for i in range(0, x.shape[-1], 700)] + [stream.flush()])
        assert float((torch.as_tensor(got) - ref32).abs().max()) <= 1e-4
    assert load(save(loud, tmp_path / "m")).mask_gain == 1.25
    offline = OnnxModel(export_onnx(loud, tmp_path / "w.onnx"))
    assert float((torch.as_tensor(offline(x[None])["wave"][0]) - ref32).abs().max()) <= 1e-4
    for bad in (0, -1.0, float("inf")):
        with pytest.raises(ConfigError, match="mask_gain"):
            build("gtcrn", mask_gain=bad)
