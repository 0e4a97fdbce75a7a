"""Separation mixtures from several speech pools: distinct persons across pools, pool weights, speaker-disjoint
splits, WHAM!-style noise relative to the louder speaker (Wichern et al. 2019), mild reverberation."""

from __future__ import annotations

import csv
import zlib

import numpy as np
import pytest
import torch

from cspec.audio import save
from cspec.data import (DataError, SimConfig, SimulatedSeparationDataset, read_pool, rng_for, speaker_identity,
                        speaker_splits, subset_items)

from .conftest import DATA

SR = 16000
COLS = ["path", "duration_s", "kind", "speaker", "source", "license"]


def pool(root, rows, split=True, seconds=0.3):
    """A pool manifest under ``root``: two tone files per ``(speaker, split)`` row, each speaker its own pitch."""
    out = []
    for i, (spk, sp) in enumerate(rows):
        for j in range(2):
            rel = f"{spk}/{j}.wav"
            t = np.arange(int(seconds * SR)) / SR
            save(root / rel, 0.3 * np.sin(2 * np.pi * (150 + 40 * i + 7 * j) * t), SR, overwrite=True)
            out.append([rel, seconds, "clean", spk, "test", "CC0"] + ([sp] if split else []))
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([COLS + (["split"] if split else [])] + out)
    return root / "manifest.csv"


OLD = [("ljspeech", ""), ("cmu_arctic_clips-cmu_arctic_us_aew_a0001", ""),
       ("cmu_arctic_clips-cmu_arctic_us_aew_a0002", ""), ("klettres-en", ""), ("ktuberling-de", ""),
       ("fsdd-theo", ""), ("fsdd-george", "")]
NEW = [(f"spk{i}", "train") for i in range(4)] + [("spkv", "valid"), ("ljspeech-lj", "train"), ("spkt", "test")]


@pytest.fixture
def pools(tmp_path):
    return pool(tmp_path / "old", OLD, split=False), pool(tmp_path / "new", NEW)


def sep(pools, weights=(1.0, 3.0), subset="train", length=300, **cfg):
    old, new = pools
    return SimulatedSeparationDataset(
        None, n_src=2, seconds=0.25, length=length, seed=3, config=SimConfig(**cfg), subset=subset,
        valid_percent=30, split_by="speaker", use_noise_files=False,
        speech_pools=[{"manifest": str(old), "weight": weights[0]},
                      {"manifest": str(new), "weight": weights[1], "whole": True}])


def test_two_distinct_persons_across_pools(pools):
    ds = sep(pools)
    assert {"ljspeech", "ljspeech-lj"} <= set(ds.speech.speakers)  # one person under two ids, in two pools
    for i in range(len(ds)):
        spk = ds.speech.draw_distinct(rng_for(1, i), 2)
        assert len({speaker_identity(s) for s in spk}) == 2
    pairs = [ds[i]["speakers"].split(";") for i in range(40)]
    assert all(len({speaker_identity(s) for s in p}) == 2 for p in pairs)
    assert speaker_identity("cmu_arctic_clips-cmu_arctic_us_aew_a0001") == "cmu_arctic-aew" == \
        speaker_identity("cmu_arctic_clips-cmu_arctic_us_aew_a0002")


def test_first_source_follows_the_pool_weights(pools):
    ds = sep(pools, weights=(1.0, 3.0))
    new = set(ds.speech.pools[1])
    firsts = [ds.speech.draw_distinct(rng_for(2, i), 2)[0] in new for i in range(800)]
    # a binomial(800, 0.75) share: 4 standard deviations of sqrt(0.75 * 0.25 / 800) = 0.0153
    assert abs(np.mean(firsts) - 0.75) < 4 * 0.0153
    only_new = sep(pools, weights=(0.0, 1.0))
    assert all(s in only_new.speech.pools[1] for i in range(100) for s in only_new.speech.draw_distinct(rng_for(0, i), 2))


def test_too_few_persons_is_an_error(tmp_path):
    old, new = pool(tmp_path / "o", [("ljspeech", "")], split=False), pool(tmp_path / "n", [("ljspeech-lj", "train")])
    with pytest.raises(DataError, match="distinct speakers"):
        sep((old, new), subset="all", weights=(1.0, 1.0))


