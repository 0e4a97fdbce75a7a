"""Several speech pools at once: weights, speaker splits kept apart (across manifests), babble, whole sentences."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cspec.audio import save
from cspec.data import (DataError, MixedSpeechPool, PoolItem, SimConfig, SimulatedEnhancementDataset, SpeechPool,
                        read_pool, rng_for, speaker_identity, speaker_splits, subset_items)

from .conftest import DATA

SR = 16000
COLS = ["path", "duration_s", "kind", "speaker", "source", "license"]


def pool(root, rows, split=True, seconds=0.05):
    """A pool manifest under ``root``: one tone file per ``(speaker, split)`` row (two files per speaker)."""
    out = []
    for i, (spk, sp) in enumerate(rows):
        for j in range(2):
            rel = f"{spk}/{j}.wav"
            t = np.arange(int(seconds * SR)) / SR
            save(root / rel, 0.3 * np.sin(2 * np.pi * (150 + 20 * i + 7 * j) * t), SR, overwrite=True)
            out.append([rel, seconds, "clean", spk, "test", "CC0"] + ([sp] if split else []))
    with open(root / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([COLS + (["split"] if split else [])] + out)
    return root / "manifest.csv"


@pytest.fixture
def pools(tmp_path):
    """An old-style pool without a split (one of its readers is a test speaker of the other pool, one a valid
    one) and a sentence pool split by speaker: 6 train, 2 valid, 2 test speakers."""
    old = pool(tmp_path / "old", [("ljspeech", ""), ("librispeech_clips-100-1-0000.hq", ""), ("klettres-en", ""),
                                  ("ktuberling-de", ""), ("fsdd-theo", "")], split=False)
    new = pool(tmp_path / "new", [(f"spk{i}", "train") for i in range(6)] + [("librispeech-100", "valid"),
                                  ("spkv", "valid"), ("ljspeech-lj", "test"), ("spkt", "test")])
    return old, new


def dataset(pools, subset="train", weights=(1.0, 3.0), **cfg):
    old, new = pools
    cfg.setdefault("noise_types", {"babble": 1.0})
    return SimulatedEnhancementDataset(
        None, seconds=0.1, length=1000, seed=0, config=SimConfig(**cfg), subset=subset, valid_percent=50,
        use_noise_files=False, speech_pools=[{"manifest": str(old.parent), "weight": weights[0]},
                                             {"manifest": str(new), "weight": weights[1], "whole": True}])


def test_identity_of_one_person_across_manifests():
    assert speaker_identity("librispeech_clips-3436-172162-0000.hq") == speaker_identity("librispeech-3436")
    assert speaker_identity("vctk_clips-p225_001") == speaker_identity("vctk-p225") == "vctk-p225"
    assert speaker_identity("ljspeech") == speaker_identity("ljspeech-lj") == "ljspeech"
    assert speaker_identity("librispeech-34") != speaker_identity("librispeech-3436")
    assert speaker_identity("klettres-en") == "klettres-en"


def test_train_and_valid_never_draw_held_out_speakers(pools):
    held = {"ljspeech", "ljspeech-lj", "spkt", "librispeech-100", "librispeech_clips-100-1-0000.hq", "spkv"}
    train = dataset(pools)
    assert not held & set(train.speech.speakers)
    assert "ljspeech" not in train.speech.speakers  # old pool, no split: held out as the other pool's test reader
    seen = set()
    for i in range(3000):
        rng = rng_for(0, i)
        spk = train.speech.draw_speaker(rng)
        seen |= {spk, *train.speech.draw_others(rng, (2, 6), (spk,))}
    for i in range(40):  # and through the whole simulation, babble included
        it = train[i]
        seen |= {it["speaker"], *it["noise_speakers"].split(";")}
    assert not held & seen and {f"spk{i}" for i in range(6)} <= seen
    valid = dataset(pools, "valid")
    new_valid = set(valid.speech.pools[1])
    assert new_valid == {"librispeech-100", "spkv"}
    assert "librispeech_clips-100-1-0000.hq" in valid.speech.pools[0]  # the same reader, held out with them
    assert not {"ljspeech", "ljspeech-lj", "spkt"} & set(valid.speech.speakers)
    assert not {f"spk{i}" for i in range(6)} & set(valid.speech.speakers)
    test = dataset(pools, "test")
    assert set(test.speech.speakers) == {"ljspeech", "ljspeech-lj", "spkt"}
    every = dataset(pools, "all")
    assert not {"ljspeech", "ljspeech-lj", "spkt"} & set(every.speech.speakers)


def test_pool_weights_give_the_proportions_of_targets_and_talkers(pools):
    for w in ((1.0, 3.0), (1.0, 1.0), (0.0, 1.0)):
        ds = dataset(pools, weights=w)
        p = w[1] / sum(w)
        new = set(ds.speech.pools[1])
        n = 4000
        frac = np.mean([ds.speech.draw_speaker(rng_for(1, i)) in new for i in range(n)])
        assert abs(frac - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-12  # within 4 binomial standard deviations
        talkers = [s for i in range(800) for s in ds.speech.draw_others(rng_for(2, i), (2, 2), ())]
        p_first = np.mean([s in new for s in talkers[::2]])  # the first talker of each babble: one weighted draw
        assert abs(p_first - p) <= 4 * np.sqrt(p * (1 - p) / 800) + 1e-12


def test_babble_has_the_drawn_number_of_distinct_talkers(pools):
    ds = dataset(pools, babble_talkers=(3, 6))
    counts = set()
    for i in range(60):
        it = ds[i]
        talkers = it["noise_speakers"].split(";")
        k = int(it["noise_type"].split(":")[1])
        assert len(talkers) == len(set(talkers)) == k and 3 <= k <= 6
        assert it["speaker"] not in talkers
        counts.add(k)
    assert counts == {3, 4, 5, 6}
    with pytest.raises(DataError, match="babble needs at least 2"):
        MixedSpeechPool([(read_pool(pools[1])[:2], 1.0, True)], SR).draw_others(rng_for(0, 0), (3, 4), ("spk0",))


def test_whole_sentences_are_cropped_or_padded_never_joined(tmp_path):
    ramp = np.linspace(0.1, 0.9, SR // 10)  # 0.1 s
    save(tmp_path / "a.wav", ramp, SR, subtype="FLOAT")
    sp = SpeechPool([PoolItem(tmp_path / "a.wav", 0.1, "clean", "a", "", "")], SR, whole=True)
    for i in range(5):
        long = sp.utterance("a", SR // 4, rng_for(0, i))  # 0.25 s: the sentence once, silence around it
        nz = np.flatnonzero(long)
        assert len(nz) == len(ramp) and nz[-1] - nz[0] == len(ramp) - 1
        assert np.allclose(long[nz], ramp, atol=1e-6)
        short = sp.utterance("a", SR // 40, rng_for(0, i))  # a contiguous crop
        start = int(np.argmin(np.abs(ramp - short[0])))
        assert np.allclose(short, ramp[start:start + SR // 40], atol=1e-6)


def test_bad_pool_entries_and_mixed_options(pools, tmp_path):
    old, new = pools
    with pytest.raises(DataError, match=r"speech_pools\[0\]"):
        SimulatedEnhancementDataset(None, use_noise_files=False, speech_pools=[{"path": str(new)}])
    with pytest.raises(DataError, match="whole"):
        SimulatedEnhancementDataset(None, use_noise_files=False, speech_pools=[{"manifest": str(new), "whole": 1}])
    with pytest.raises(DataError, match="pools 1 and 2"):
        SimulatedEnhancementDataset(None, use_noise_files=False, speech_pools=[str(new), str(new)])
    with pytest.raises(DataError, match="not both"):
        SimulatedEnhancementDataset(None, use_noise_files=False, speech_pools=[str(new)], speech_manifests=[old])
    with pytest.raises(DataError, match="all 0"):
        dataset(pools, weights=(0.0, 0.0))


def test_noise_rows_held_out_for_a_dev_set_are_never_drawn(tmp_path, pools):
    rows = []
    for name, sp in (("n1", "train"), ("n2", "test"), ("n3", "")):
        save(tmp_path / "noise" / f"{name}.wav", 0.1 * np.random.default_rng(1).standard_normal(800), SR)
        rows.append([f"noise/{name}.wav", 0.05, "noise debian", "", "debian:x", "GPL-2+", sp])
    with open(tmp_path / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([COLS + ["split"]] + rows)
    kw = dict(seconds=0.1, speech_pools=[str(pools[1])], config=SimConfig(noise_types={"file": 1.0}))
    train = SimulatedEnhancementDataset(tmp_path, **kw)
    assert sorted(it.path.name for it in train.noise.items) == ["n1.wav", "n3.wav"]
    test = SimulatedEnhancementDataset(tmp_path, subset="test", **kw)
    assert sorted(it.path.name for it in test.noise.items) == ["n1.wav", "n2.wav", "n3.wav"]


def test_shared_pools_keep_speech_read_speakers_apart():
    """The shared data itself: no valid/test reader of speech_read (nor the same person in the old pool) is a
    training target or babble talker over many draws, and babble draws on hundreds of speakers."""
    read = read_pool(DATA / "speech_read")
    old = read_pool(DATA)
    held = {speaker_identity(it.speaker) for it in read if it.split != "train"}
    assert "ljspeech" in held and any(speaker_identity(it.speaker) == "ljspeech" for it in old)
    splits = speaker_splits(read + old)
    mixed = MixedSpeechPool([(subset_items(old, "train", splits=splits), 0.3, False),
                             (subset_items(read, "train", splits=splits), 0.7, True)], SR)
    seen, talkers = set(), set()
    for i in range(2000):
        rng = rng_for(3, i)
        spk = mixed.draw_speaker(rng)
        others = mixed.draw_others(rng, (3, 6), (spk,))
        seen |= {spk, *others}
        talkers |= set(others)
    assert not {speaker_identity(s) for s in seen} & held
    assert len(talkers) > 300  # of the 396 + 65 training speakers


def test_a_recipe_section_reads_both_shared_pools(tmp_path):
    from cspec.train.data import build_dataset
    from cspec.train.schema import DataSource
    pools = ["$CSPEC_DATA", {"manifest": "$CSPEC_DATA/speech_read", "weight": 3, "whole": True}]
    source = DataSource(kind="simulated", seconds=0.5, sim={"noise_types": {"file": 1.0, "babble": 1.0}},
                        options={"subset": "train", "decode_cache": str(tmp_path), "speech_pools": pools})
    ds = build_dataset(source, "data.train", SR, 1, True, 0)
    assert np.allclose(ds.dataset.speech.weights, [0.25, 0.75]) and len(ds.dataset.speech.pools[1]) == 396
    for i in range(6):
        assert ds[(0, i)]["mixture"].shape == (SR // 2,)
    assert list(tmp_path.rglob("*.npy"))  # the Opus sentences drawn were decoded into the cache


def test_hashed_split_is_the_same_wherever_the_data_lies(tmp_path):
    """Without a split column, train/valid is a hash of the path as the manifest writes it, not of where the
    folder happens to be (a CI clone elsewhere drew another valid set, and once an empty train set)."""
    rows = [(f"spk{i}", "") for i in range(12)]
    picks = []
    for where in ("a", "b/deeper/still"):
        items = read_pool(pool(tmp_path / where, rows, split=False), "speech")
        picks.append([it.path.relative_to(tmp_path / where).as_posix() for it in subset_items(items, "valid", 50)])
    assert picks[0] == picks[1] and 0 < len(picks[0]) < 24
