"""cspec.audio block reading and writing: blocks equal load, truncation and NaN are caught, writing is atomic."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from cspec.audio import BlockWriter, blocks, load, stream_info
from cspec.errors import AudioError, AudioWarning


def test_blocks_concatenate_to_load(tmp_path):
    x = (np.random.default_rng(0).standard_normal((10_001, 3)) * 0.1).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    parts = list(blocks(tmp_path / "a.wav", 4096))
    assert [p.shape for p in parts] == [(3, 4096), (3, 4096), (3, 1809)]
    assert torch.equal(torch.cat(parts, -1), load(tmp_path / "a.wav")[0])
    assert stream_info(tmp_path / "a.wav").frames == 10_001


def test_blocks_find_truncation_and_nan(tmp_path):
    x = np.zeros((4000, 1), np.float32)
    sf.write(tmp_path / "t.wav", x, 16000, subtype="PCM_16")
    data = (tmp_path / "t.wav").read_bytes()
    (tmp_path / "t.wav").write_bytes(data[:-2000])
    with pytest.raises(AudioError, match="truncated"):
        list(blocks(tmp_path / "t.wav", 1000))
    x[2500] = np.nan
    sf.write(tmp_path / "n.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        list(blocks(tmp_path / "n.wav", 1000))


def test_block_writer_is_atomic_and_careful(tmp_path):
    out = tmp_path / "o.flac"
    with pytest.raises(RuntimeError):
        with BlockWriter(out, 16000, 2) as w:
            w.write(torch.zeros(2, 100))
            raise RuntimeError("crash mid-way")
    assert list(tmp_path.iterdir()) == []  # nothing left: neither the output nor a temporary
    with pytest.warns(AudioWarning, match="100 of 300 samples"), BlockWriter(out, 16000, 2) as w:
        w.write(torch.full((2, 100), 0.5))
        w.write(np.full((2, 50), 2.0))  # clipped for 16-bit, and said
    y, sr = sf.read(out, always_2d=True)
    assert y.shape == (150, 2) and sr == 16000 and abs(y[:100].mean() - 0.5) < 1e-4 and y.max() <= 1.0
    with pytest.raises(AudioError, match="exists"):
        BlockWriter(out, 16000, 2)
    with pytest.raises(AudioError, match="input"):
        BlockWriter(out, 16000, 2, overwrite=True, protect=(out,))
