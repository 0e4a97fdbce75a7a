"""The two-stage GTCRN cascade: the mask by hand, identity at the start, a frozen first stage, streaming and ONNX
equal to offline, and recipes/pool/make_two_stage.py (output equal to the single model it starts from)."""

from __future__ import annotations

import pytest
import torch

from cspec.errors import ConfigError
from cspec.models import build, load, save
from cspec.models.blocks.crn_common import causal_stft

from ..conftest import input_dependent, recipe_script

SMALL = dict(channels=8, hidden=8, dilations=(1,), n_dprnn=1)


def _cascade(**options):
    torch.manual_seed(0)
    return _reading_noisy(input_dependent(build("gtcrn_two_stage", first=SMALL, second=SMALL, **options)).eval())


def _reading_noisy(model):
    """``model`` with random values in its last stage's weights on the noisy spectrum, which start at zero, as
    training would leave them (nothing changes without ``second_sees_noisy``: there are none)."""
    with torch.no_grad():
        model.second.input_conv.weight[:, model.second.FEATURES_PER_INPUT:].normal_(0, 0.3)
    return model


def _three_stages(**options):
    """A cascade whose first stage is a cascade (``first_model="gtcrn_two_stage"``)."""
    inner = dict(first=SMALL, second=SMALL)
    torch.manual_seed(0)
    return _reading_noisy(input_dependent(build("gtcrn_two_stage", first=inner, second=SMALL,
                                                first_model="gtcrn_two_stage", **options)).eval())


def test_two_stage_forward_backward_and_causal(model_checks):
    torch.manual_seed(0)
    model = build("gtcrn_two_stage", freeze_first=False)
    assert model.n_parameters() == 2 * build("gtcrn").n_parameters()
    out = model_checks.forward_backward(model)
    assert out["mask"].shape == out["spec"].shape
    model_checks.causal(_cascade())


def test_two_stage_mask_is_the_second_stage_on_the_first_ones_estimate():
    model = _cascade()
    x = 0.1 * torch.randn(2, 6000)
    with torch.no_grad():
        out = model(x)
        first = model.first(x)  # GTCRN on its own: its masked spectrum
        expected = first["spec"] * model.second.estimate_mask(first["spec"])
    torch.testing.assert_close(out["spec"], expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out["mask"], first["mask"] * model.second.estimate_mask(first["spec"]),
                               atol=1e-6, rtol=1e-5)


def test_second_stage_seeing_the_noisy_spectrum():
    model = _cascade(second_sees_noisy=True)
    assert model.second.extra_inputs == 1
    x = 0.1 * torch.randn(2, 6000)
    with torch.no_grad():
        first = model.first(x)
        noisy = causal_stft(x, model.stft_config)
        m2 = torch.complex(*model.second.mask_pair(first["spec"].real, first["spec"].imag, noisy.real, noisy.imag))
        torch.testing.assert_close(model(x)["mask"], first["mask"] * m2, atol=1e-5, rtol=1e-4)
        plain = _cascade()  # the same weights but those on the noisy spectrum, which matter
        assert not torch.allclose(plain(x)["mask"], model(x)["mask"], atol=1e-3)
    fresh = build("gtcrn", **SMALL, extra_inputs=1).eval()  # at initialisation the extra spectrum is not read
    re, im = torch.randn(2, 1, 257, 9).unbind(0)
    with torch.no_grad():
        a, b = fresh.mask_pair(re, im, torch.randn_like(re), torch.randn_like(im)), fresh.mask_pair(re, im, re, im)
    torch.testing.assert_close(a, b)
    with pytest.raises(ConfigError, match="extra spectra"):
        fresh.mask_pair(re, im)
    with pytest.raises(ConfigError, match="extra_inputs"):
        build("gtcrn", extra_inputs=-1)
    with pytest.raises(ConfigError, match="second_sees_noisy"):
        build("gtcrn_two_stage", second={"extra_inputs": 1})


def test_three_stages_mask_by_hand():
    model = _three_stages(second_sees_noisy=True)
    x = 0.1 * torch.randn(1, 6000)
    with torch.no_grad():
        inner = model.first(x)  # the two-stage cascade on its own
        noisy = causal_stft(x, model.stft_config)
        m3 = torch.complex(*model.second.mask_pair(inner["spec"].real, inner["spec"].imag, noisy.real, noisy.imag))
        torch.testing.assert_close(model(x)["spec"], inner["spec"] * m3, atol=1e-5, rtol=1e-4)
    assert model.n_parameters() == model.second.n_parameters()  # both inner stages frozen
    with pytest.raises(ConfigError, match="first_model"):
        build("gtcrn_two_stage", first_model="crn")


def test_second_stage_starts_as_the_identity():
    torch.manual_seed(0)
    model = build("gtcrn_two_stage", first=SMALL, second=SMALL, identity_bias=0.8).eval()
    assert model.second.mask_gain == pytest.approx(1 / torch.tanh(torch.tensor(0.8)).item())
    x = 0.1 * torch.randn(1, 6000)
    with torch.no_grad():
        re, im = torch.randn(1, 257, 9), torch.randn(1, 257, 9)
        m2r, m2i = model.second.mask_pair(re, im)
        torch.testing.assert_close(m2r, torch.ones_like(m2r))
        torch.testing.assert_close(m2i, torch.zeros_like(m2i))
        torch.testing.assert_close(model(x)["wave"], model.first(x)["wave"])
    with pytest.raises(ConfigError, match="identity_bias"):
        build("gtcrn_two_stage", identity_bias=0)
    with pytest.raises(ConfigError, match="lookahead_frames"):
        build("gtcrn_two_stage", second={"lookahead_frames": 2})


