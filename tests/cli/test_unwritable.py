"""Outputs that cannot be written, for the commands that write something other than audio: one line naming the
path and the reason, before any work, and nothing created."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cspec.cli import main

CKPT = (Path(os.environ.get("CSPEC_TEACHERS", Path(__file__).resolve().parents[3] / "shared" / "teachers"))
        / "gtcrn" / "model_trained_on_dns3.tar")


@pytest.mark.parametrize("command", [
    ["export", "tiny", "-o", "{blocked}/tiny.onnx"],
    ["train", "recipes/pool/tiny.yaml", "--out", "{blocked}/run", "--check"],
    ["plot", "{wav}", "-o", "{blocked}/fig.png"],
    ["convert", "{ckpt}", "-o", "{blocked}/model"],
])
def test_output_through_a_file(tmp_path, capsys, command):
    (tmp_path / "afile").write_text("not a folder")
    blocked = tmp_path / "afile" / "sub"
    wav = tmp_path / "in.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16000)
    rc = main([c.format(blocked=blocked, wav=wav, ckpt=CKPT) for c in command])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert f"{blocked}" in err[0] and f"cannot write (not a directory: {tmp_path / 'afile'} is a file)" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "in.wav"]
