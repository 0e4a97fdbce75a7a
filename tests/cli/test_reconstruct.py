"""Tests of ``cspec reconstruct``: the numbers it prints are recomputed here independently (an STFT by hand in
numpy, the pesq package, soxr), its output file is what it says, and user errors are one line on stderr, never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pesq
import pytest
import soundfile as sf
import soxr
import torch

from cspec.cli import main
from cspec.cli.reconstruct import pesq_score

SPEECH = Path(__file__).resolve().parents[2] / "examples" / "speech.flac"  # real voice, 16 kHz, shipped in the repo


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """3 s of real speech ("Front Left", "Front Center"), 16 kHz mono."""
    data, sr = sf.read(SPEECH, dtype="float32")
    path = tmp_path_factory.mktemp("in") / "speech3s.wav"
    sf.write(path, data[: 3 * sr], sr, subtype="FLOAT")
    return path


def _run(capsys, *argv) -> tuple[int, dict[str, str]]:
    rc = main(["reconstruct", *map(str, argv)])
    out = capsys.readouterr().out
    return rc, {line[:8].strip(): line[8:] for line in out.splitlines()}


def _stft_mag(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| by hand: reflect-pad n_fft/2, frames at m*hop, periodic Hann window, one-sided DFT."""
    x = np.pad(x.astype(np.float64), n_fft // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.abs(np.fft.rfft(frames * window, axis=-1)).T


def _sc_db(ref: np.ndarray, est: np.ndarray, n_fft: int, hop: int) -> float:
    """Spectral convergence 20*log10(|| |S| - |S_hat| ||_F / || |S| ||_F) (Sturmel & Daudet 2011, eq. 4)."""
    target, estimate = _stft_mag(ref, n_fft, hop), _stft_mag(est, n_fft, hop)
    return 20 * np.log10(np.linalg.norm(target - estimate) / np.linalg.norm(target))


def test_prints_sc_and_pesq_that_peers_recompute(clip, tmp_path, capsys):
    out = tmp_path / "rebuilt.wav"
    rc, lines = _run(capsys, clip, "-o", out, "--method", "pghi+fgla", "--iters", "30")
    assert rc == 0
    ref, _ = sf.read(clip, dtype="float32")
    est, sr = sf.read(out, dtype="float32")
    assert sr == 16000 and est.shape == ref.shape and sf.info(out).subtype == "FLOAT"  # float in, float out
    sc_printed = float(re.fullmatch(r"(-?\d+\.\d+) dB", lines["SC"]).group(1))
    assert sc_printed == pytest.approx(_sc_db(ref, est, 400, 100), abs=0.006)
    assert sc_printed < -20.0  # PGHI + 30 FGLA iterations rebuild speech well
    pesq_printed = float(lines["PESQ"].split()[0])
    assert "wide-band" in lines["PESQ"]
    assert pesq_printed == pytest.approx(pesq.pesq(16000, ref.astype(np.float64), est.astype(np.float64), "wb"),
                                         abs=6e-4)
    seconds, rtf = re.search(r"for (\d+\.\d+) s of audio, real-time factor (\d+\.\d+)", lines["time"]).groups()
    taken = float(re.match(r"(\d+\.\d+) s", lines["time"]).group(1))
    assert float(seconds) == 3.0 and float(rtf) == pytest.approx(taken / 3.0, abs=3e-4)  # printed rounded
    assert "pghi+fgla, 30 iterations, preset mpsenet" in lines["method"]


def test_gla_is_worse_than_pghi_start_and_seed_is_deterministic(clip, tmp_path, capsys):
    """With 10 iterations, GLA from a random phase has a higher SC than FGLA from PGHI's phase (Prusa et al.
    2017, Fig. 5); the same seed gives the same file, another seed another file."""
    _, a = _run(capsys, clip, "-o", tmp_path / "a.wav", "--method", "gla", "--iters", "10", "--seed", "1")
    _, b = _run(capsys, clip, "-o", tmp_path / "b.wav", "--method", "gla", "--iters", "10", "--seed", "1")
    _, c = _run(capsys, clip, "-o", tmp_path / "c.wav", "--method", "gla", "--iters", "10", "--seed", "2")
    _, p = _run(capsys, clip, "-o", tmp_path / "p.wav", "--method", "pghi+fgla", "--iters", "10")
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert (tmp_path / "a.wav").read_bytes() != (tmp_path / "c.wav").read_bytes()
    assert float(p["SC"].split()[0]) < float(a["SC"].split()[0]) - 3.0


def test_stereo_44k_to_8k_preset_narrowband_pesq(clip, tmp_path, capsys):
    mono16, _ = sf.read(clip, dtype="float32")
    mono44 = soxr.resample(mono16.astype(np.float64), 16000, 44100, quality="VHQ")
    src = tmp_path / "stereo44.flac"
    sf.write(src, np.stack([mono44, 0.5 * mono44], 1), 44100, subtype="PCM_24")
    out = tmp_path / "out8k.flac"
    rc, lines = _run(capsys, src, "-o", out, "--method", "fgla", "--iters", "20", "--preset", "tfgridnet8k")
    assert rc == 0 and "2 channels mixed down" in lines["input"] and "resampled" in lines["input"]
    data, _ = sf.read(src, dtype="float32")
    ref8 = soxr.resample(data.mean(1).astype(np.float64), 44100, 8000, quality="VHQ")
    est, sr = sf.read(out, dtype="float64")
    assert sr == 8000 and est.shape == ref8.shape
    assert "narrow-band" in lines["PESQ"]
    # cspec scores every PESQ at 16 kHz (soxr VHQ up from 8 kHz), narrow-band mode there
    up = [soxr.resample(v, 8000, 16000, quality="VHQ") for v in (ref8.astype(np.float32), est.astype(np.float32))]
    assert float(lines["PESQ"].split()[0]) == pytest.approx(pesq.pesq(16000, *up, "nb"), abs=1e-2)
    assert float(lines["SC"].split()[0]) == pytest.approx(_sc_db(ref8, est, 128, 64), abs=0.02)


def test_silence_gives_pesq_na_and_other_rates_skip(tmp_path, capsys):
    src = tmp_path / "silence.wav"
    sf.write(src, np.zeros(8000), 16000)
    rc, lines = _run(capsys, src, "-o", tmp_path / "o.wav", "--method", "pghi")
    assert rc == 0 and lines["PESQ"].startswith("n/a") and "no iterations" in lines["method"]
    value, note = pesq_score(torch.zeros(4000), torch.zeros(4000), 22050)
    assert value is None and note.startswith("skipped") and "22050" in note


def test_short_and_too_short_inputs(clip, tmp_path, capsys):
    data, sr = sf.read(clip, dtype="float32")
    sf.write(tmp_path / "short.wav", data[12000:13600], sr)  # 0.1 s: reconstructed, but too short for PESQ
    rc, lines = _run(capsys, tmp_path / "short.wav", "-o", tmp_path / "o.wav", "--method", "fgla", "--iters", "5")
    assert rc == 0 and lines["PESQ"] == "n/a: too short: 0.100 s, the metric needs at least 0.25 s"
    assert sf.info(tmp_path / "o.wav").frames == 1600
    sf.write(tmp_path / "tiny.wav", data[12000:12200], sr)  # 200 samples <= n_fft / 2: no STFT frame to pad
    assert main(["reconstruct", str(tmp_path / "tiny.wav"), "-o", str(tmp_path / "t.wav")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "200 samples at 16000 Hz are too few" in err and not (tmp_path / "t.wav").exists()


def test_missing_input(tmp_path, capsys):
    assert main(["reconstruct", str(tmp_path / "gone.wav"), "-o", str(tmp_path / "o.wav")]) == 2
    assert capsys.readouterr().err == f"cspec reconstruct: error: {tmp_path / 'gone.wav'}: no such file\n"


def test_input_is_never_overwritten(clip, tmp_path, capsys):
    before = clip.read_bytes()
    assert main(["reconstruct", str(clip), "-o", str(clip), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing to write over an input file" in err and clip.read_bytes() == before


def test_existing_output_needs_overwrite(clip, tmp_path, capsys):
    out = tmp_path / "o.wav"
    out.write_bytes(b"keep me")
    assert main(["reconstruct", str(clip), "-o", str(out), "--method", "pghi"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err and out.read_bytes() == b"keep me"
    rc, _ = _run(capsys, clip, "-o", out, "--method", "pghi", "--overwrite")
    assert rc == 0 and sf.info(out).frames == 48000


@pytest.mark.parametrize("argv, words", [
    (["--preset", "nope"], "unknown STFT preset 'nope'"),
    (["--method", "magic"], "invalid choice: 'magic'"),
    (["--iters", "-3"], "-3 is not >= 0"),
    (["--iters", "many"], "'many' is not an integer"),
])
def test_usage_errors_in_process(clip, tmp_path, capsys, argv, words):
    with pytest.raises(SystemExit) as stop:
        main(["reconstruct", str(clip), "-o", str(tmp_path / "o.wav"), *argv])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and words in err and not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("case", ["text", "exists", "method"])
def test_user_errors_are_one_line_in_a_real_process(clip, tmp_path, case):
    text = tmp_path / "notes.wav"
    text.write_text("not audio\n" * 10)
    out = tmp_path / "out.wav"
    argv = {
        "text": [text, "-o", out],
        "exists": [clip, "-o", text],
        "method": [clip, "-o", out, "--method", "magic"],
    }[case]
    proc = subprocess.run([sys.executable, "-m", "cspec", "reconstruct", *map(str, argv)],
                          capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("cspec reconstruct: error: ") and "Traceback" not in proc.stderr
    assert proc.stdout == "" and not out.exists()


def test_short_files_take_the_whole_signal_path_unchanged(clip, tmp_path, capsys):
    """Up to --block seconds (+ 1 s look-ahead) the file is reconstructed as a whole: the written samples are those
    of cspec.phase.reconstruct on the whole magnitude, bit for bit."""
    from cspec.phase import reconstruct
    from cspec.spectral.stft import get_preset, stft

    out = tmp_path / "whole.wav"
    rc, lines = _run(capsys, clip, "-o", out, "--method", "pghi+fgla", "--iters", "12", "--block", "5")
    assert rc == 0 and "block-wise" not in lines["method"]
    x = torch.from_numpy(sf.read(clip, dtype="float32")[0])
    cfg = get_preset("mpsenet")
    with torch.inference_mode():
        expected = reconstruct(stft(x, cfg).abs(), "pghi+fgla", 12, cfg, x.shape[-1])
    np.testing.assert_array_equal(sf.read(out, dtype="float32")[0], expected.numpy())


def test_long_files_go_block_by_block_with_the_numbers_of_the_whole(clip, tmp_path, capsys):
    """With --block 1 a 3 s file is reconstructed in three 1 s blocks: the SC and PESQ it prints are those of the
    file it wrote (recomputed here by hand and by the pesq package), near the whole-signal path's."""
    whole, block = tmp_path / "whole.wav", tmp_path / "block.wav"
    _, w = _run(capsys, clip, "-o", whole, "--method", "pghi+fgla", "--iters", "20", "--block", "0")
    rc, b = _run(capsys, clip, "-o", block, "--method", "pghi+fgla", "--iters", "20", "--block", "1")
    assert rc == 0 and "block-wise: 3 blocks of 1 s with 1 s look-ahead" in b["method"]
    ref, _ = sf.read(clip, dtype="float32")
    est, sr = sf.read(block, dtype="float32")
    assert sr == 16000 and est.shape == ref.shape and sf.info(block).subtype == "FLOAT"
    sc_printed = float(b["SC"].split()[0])
    assert sc_printed == pytest.approx(_sc_db(ref, est, 400, 100), abs=0.006)
    assert sc_printed < float(w["SC"].split()[0]) + 1.5  # the quality of the whole-signal path
    assert float(b["PESQ"].split()[0]) == pytest.approx(
        pesq.pesq(16000, ref.astype(np.float64), est.astype(np.float64), "wb"), abs=6e-4)
    assert f"{tmp_path / 'block.wav'}: 16000 Hz, 48000 samples" in b["output"]


def test_long_path_resamples_and_mixes_down_like_the_whole_path(clip, tmp_path, capsys):
    mono16, _ = sf.read(clip, dtype="float32")
    mono22 = soxr.resample(mono16.astype(np.float64), 16000, 22050, quality="VHQ")
    src = tmp_path / "stereo22.wav"
    sf.write(src, np.stack([mono22, -0.5 * mono22], 1), 22050, subtype="PCM_16")
    rc, b = _run(capsys, src, "-o", tmp_path / "o.flac", "--method", "rtisi", "--iters", "4", "--block", "1")
    data, _ = sf.read(src, dtype="float32")
    ref = soxr.resample(data.mean(1).astype(np.float64), 22050, 16000, quality="VHQ")
    est, sr = sf.read(tmp_path / "o.flac", dtype="float64")
    assert rc == 0 and "block-wise" in b["method"] and "2 channels mixed down" in b["input"]
    assert sr == 16000 and est.shape == ref.shape
    assert float(b["SC"].split()[0]) == pytest.approx(_sc_db(ref, est, 400, 100), abs=0.02)


def test_long_files_score_pesq_in_pieces_near_the_whole_signal_score(tmp_path, capsys, monkeypatch):
    """PESQ of a long file is scored in pieces ended where cspec.metrics' own segmentation cuts (never the
    whole signals at once); their duration-weighted mean is the whole-signal PESQ within 0.05."""
    import cspec.cli.reconstruct as cli
    from cspec.metrics.intrusive import pesq as cspec_pesq

    monkeypatch.setattr(cli, "PESQ_PIECE_SECONDS", 8.0)
    monkeypatch.setattr(cli, "_PIECE_SLACK", 12.0)
    speech, sr = sf.read(SPEECH, dtype="float32")
    src = tmp_path / "speech26.wav"
    sf.write(src, np.concatenate([speech, 0.5 * speech]), sr, subtype="PCM_16")
    out = tmp_path / "o.wav"
    rc, lines = _run(capsys, src, "-o", out, "--method", "fgla", "--iters", "5", "--block", "10")
    assert rc == 0 and "block-wise" in lines["method"] and "mean of 2 pieces of >= 8 s" in lines["PESQ"]
    ref, est = sf.read(src, dtype="float32")[0], sf.read(out, dtype="float32")[0]
    assert float(lines["PESQ"].split()[0]) == pytest.approx(float(cspec_pesq(ref, est, sr)), abs=0.05)


def test_learned_with_the_bundled_family(clip, tmp_path, capsys):
    """--method learned with the bundled `phase` family (hop 128 by default, hop 256 by preset); its output with
    --iters 0 is the iSTFT of the input magnitude with the bundled model's phase; another STFT is refused in one
    line naming the two it was trained for."""
    from cspec import audio
    from cspec.infer.phase import LearnedPhase
    from cspec.spectral.stft import get_preset, istft, stft

    lp = LearnedPhase.from_pretrained("phase")
    assert lp.supported == ["hann512-128", "hann512-256"]
    x = audio.load(clip, sr=16000, mono=True)[0][0]
    for preset in ("hann512-128", "hann512-256"):
        out = tmp_path / f"{preset}.wav"
        code, _ = _run(capsys, clip, "-o", out, "--method", "learned", "--iters", "0", "--preset", preset)
        assert code == 0
        mag = stft(x, get_preset(preset)).abs()
        expected = istft(torch.polar(mag, lp.phase(mag, preset)), preset, x.shape[-1])
        got = torch.from_numpy(sf.read(out, dtype="float32")[0])
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    code = main(["reconstruct", str(clip), "-o", str(tmp_path / "m.wav"), "--method", "learned", "--preset", "mpsenet"])
    err = capsys.readouterr().err
    assert code == 2 and "trained for hann512-128, hann512-256 only, not mpsenet" in err and err.count("\n") == 1
