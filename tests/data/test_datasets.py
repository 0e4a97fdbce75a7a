"""PairedDataset over reader examples: aligned random/fixed crops, padding, resampling, pairing checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cspec.audio import save
from cspec.data import DataError, PairedDataset, paired_folders

SR = 16000


def ramp(path, n, sr=SR, scale=0.9):
    """A ramp 0 .. scale over n samples: the value of a sample tells its position."""
    return save(path, scale * np.arange(n) / n, sr, subtype="FLOAT")


def test_random_and_fixed_crops_are_aligned_and_seeded(tmp_path):
    n = 3 * SR // 10  # 0.3 s
    for d, scale in (("noisy", 0.9), ("clean", 0.45)):
        ramp(tmp_path / d / "a.wav", n, scale=scale)
    ex = paired_folders(tmp_path / "noisy", tmp_path / "clean")
    ds = PairedDataset(ex, sr=SR, seconds=0.2, seed=5)
    starts = []
    for epoch in range(4):
        ds.set_epoch(epoch)
        it = ds[0]
        assert it["mixture"].shape == (3200,) and it["targets"].shape == (1, 3200) and it["length"] == 3200
        start = round(float(it["mixture"][0]) / 0.9 * n)
        assert torch.allclose(it["targets"][0], it["mixture"] / 2, atol=1e-6)  # same offset in both
        assert torch.allclose(it["mixture"], 0.9 * (start + torch.arange(3200)) / n, atol=1e-6)
        starts.append(start)
        ds.set_epoch(epoch)
        assert torch.equal(ds[0]["mixture"], it["mixture"])  # same epoch, same crop
    assert len(set(starts)) > 1 and all(0 <= s <= n - 3200 for s in starts)
    fixed = PairedDataset(ex, sr=SR, seconds=0.2, random_crop=False, offset=0.05)[0]
    assert round(float(fixed["mixture"][0]) / 0.9 * n) == 800
    late = PairedDataset(ex, sr=SR, seconds=0.2, random_crop=False, offset=10.0)[0]
    assert round(float(late["mixture"][-1]) / 0.9 * n) == n - 1  # clipped to the end of the file


def test_padding_resampling_and_batches(tmp_path):
    for name, sec in (("short", 0.1), ("long", 0.4)):
        for d in ("noisy", "clean"):
            ramp(tmp_path / d / f"{name}.wav", int(sec * 8000), sr=8000)
    ds = PairedDataset(paired_folders(tmp_path / "noisy", tmp_path / "clean"), sr=SR, seconds=0.25)
    short = ds[[e.name for e in ds.examples].index("short")]
    assert short["length"] == 1600  # 0.1 s at 8 kHz resampled to 16 kHz
    assert short["mixture"].shape == (4000,) and torch.all(short["mixture"][1600:] == 0)
    whole = PairedDataset(ds.examples, sr=SR)
    assert sorted(len(whole[i]["mixture"]) for i in range(2)) == [1600, 6400]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["mixture"].shape == (2, 4000) and batch["targets"].shape == (2, 1, 4000)
    assert sorted(batch["name"]) == ["long", "short"]


def test_mismatched_pairs_and_bad_options(tmp_path):
    ramp(tmp_path / "noisy" / "a.wav", 3 * SR // 10)
    ramp(tmp_path / "clean" / "a.wav", SR // 10)
    ds = PairedDataset(paired_folders(tmp_path / "noisy", tmp_path / "clean"), sr=SR)
    with pytest.raises(DataError, match="differ in length"):
        ds[0]
    with pytest.raises(DataError, match="no examples"):
        PairedDataset([], sr=SR)
    with pytest.raises(DataError, match="seconds"):
        PairedDataset(ds.examples, seconds=0)
