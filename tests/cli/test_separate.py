"""cspec separate: outputs named <stem>_s<i>.wav at the input's rate, folders mirrored, figures, a broken file
reported while the rest goes on, inputs never overwritten, bad models one line, Ctrl-C / SIGTERM clean up."""

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

from cspec import audio
from cspec.cli import main
from cspec.infer import Separator
from cspec.models import build, save

SR = 16000


def _model(tmp_path):
    torch.manual_seed(0)
    model = build("convtasnet", n_filters=32, kernel_size=16, bn_chan=16, hid_chan=32, skip_chan=16, n_blocks=3,
                  n_repeats=1, sample_rate=SR).eval()
    return save(model, tmp_path / "tasnet")


def _tree(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "in" / "sub").mkdir(parents=True)
    sf.write(tmp_path / "in" / "a.wav", (rng.standard_normal(8000) * 0.1).astype(np.float32), SR, subtype="FLOAT")
    sf.write(tmp_path / "in" / "sub" / "b.flac", (rng.standard_normal((6000, 2)) * 0.1).astype(np.float32), 22050)
    (tmp_path / "in" / "sub" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")


def test_folder_mirrored_named_plotted_and_broken_file_reported(tmp_path, capsys):
    model = _model(tmp_path)
    _tree(tmp_path)
    out = tmp_path / "out"
    rc = main(["separate", str(tmp_path / "in"), "-o", str(out), "--model", str(model), "--jobs", "2", "--plot"])
    err = capsys.readouterr()
    assert rc == 1
    lines = [ln for ln in err.err.splitlines() if "broken.wav" in ln]
    assert len(lines) == 1 and "Traceback" not in err.err
    assert "separated 2 of 3 files into 2 sources each" in err.out and "1 failed" in err.out
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert names == ["a.png", "a_s1.wav", "a_s2.wav", "sub", "sub/b.png", "sub/b_s1.wav", "sub/b_s2.wav"]
    sep = Separator.from_pretrained(model, backend="torch")
    for src, stem, sr, n in [(tmp_path / "in" / "a.wav", out / "a", SR, 8000),
                             (tmp_path / "in" / "sub" / "b.flac", out / "sub" / "b", 22050, 6000)]:
        ref = sep.separate(*audio.load(src))  # the Python API's result, written at the input's rate
        for i in (1, 2):
            y, rate = sf.read(f"{stem}_s{i}.wav", dtype="float32")
            assert (y.shape, rate) == ((n,), sr)
            assert np.abs(y - ref[i - 1].numpy()).max() <= 1 / 32768 + 1e-6  # b.flac is 16-bit: so is b_s<i>


def test_single_name_overwrite_and_outputs_skipped_in_folders(tmp_path, capsys):
    model = _model(tmp_path)
    _tree(tmp_path)
    src = tmp_path / "in" / "a.wav"
    assert main(["separate", str(src), "-o", str(tmp_path / "mix.wav"), "--model", str(model)]) == 0
    assert sf.info(tmp_path / "mix_s1.wav").frames == 8000 and (tmp_path / "mix_s2.wav").is_file()
    assert main(["separate", str(src), "-o", str(tmp_path / "mix.wav"), "--model", str(model)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["separate", str(src), "-o", str(tmp_path / "mix.wav"), "--model", str(model), "--overwrite"]) == 0
    # outputs written beside the inputs are not separated again by a later run over the folder
    assert main(["separate", str(tmp_path / "in"), "-o", str(tmp_path / "in"), "--model", str(model)]) == 1
    assert main(["separate", str(tmp_path / "in"), "-o", str(tmp_path / "in"), "--model", str(model),
                 "--overwrite"]) == 1  # broken.wav still fails; a_s1.wav was not taken for an input
    assert not (tmp_path / "in" / "a_s1_s1.wav").exists()


def test_inputs_never_overwritten_and_bad_models_are_one_line(tmp_path, capsys):
    model = _model(tmp_path)
    _tree(tmp_path)
    victim = tmp_path / "in" / "m_s1.wav"
    sf.write(victim, np.zeros(800, np.float32), SR)
    before = victim.read_bytes()
    rc = main(["separate", str(tmp_path / "in" / "a.wav"), str(victim), "-o", str(tmp_path / "in" / "m.wav"),
               "--model", str(model)])
    assert rc == 2 and "one output name for 2 inputs" in capsys.readouterr().err
    rc = main(["separate", str(victim), "-o", str(tmp_path / "in" / "m.wav"), "--model", str(model),
               "--overwrite"])  # m_s1.wav would be the input itself: refused even with --overwrite
    err = capsys.readouterr().err
    assert rc == 2 and "is an input; refusing to write over it" in err and victim.read_bytes() == before
    for argv, message in [(["--model", "sep9"], "no bundled model 'sep9'"),
                          (["--model", str(save(build("crn", channels=(8, 8, 16, 16, 16)), tmp_path / "crn"))],
                           "Separator needs a separation model"),
                          (["--model", str(model), "--overlap", "0"], "overlap_seconds must be > 0")]:
        rc = main(["separate", str(tmp_path / "in" / "a.wav"), "-o", str(tmp_path / "o"), *argv])
        err = capsys.readouterr().err
        assert rc == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_stops_soon_and_cleans(tmp_path, sig, code):
    model = _model(tmp_path)
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    for i in range(8):
        sf.write(tmp_path / "in" / f"f{i}.wav", (rng.standard_normal(30 * SR) * 0.1).astype(np.float32), SR)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "cspec", "separate", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
           "--model", str(model), "--chunk", "2", "--overlap", "0.5"]
    # Ctrl-C reaches it even when the suite itself runs in the background (where SIGINT is inherited ignored)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until a first file is done and the next one is being written
        names = os.listdir(tmp_path / "out") if (tmp_path / "out").is_dir() else []
        if any(n.endswith(".part.wav") for n in names) and any(not n.startswith(".") for n in names):
            break
        time.sleep(0.02)
    else:
        proc.kill()
        raise AssertionError("the run never started writing")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    names = sorted(os.listdir(tmp_path / "out"))
    assert proc.returncode == code, err
    assert [n for n in names if n.startswith(".")] == []  # the files being written are removed
    assert 2 <= len(names) < 16 and len(names) % 2 == 0  # whole files stay (both sources), the rest never started
    for n in names:
        assert sf.info(tmp_path / "out" / n).frames == 30 * SR
    assert "Traceback" not in err and ("interrupted" if code == 130 else "terminated") in err
