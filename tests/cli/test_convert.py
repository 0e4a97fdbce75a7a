"""``cspec convert``: an official checkpoint becomes a model folder that enhance takes; bad input gets one line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from cspec.cli import main
from cspec.models import load
from cspec.models.convert import convert_state_dict, read_checkpoint

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CKPT = Path(os.environ.get("CSPEC_TEACHERS", SHARED / "teachers")) / "gtcrn" / "model_trained_on_dns3.tar"


def test_convert_writes_a_folder_equal_to_the_python_api(tmp_path, capsys):
    out = tmp_path / "gtcrn-dns3"
    assert main(["convert", str(CKPT), "-o", str(out)]) == 0
    assert "23.7 k parameters" in capsys.readouterr().out
    model, ref = load(out), convert_state_dict(read_checkpoint(CKPT))
    for (k, a), (k2, b) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    # the folder is a model enhance takes
    x = (np.random.default_rng(0).standard_normal(16000) * 0.05).astype(np.float32)
    sf.write(tmp_path / "noisy.wav", x, 16000)
    assert main(["enhance", str(tmp_path / "noisy.wav"), "-o", str(tmp_path / "out.wav"), "--model", str(out)]) == 0
    assert sf.info(str(tmp_path / "out.wav")).frames == 16000
    # an existing model is kept unless --overwrite
    assert main(["convert", str(CKPT), "-o", str(out)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["convert", str(CKPT), "-o", str(out), "--overwrite"]) == 0


def test_convert_bad_inputs_one_line(tmp_path, capsys):
    text = tmp_path / "notes.tar"
    text.write_text("hello")
    for args in (["convert", str(text), "-o", str(tmp_path / "a")],
                 ["convert", str(tmp_path / "missing.tar"), "-o", str(tmp_path / "b")],
                 ["convert", str(CKPT), "-o", str(text)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
    assert text.read_text() == "hello"
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