def test_speaker_disjoint_splits_across_pools(pools):
    old, new = pools
    items = read_pool(old) + read_pool(new)
    splits = speaker_splits(items)
    persons = {sub: {speaker_identity(it.speaker) for it in subset_items(items, sub, 30, splits, "speaker")}
               for sub in ("train", "valid", "test")}
    assert not persons["train"] & persons["valid"] and not (persons["train"] | persons["valid"]) & persons["test"]
    # the old pool's persons go to valid by the CRC-32 of their identity (independently computed here)
    hashed = {speaker_identity(s) for s, _ in OLD if zlib.crc32(speaker_identity(s).encode()) % 10000 < 3000}
    assert persons["valid"] == hashed | {"spkv"}
    assert persons["test"] == {"spkt"} and "cmu_arctic-aew" in persons["train"] | persons["valid"]
    by_path = {it.speaker for it in subset_items(read_pool(old), "valid", 30)}
    assert by_path != {s for s, _ in OLD if speaker_identity(s) in hashed}  # the default split is by file
    ds = sep(pools, subset="valid", length=20)
    assert {speaker_identity(s) for s in ds.speech.speakers} == persons["valid"]
    with pytest.raises(DataError, match="split_by"):
        subset_items(items, "train", split_by="file")


def test_wham_noise_against_the_louder_source_and_relative_levels(pools):
    ds = sep(pools, noise_types={"coloured": 1.0}, separation_snr=(0.0, 15.0), separation_snr_ref="loudest",
             relative_level=(-5.0, 5.0), level=(-33.0, -25.0), length=12)
    for i in range(len(ds)):
        it = ds[i]
        tg, nz = it["targets"].double().numpy(), it["noise"].double().numpy()
        assert np.allclose(it["mixture"].double().numpy(), tg.sum(0) + nz, atol=1e-6)
        power = np.mean(tg ** 2, axis=1)
        snr = 10 * np.log10(power.max() / np.mean(nz ** 2))
        assert 0.0 <= it["snr_db"] <= 15.0 and abs(snr - it["snr_db"]) < 1e-3
        levels = 10 * np.log10(power)
        assert abs(levels[1] - levels[0]) <= 5.0 + 1e-6 and -33.0 - 1e-6 <= levels[0] <= -25.0 + 1e-6
    with pytest.raises(DataError, match="separation_snr_ref"):
        SimConfig(separation_snr_ref="louder")


def test_a_share_of_the_mixtures_stays_clean(pools):
    """``p_separation_noise``: a single model for clean and noisy mixtures (about that share noisy, the others
    exactly the sum of the sources); p = 1 draws the same noisy set as before the option existed."""
    cfg = dict(noise_types={"coloured": 1.0}, separation_snr=(0.0, 15.0), length=60)
    ds = sep(pools, p_separation_noise=0.5, **cfg)
    noisy = []
    for i in range(len(ds)):
        it = ds[i]
        clean = not it["noise"].abs().max() > 0
        assert clean == (it["snr_db"] == float("inf"))
        assert torch.allclose(it["mixture"], it["targets"].sum(0) + it["noise"], atol=1e-6)
        noisy.append(not clean)
    assert 18 <= sum(noisy) <= 42
    always, default = sep(pools, p_separation_noise=1.0, **cfg), sep(pools, **cfg)
    assert torch.equal(always[3]["mixture"], default[3]["mixture"]) and np.isfinite(float(default[3]["snr_db"]))
    with pytest.raises(DataError, match="probabilities"):
        SimConfig(p_separation_noise=1.5)


def test_mild_reverberation(pools):
    ds = sep(pools, p_reverb=1.0, rt60=(0.2, 0.4), length=3)
    for i in range(len(ds)):
        it = ds[i]
        assert 0.2 * 0.8 <= it["rt60"] <= 0.4 * 1.2  # the room's RT60 by Sabine, within the simulation's tolerance
        # targets are the early (direct + 50 ms) parts, so the reverberant mixture holds more energy than their sum
        assert it["mixture"].square().sum() > 0 and not np.allclose(it["mixture"], it["targets"].sum(0), atol=1e-4)


