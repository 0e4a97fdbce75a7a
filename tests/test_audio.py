"""Tests of cspec.audio: every format and bit depth loads with the right numbers, bad files raise AudioError
naming the file, save is atomic and careful, resample is exactly soxr."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from cspec.audio import load, resample, save, to_mono, validate
from cspec.errors import AudioError, AudioWarning

SR = 16000


def _tone(n=SR, freqs=(440.0, 660.0), amps=(0.5, 0.3)) -> np.ndarray:
    """(samples, channels) float32 sines, one frequency per channel."""
    t = np.arange(n) / SR
    return np.stack([a * np.sin(2 * np.pi * f * t) for f, a in zip(freqs, amps)], 1).astype(np.float32)


# ----------------------------------------------------------------------------------------------- formats


def test_load_wav_pcm16_is_int_over_32768(tmp_path):
    ints = np.array([[0, 1], [-32768, 32767], [12345, -12345], [100, -1]], dtype=np.int16)
    sf.write(tmp_path / "a.wav", ints, SR, subtype="PCM_16")
    wave, rate = load(tmp_path / "a.wav")
    assert rate == SR and wave.dtype == torch.float32 and wave.shape == (2, 4)
    np.testing.assert_array_equal(wave.numpy(), (ints.T / 32768.0).astype(np.float32))
    assert float(wave.min()) == -1.0


def test_load_wav_pcm24_is_int_over_2_pow_23(tmp_path):
    ints24 = np.array([0, 1, -(2**23), 2**23 - 1, 4_000_000, -77], dtype=np.int64)
    sf.write(tmp_path / "a.wav", (ints24 << 8).astype(np.int32), SR, subtype="PCM_24")
    wave, _ = load(tmp_path / "a.wav")
    assert wave.shape == (1, 6)
    np.testing.assert_array_equal(wave[0].numpy(), (ints24 / 2.0**23).astype(np.float32))


def test_load_wav_pcm32_is_int_over_2_pow_31(tmp_path):
    ints = np.array([0, 2**31 - 1, -(2**31), 123456789, -987654321], dtype=np.int32)
    sf.write(tmp_path / "a.wav", ints, SR, subtype="PCM_32")
    wave, _ = load(tmp_path / "a.wav")
    np.testing.assert_allclose(wave[0].numpy(), ints / 2.0**31, rtol=1e-7, atol=1e-9)


def test_load_float_wav_and_flac_exact(tmp_path):
    x = _tone()
    sf.write(tmp_path / "f.wav", x, SR, subtype="FLOAT")
    wave, _ = load(tmp_path / "f.wav")
    np.testing.assert_array_equal(wave.numpy(), x.T)
    sf.write(tmp_path / "a.flac", x, 22050, subtype="PCM_16")
    wave, rate = load(tmp_path / "a.flac")
    assert rate == 22050
    np.testing.assert_array_equal(wave.numpy(), (np.round(x.T * 32768) / 32768).astype(np.float32))


@pytest.mark.parametrize("ext", ["ogg", "mp3"])
def test_load_lossy_formats_keep_tone_and_level(tmp_path, ext):
    x = _tone()
    sf.write(tmp_path / f"a.{ext}", x, SR)
    wave, rate = load(tmp_path / f"a.{ext}")
    assert rate == SR and wave.shape[0] == 2 and abs(wave.shape[1] - SR) <= 2048
    y = wave.numpy()
    for ch, (freq, amp) in enumerate([(440, 0.5), (660, 0.3)]):
        spec = np.abs(np.fft.rfft(y[ch]))
        assert abs(np.argmax(spec) * SR / y.shape[1] - freq) <= 2  # the tone's frequency survives, in Hz
        np.testing.assert_allclose(np.sqrt(np.mean(y[ch] ** 2)), amp / np.sqrt(2), rtol=0.03)  # and its level


def test_load_multichannel_mono_and_resample(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (8000, 4)).astype(np.float32)
    sf.write(tmp_path / "m.wav", x, SR, subtype="FLOAT")
    wave, _ = load(tmp_path / "m.wav")
    assert wave.shape == (4, 8000)
    mono, _ = load(tmp_path / "m.wav", mono=True)
    assert mono.shape == (1, 8000)
    np.testing.assert_allclose(mono[0].numpy(), x.mean(1), atol=1e-7)
    down, rate = load(tmp_path / "m.wav", sr=8000)
    assert rate == 8000 and down.shape == (4, 4000)
    ref = soxr.resample(x.astype(np.float64), SR, 8000, quality="VHQ").T.astype(np.float32)
    np.testing.assert_array_equal(down.numpy(), ref)


# ------------------------------------------------------------------------------------------- bad inputs


def _raises_naming(path, match=None):
    with pytest.raises(AudioError) as err:
        load(path)
    msg = str(err.value)
    assert str(path) in msg, msg
    if match:
        assert match in msg, msg
    return msg


def test_missing_file(tmp_path):
    _raises_naming(tmp_path / "nope.wav", "no such file")


def test_empty_file(tmp_path):
    (tmp_path / "e.wav").write_bytes(b"")
    _raises_naming(tmp_path / "e.wav", "empty")


def test_folder(tmp_path):
    (tmp_path / "d.wav").mkdir()
    _raises_naming(tmp_path / "d.wav", "folder")


def test_text_renamed_wav(tmp_path):
    (tmp_path / "t.wav").write_text("this is not audio, just some words\n" * 20)
    _raises_naming(tmp_path / "t.wav", "not a readable audio file")


def test_truncated_wav(tmp_path):
    sf.write(tmp_path / "full.wav", _tone(), SR, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    msg = _raises_naming(tmp_path / "cut.wav", "truncated")
    # the header announces 16000 frames; about half of the 2-channel 16-bit data is there
    assert "of the 16000 frames" in msg


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_float_wav(tmp_path, bad):
    x = _tone(1000)
    x[123, 1] = bad
    x[500, 0] = bad
    sf.write(tmp_path / "n.wav", x, SR, subtype="FLOAT")
    msg = _raises_naming(tmp_path / "n.wav", "NaN or Inf")
    assert "2 samples" in msg and "first at sample 123" in msg
    wave, _ = load(tmp_path / "n.wav", allow_nonfinite=True)
    assert int((~torch.isfinite(wave)).sum()) == 2


def test_zero_length_wav(tmp_path):
    sf.write(tmp_path / "z.wav", np.zeros((0, 1), np.float32), SR)
    assert (tmp_path / "z.wav").stat().st_size > 0  # a header, but no frames
    _raises_naming(tmp_path / "z.wav", "zero length")


def test_validate_and_to_mono():
    with pytest.raises(AudioError, match="zero length"):
        validate(torch.zeros(2, 0), name="x")
    assert to_mono(torch.tensor([1.0, 3.0])).shape == (1, 2)
    np.testing.assert_array_equal(to_mono(torch.tensor([[1.0, 2.0], [3.0, 6.0]])).numpy(), [[2.0, 4.0]])


# ------------------------------------------------------------------------------------------------- save


def test_save_roundtrip_and_no_temp_files(tmp_path):
    x = torch.from_numpy(_tone().T.copy())
    out = save(tmp_path / "o.wav", x, SR)
    assert out == tmp_path / "o.wav"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.wav"]
    back, rate = sf.read(out, dtype="float32", always_2d=True)
    assert rate == SR and sf.info(out).subtype == "PCM_16"
    np.testing.assert_allclose(back.T, x.numpy(), atol=1 / 32768 + 1e-7)
    save(tmp_path / "mono.flac", x[0], SR)
    assert sf.info(tmp_path / "mono.flac").channels == 1


def test_save_refuses_existing_unless_overwrite(tmp_path):
    path = tmp_path / "o.wav"
    save(path, torch.zeros(100), SR)
    before = path.read_bytes()
    with pytest.raises(AudioError, match="exists"):
        save(path, torch.full((100,), 0.5), SR)
    assert path.read_bytes() == before
    save(path, torch.full((100,), 0.5), SR, overwrite=True)
    np.testing.assert_allclose(sf.read(path)[0], 0.5, atol=1 / 32768)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.wav"]


def test_save_refuses_input_path_even_with_overwrite(tmp_path):
    src = tmp_path / "in.wav"
    save(src, torch.zeros(100), SR)
    before = src.read_bytes()
    for target in (src, tmp_path / "." / "in.wav"):
        with pytest.raises(AudioError, match="input file"):
            save(target, torch.ones(100) * 0.1, SR, overwrite=True, protect=(src,))
    assert src.read_bytes() == before


def test_save_failures_leave_no_temp_file(tmp_path):
    with pytest.raises(AudioError, match="NaN or Inf"):
        save(tmp_path / "n.wav", torch.tensor([0.0, float("nan")]), SR)
    with pytest.raises(AudioError, match="unknown output format"):
        save(tmp_path / "x.xyz", torch.zeros(10), SR)
    with pytest.raises(AudioError, match="cannot write"):
        save(tmp_path / "bad.wav", torch.zeros(10), SR, subtype="VORBIS")  # libsndfile rejects it mid-write
    with pytest.raises(AudioError, match="samples > 0"):
        save(tmp_path / "e.wav", torch.zeros(2, 0), SR)
    assert list(tmp_path.iterdir()) == []


def test_save_clips_pcm(tmp_path):
    with pytest.warns(AudioWarning, match=r"2 of 3 samples .* clipped"):  # never silently
        save(tmp_path / "c.wav", torch.tensor([2.0, -3.0, 0.25]), SR)
    np.testing.assert_allclose(sf.read(tmp_path / "c.wav")[0], [32767 / 32768, -1.0, 0.25])


# --------------------------------------------------------------------------------------------- resample


def test_resample_matches_soxr_and_keeps_shape():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4410)
    y = resample(x, 44100, 16000)
    assert y.shape == (2, 3, 1600) and y.dtype == torch.float32
    flat = x.reshape(6, -1).double().numpy()
    ref = soxr.resample(flat.T.copy(), 44100, 16000, quality="VHQ").T.astype(np.float32)
    np.testing.assert_array_equal(y.reshape(6, -1).numpy(), ref)
    one = soxr.resample(flat[4], 44100, 16000, quality="VHQ").astype(np.float32)  # channels are independent
    np.testing.assert_allclose(y.reshape(6, -1)[4].numpy(), one, atol=1e-6)
    assert resample(x, 16000, 16000) is x
    h = resample(x[0, 0].double(), 44100, 22050, quality="HQ")
    assert h.shape == (2205,) and h.dtype == torch.float64
    np.testing.assert_array_equal(h.numpy(), soxr.resample(flat[0], 44100, 22050, quality="HQ"))
    with pytest.raises(AudioError, match="positive"):
        resample(x, 0, 16000)
