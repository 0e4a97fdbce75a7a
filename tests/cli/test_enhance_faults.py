"""cspec enhance when things go wrong: blocked outputs, missing arguments, damaged models, float inputs,
Ctrl-C and SIGTERM in the middle of a batch, temporary files of a killed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file

from cspec.cli import main
from cspec.infer import Enhancer
from cspec.models import build, save

SR = 16000


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    return save(build("crn", channels=(8, 8, 16, 16, 16)).eval(), tmp_path / "crn")


def _noise(path, seconds=0.5, peak=0.1, subtype="PCM_16", seed=0):
    x = np.random.default_rng(seed).uniform(-1, 1, int(seconds * SR)).astype(np.float32) * peak
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, SR, subtype=subtype)
    return path


def test_blocked_output_does_not_stop_the_batch(tmp_path, model, capsys):
    _noise(tmp_path / "in" / "a.wav")
    _noise(tmp_path / "in" / "sub" / "b.wav")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").write_text("a file where the mirrored folder would go")
    rc = main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(model)])
    cap = capsys.readouterr()
    assert rc == 1 and (tmp_path / "out" / "a.wav").is_file()
    assert "enhanced 1 of 2 files" in cap.out and "1 failed" in cap.out
    line = [x for x in cap.err.splitlines() if x.startswith("failed")]
    assert len(line) == 1 and "sub/b.wav: cannot write (not a directory" in line[0]
    assert "Traceback" not in cap.err


def test_missing_argument_and_empty_folder_do_not_stop_the_rest(tmp_path, model, capsys):
    good = _noise(tmp_path / "good.wav")
    (tmp_path / "x.wav").mkdir()  # a folder named like a file, with no audio in it
    rc = main(["enhance", str(good), str(tmp_path / "missing.wav"), str(tmp_path / "x.wav"), "--model", str(model)])
    cap = capsys.readouterr()
    assert rc == 1 and (tmp_path / "good_enhanced.wav").is_file()
    assert "enhanced 1 of 3 files" in cap.out
    assert f"{tmp_path / 'missing.wav'}: no such file" in cap.err
    assert f"{tmp_path / 'x.wav'}: a folder with no audio files" in cap.err


def test_failure_lines_name_the_file_once(tmp_path, model, capsys):
    bad = tmp_path / "in" / "a_rather_long_folder_name_to_make_the_line_wrap_on_a_console" / "broken.wav"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    _noise(tmp_path / "in" / "ok.wav")
    main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(model)])
    err = capsys.readouterr().err
    line = [x for x in err.splitlines() if "broken.wav" in x]
    assert len(line) == 1 and line[0].count("broken.wav") == 1 and line[0].startswith("failed")


def test_nan_weights_are_blamed_on_the_model(tmp_path, model, capsys):
    weights = load_file(model / "model.safetensors")
    first = next(k for k, t in weights.items() if t.is_floating_point())
    weights[first] = torch.full_like(weights[first], float("nan"))
    save_file(weights, model / "model.safetensors")
    src = _noise(tmp_path / "a.wav")
    rc = main(["enhance", str(src), "--model", str(model)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "NaN or Inf" in err[0] and "model.safetensors" in err[0]
    assert not (tmp_path / "a_enhanced.wav").exists()


@pytest.mark.parametrize("peak", [8.0, 10 ** (-90 / 20)])
def test_float_input_comes_back_float(tmp_path, model, capsys, peak):
    src = _noise(tmp_path / "loud.wav", seconds=1.0, peak=peak, subtype="FLOAT")
    assert main(["enhance", str(src), "--model", str(model)]) == 0
    out = tmp_path / "loud_enhanced.wav"
    assert sf.info(out).subtype == "FLOAT"
    assert "warning" not in capsys.readouterr().err  # nothing clipped, nothing quantised
    y, _ = sf.read(out, dtype="float32")
    ref = Enhancer.from_pretrained(model, backend="torch").enhance(sf.read(src, dtype="float32")[0], SR)
    np.testing.assert_allclose(y, ref.numpy(), rtol=0, atol=1e-6 * max(1.0, peak))


def _start(tmp_path, n_files=8, seconds=30):
    for i in range(n_files):
        _noise(tmp_path / "in" / f"f{i}.wav", seconds=seconds, seed=i)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "cspec", "enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
           "--model", "tiny", "--backend", "torch", "--chunk", "2", "--overlap", "0.5"]
    # Ctrl-C reaches it even when the suite itself runs in the background (where SIGINT is inherited ignored)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the first output is done and the second is being written
        names = os.listdir(tmp_path / "out") if (tmp_path / "out").is_dir() else []
        if any(n.endswith(".part.wav") for n in names) and any(not n.startswith(".") for n in names):
            return proc
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the run never started writing")


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_stops_soon_and_cleans(tmp_path, sig, code):
    proc = _start(tmp_path)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    names = os.listdir(tmp_path / "out")
    assert proc.returncode == code, err
    assert [n for n in names if n.startswith(".")] == []  # the file being written is removed
    assert 1 <= len(names) < 8  # what was done stays, the rest was not started
    for n in names:
        assert sf.info(tmp_path / "out" / n).frames == 30 * SR
    assert "Traceback" not in err and ("interrupted" if code == 130 else "terminated") in err


def test_files_left_by_a_killed_run_are_removed_and_never_enhanced(tmp_path):
    proc = _start(tmp_path, n_files=3)
    proc.kill()
    proc.wait()
    left = [n for n in os.listdir(tmp_path / "out") if n.startswith(".")]
    assert left  # SIGKILL cannot be caught: the temporary file stays ...
    for n in left:  # ... also where a later run reads its inputs
        (tmp_path / "in" / n).write_bytes((tmp_path / "out" / n).read_bytes())
    rc = main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "tiny", "--backend", "torch",
               "--overwrite"])
    assert rc == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["f0.wav", "f1.wav", "f2.wav"]  # ... until the next run


def test_nan_output_of_finite_weights_is_blamed_on_the_model(tmp_path):
    from cspec.errors import ModelError

    class Broken(torch.nn.Module):
        sample_rate, name = SR, "broken"

        def forward(self, wave):
            return {"wave": wave * float("nan")}

    src = _noise(tmp_path / "a.wav")
    with pytest.raises(ModelError, match="model 'broken' gave NaN or Inf samples"):
        Enhancer(Broken()).enhance_files([src, src], [tmp_path / "o1.wav", tmp_path / "o2.wav"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_an_empty_argument_is_not_the_current_folder(tmp_path, model, capsys, monkeypatch):
    # an unset shell variable ("$f") must not enhance every audio file below the working folder
    _noise(tmp_path / "here.wav")
    monkeypatch.chdir(tmp_path)
    rc = main(["enhance", "", "-o", str(tmp_path / "out"), "--model", str(model)])
    cap = capsys.readouterr()
    assert rc != 0 and not (tmp_path / "out").exists()
    assert "'': an empty path" in cap.err and "Traceback" not in cap.err