def test_babble_never_holds_a_source_under_another_id(pools):
    ds = sep(pools, subset="all")
    for i in range(50):
        talkers = ds.speech.draw_others(rng_for(4, i), (2, 6), ["ljspeech-lj"])
        assert "ljspeech" not in talkers and "ljspeech-lj" not in talkers


def test_shared_pools_keep_test_speakers_out(tmp_path):
    read = DATA / "speech_read" / "manifest.csv"
    if not read.is_file():
        pytest.fail(f"no {read}: set CSPEC_DATA to the shared data folder")
    held = {speaker_identity(it.speaker) for it in read_pool(read) if it.split == "test"}
    kw = dict(n_src=2, seconds=1.0, length=4, use_noise_files=False, valid_percent=15, split_by="speaker",
              speech_pools=[{"manifest": str(read), "weight": 0.7, "whole": True},
                            {"manifest": str(DATA), "weight": 0.3}])
    train = SimulatedSeparationDataset(None, subset="train", **kw)
    valid = SimulatedSeparationDataset(None, subset="valid", **kw)
    tr, va = ({speaker_identity(s) for s in d.speech.speakers} for d in (train, valid))
    assert len(held) == 18 and not tr & held and not va & held and not tr & va
    assert "ljspeech" in held and "ljspeech" not in tr  # the old pool's LJSpeech is held out with speech_read's


def test_partial_overlap_lets_each_talker_speak_on_one_span(pools):
    """``p_partial_overlap``: each talker, on its own coin, speaks on one span covering a share in ``overlap`` of the
    segment and is silent elsewhere, its level measured while it talks; p = 0.5 leaves some talkers whole."""
    cfg = dict(weights=(0.0, 1.0), overlap=(0.3, 0.6), level=(-30.0, -30.0), relative_level=(0.0, 0.0), length=40)
    n = int(0.25 * SR)  # whole tone files: no gaps of their own (a tone has exact zeros: every 160 samples at 150 Hz)
    for i, item in enumerate(sep(pools, p_partial_overlap=1.0, **cfg)):
        for t in item["targets"].double().numpy():
            on = np.flatnonzero(np.abs(t) > 0)
            width = on[-1] - on[0] + 1
            assert 0.3 * n - 2 <= width <= 0.6 * n + 2 and len(on) > 0.95 * width  # one span
            assert 10 * np.log10(np.mean(t[on[0]:on[-1] + 1] ** 2)) == pytest.approx(-30.0, abs=0.05)
    whole = [float((np.abs(t) > 0).mean()) > 0.95 for item in sep(pools, p_partial_overlap=0.5, **cfg)
             for t in item["targets"].double().numpy()]
    assert 20 <= sum(whole) <= 60  # of 80 talkers, about half
    with pytest.raises(DataError, match="overlap"):
        SimConfig(overlap=(0.0, 0.5))


def test_single_talker_mixtures_leave_the_other_target_silent(pools):
    """``p_single``: one talker alone at the first level, the other target all zeros, the mixture that talker;
    p = 0.3 of 60 mixtures gives about 18 such mixtures, and p = 0 draws the same mixtures as before the option."""
    cfg = dict(weights=(0.0, 1.0), level=(-30.0, -30.0), relative_level=(3.0, 3.0), length=60)
    for item in sep(pools, p_single=1.0, **cfg):
        t = item["targets"].double().numpy()
        silent = [k for k in range(2) if not np.any(t[k])]
        assert len(silent) == 1
        talker = t[1 - silent[0]]
        assert 10 * np.log10(np.mean(talker ** 2)) == pytest.approx(-30.0, abs=0.05)
        np.testing.assert_allclose(item["mixture"].double().numpy(), talker, atol=1e-6)
    singles = sum(not np.all(np.any(item["targets"].numpy(), axis=-1)) for item in sep(pools, p_single=0.3, **cfg))
    assert 8 <= singles <= 30
    before, after = sep(pools, **cfg), sep(pools, p_single=0.0, **cfg)
    for i in (0, 7):
        torch.testing.assert_close(before[i]["mixture"], after[i]["mixture"], rtol=0, atol=0)
    with pytest.raises(DataError, match="probabilities"):
        SimConfig(p_single=1.5)
