"""The decode cache of compressed pool files: decoded once, same samples as a direct decode, refreshed on change."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

import cspec.data.cache as cache_mod
from cspec.audio import load
from cspec.data import DataError, DecodedCache, PoolItem, SpeechPool
from cspec.data.pools import AudioCache
from cspec.data.simulate import rng_for

SR = 16000


def opus(path, seconds=0.5, freq=300.0):
    """An Ogg Opus file like those of speech_read (written by soundfile: cspec.audio.save takes no .opus name)."""
    t = np.arange(int(seconds * SR)) / SR
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.5 * np.sin(2 * np.pi * freq * t) * np.hanning(len(t)), SR, format="OGG", subtype="OPUS")
    return path


def test_decoded_once_and_equal_to_a_direct_decode(tmp_path, monkeypatch):
    src = opus(tmp_path / "a.opus")
    dc = DecodedCache(tmp_path / "cache", SR)
    first = dc(src)
    direct = load(src, sr=SR, mono=True)[0][0].numpy()
    assert first.dtype == np.float16 and first.shape == direct.shape
    # float16 keeps 11 significant bits: within 2^-11 of each sample (relative), plus the subnormal step
    assert np.all(np.abs(first.astype(np.float32) - direct) <= np.abs(direct) * 2.0 ** -11 + 2.0 ** -24)
    monkeypatch.setattr(cache_mod, "load", lambda *a, **k: pytest.fail("decoded a second time"))
    assert np.array_equal(dc(src), first)
    assert [p.suffix for p in (tmp_path / "cache").rglob("*") if p.is_file()] == [".npy"]  # no temporary left
    monkeypatch.undo()
    opus(src, seconds=0.3)  # a changed file (size and mtime) is decoded anew
    os.utime(src, ns=(1, 1))
    assert len(dc(src)) == len(load(src, mono=True)[0][0])


def test_pools_read_compressed_files_through_the_cache(tmp_path):
    src = opus(tmp_path / "s" / "a.opus", seconds=0.2)
    cache = AudioCache(SR, decoded=DecodedCache(tmp_path / "cache", SR))
    pool = SpeechPool([PoolItem(src, 0.2, "clean", "a", "", "")], SR, cache, whole=True)
    u = pool.utterance("a", SR // 2, rng_for(0, 0))
    direct = load(src, mono=True)[0][0].numpy()
    nz = np.flatnonzero(u)
    assert u.dtype == np.float64 and len(u) == SR // 2
    assert np.allclose(u[nz[0]:nz[0] + len(direct)], direct, atol=2e-4)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 1
    with pytest.raises(DataError, match="8000 Hz"):
        AudioCache(SR, decoded=DecodedCache(tmp_path / "cache", 8000))


def test_unwritable_cache_names_the_folder(tmp_path):
    src = opus(tmp_path / "a.opus", seconds=0.1)
    (tmp_path / "ro").write_text("a file where the cache folder should be")
    with pytest.raises(DataError, match="cannot write the decode cache"):
        DecodedCache(tmp_path / "ro", SR)(src)
    with pytest.raises(DataError, match="cannot read the file"):
        DecodedCache(tmp_path / "cache", SR)(tmp_path / "missing.opus")