def test_frozen_first_stage_does_not_change_in_training():
    model = _cascade()
    model.train()
    assert not model.first.training and model.second.training
    before = {k: v.clone() for k, v in model.first.state_dict().items()}
    second_before = {k: v.clone() for k, v in model.second.state_dict().items()}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = 0.1 * torch.randn(2, 4000)
    for _ in range(3):
        opt.zero_grad()
        model(x)["wave"].square().mean().backward()
        opt.step()
    assert all(p.grad is None for p in model.first.parameters())
    assert all(torch.equal(v, model.first.state_dict()[k]) for k, v in before.items())  # BN statistics too
    assert any(not torch.equal(v, model.second.state_dict()[k]) for k, v in second_before.items())
    assert model.n_parameters() == model.second.n_parameters()


@pytest.mark.parametrize("make", [_cascade, lambda: _three_stages(second_sees_noisy=True)],
                         ids=["two-stage", "three-stage-sees-noisy"])
def test_two_stage_streams_and_exports_like_offline(tmp_path, make):
    from cspec.infer import OnnxModel, Stream, export_onnx

    model = make()
    x = 0.1 * torch.randn(4096)
    with torch.no_grad():
        ref = model(x[None])["wave"][0]
    frames = OnnxModel(export_onnx(model, tmp_path / "f.onnx", mode="frames"))
    for runner in (model, frames):
        stream = Stream(runner)
        got = torch.cat([torch.as_tensor(stream.process(x[i: i + 700])) for i in range(0, 4096, 700)]
                        + [torch.as_tensor(stream.flush())])
        assert float((got - ref).abs().max()) <= 1e-4
    offline = OnnxModel(export_onnx(model, tmp_path / "w.onnx"))
    assert float((torch.as_tensor(offline(x[None])["wave"][0]) - ref).abs().max()) <= 1e-4
    again = load(save(model, tmp_path / "m")).eval()
    with torch.no_grad():
        torch.testing.assert_close(again(x[None])["wave"][0], ref)


def test_make_two_stage_starts_at_the_single_models_output(tmp_path, capsys):
    mts = recipe_script("make_two_stage")
    torch.manual_seed(0)
    single = input_dependent(build("gtcrn", **SMALL))
    save(single, tmp_path / "single")
    assert mts.main([str(tmp_path / "single"), str(tmp_path / "two")]) == 0
    two = load(tmp_path / "two").eval()
    x = 0.1 * torch.randn(1, 6000)
    with torch.no_grad():
        torch.testing.assert_close(two(x)["wave"], single.eval()(x)["wave"], atol=1e-6, rtol=1e-5)
    head = mts.mask_head_prefix(two.second)
    for name, p in two.second.named_parameters():  # the second stage is a copy but for its identity head
        if not name.startswith(head):
            assert torch.equal(p, dict(single.named_parameters())[name]), name
    assert not two.second.mask_norm.weight.any()
    before = (tmp_path / "two" / "model.safetensors").read_bytes()
    assert mts.main([str(tmp_path / "single"), str(tmp_path / "two")]) == 2
    assert (tmp_path / "two" / "model.safetensors").read_bytes() == before
    assert "exists" in capsys.readouterr().err
    # from a cascade: a third stage, here reading the noisy spectrum too; the output is still the source's
    assert mts.main([str(tmp_path / "two"), str(tmp_path / "three"), "--sees-noisy"]) == 0
    three = load(tmp_path / "three").eval()
    assert three.config["first_model"] == "gtcrn_two_stage" and three.second_sees_noisy
    with torch.no_grad():
        torch.testing.assert_close(three(x)["wave"], single(x)["wave"], atol=1e-6, rtol=1e-5)
    assert torch.equal(three.second.encoder[0][0].weight[:, :9], two.second.encoder[0][0].weight)
    assert not three.second.encoder[0][0].weight[:, 9:].any()
    # a wider fresh last stage: still the source's output at the start, its own width
    assert mts.main([str(tmp_path / "two"), str(tmp_path / "wide"), "--width", "12"]) == 0
    wide = load(tmp_path / "wide")
    assert wide.second.config["channels"] == 12 and wide.second.config["hidden"] == 12
    with torch.no_grad():
        torch.testing.assert_close(wide(x)["wave"], single(x)["wave"], atol=1e-6, rtol=1e-5)
    assert mts.main([str(tmp_path / "two"), str(tmp_path / "w0"), "--width", "0"]) == 2
    assert "--width" in capsys.readouterr().err and not (tmp_path / "w0").exists()
    save(build("crn"), tmp_path / "crn")
    assert mts.main([str(tmp_path / "crn"), str(tmp_path / "x")]) == 2
    assert "must be a GTCRN" in capsys.readouterr().err
