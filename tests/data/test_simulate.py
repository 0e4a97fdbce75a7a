"""On-the-fly simulation on the shared data: reproducibility, SNR, levels, band-limiting, separation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import welch

from cspec.audio import save

from cspec.data import (DataError, PoolItem, SimConfig, SimulatedEnhancementDataset, SimulatedSeparationDataset,
                        SpeechPool, band_limit, rng_for)

SR = 16000


def db(x) -> float:
    return float(10 * np.log10(np.sum(np.asarray(x, np.float64) ** 2)))


def enh(manifest, seed=0, **cfg):
    return SimulatedEnhancementDataset(manifest, seconds=0.5, length=50, seed=seed, config=SimConfig(**cfg))


def test_same_seed_same_items_bitwise_in_any_order(manifest):
    cfg = dict(p_reverb=0.5, p_bandlimit=0.5, p_eq=0.5, p_noise_speed=0.5, p_noise_mix=0.5, rt60=(0.2, 0.4),
               noise_types={"file": 1, "coloured": 1, "babble": 1, "shaped": 1})
    a, b = enh(manifest, 7, **cfg), enh(manifest, 7, **cfg)
    order = [5, 2, 9, 0]
    first = {i: a[i] for i in order}
    second = {i: b[i] for i in reversed(order)}  # another "worker", another order
    for i in order:
        assert torch.equal(first[i]["mixture"], second[i]["mixture"])
        assert torch.equal(first[i]["targets"], second[i]["targets"])
    other = enh(manifest, 8, **cfg)
    assert all(not torch.equal(first[i]["mixture"], other[i]["mixture"]) for i in order)
    assert not torch.equal(first[5]["mixture"], first[2]["mixture"])
    assert np.array_equal(rng_for(3, 4).random(5), rng_for(3, 4).random(5))


def test_snr_and_level_are_what_was_drawn(manifest):
    ds = enh(manifest, 1, snr=(-5.0, 20.0), level=(-35.0, -15.0))
    kinds, snrs = set(), []
    for i in range(12):
        it = ds[i]
        mix, tgt = it["mixture"].double(), it["targets"][0].double()
        measured = db(tgt) - db(mix - tgt)  # 10 log10(|target|^2 / |mixture - target|^2)
        assert measured == pytest.approx(it["snr_db"], abs=0.1)
        assert -5.0 <= it["snr_db"] <= 20.0
        level = float(10 * np.log10(np.mean(tgt.numpy() ** 2)))
        assert level == pytest.approx(it["level_db"], abs=0.01) and -35.0 <= level <= -15.0
        assert it["mixture"].shape == (SR // 2,) and it["targets"].shape == (1, SR // 2)
        kinds.add(it["noise_type"].split(":")[0])
        snrs.append(it["snr_db"])
    assert kinds == {"file", "coloured", "babble"}
    assert np.ptp(snrs) > 10  # drawn across the range, not a constant


def test_equalised_and_shaped_mixtures_keep_their_snr_and_level(manifest):
    ds = enh(manifest, 2, p_eq=1.0, noise_types={"shaped": 1.0, "file": 1.0, "tonal": 1.0})
    kinds = set()
    for i in range(8):
        it = ds[i]
        mix, tgt = it["mixture"].double(), it["targets"][0].double()
        assert db(tgt) - db(mix - tgt) == pytest.approx(it["snr_db"], abs=0.1)
        assert float(10 * np.log10(np.mean(tgt.numpy() ** 2))) == pytest.approx(it["level_db"], abs=0.01)
        kinds.add(it["noise_type"])
    assert kinds == {"shaped", "file", "tonal"}


def test_sped_up_and_summed_noises_keep_snr_and_level_and_say_what_was_drawn(manifest):
    ds = enh(manifest, 4, p_noise_speed=1.0, noise_speed=(0.5, 2.0), p_noise_mix=1.0,
             noise_types={"shaped": 1.0, "file": 1.0, "coloured": 1.0})
    factors = []
    for i in range(8):
        it = ds[i]
        mix, tgt = it["mixture"].double(), it["targets"][0].double()
        assert db(tgt) - db(mix - tgt) == pytest.approx(it["snr_db"], abs=0.1)
        assert float(10 * np.log10(np.mean(tgt.numpy() ** 2))) == pytest.approx(it["level_db"], abs=0.01)
        parts = it["noise_type"].split("+")  # e.g. "file@x1.32+shaped@x0.61"
        assert len(parts) == 2 and all("@x" in p for p in parts)
        factors += [float(p.split("@x")[1]) for p in parts]
    assert all(0.5 <= f <= 2.0 for f in factors) and min(factors) < 0.9 and max(factors) > 1.1
    plain = enh(manifest, 4, noise_types={"file": 1.0})[0]["noise_type"]
    assert "@x" not in plain and "+" not in plain


def test_speech_kinds_weight_the_draw_of_speakers(manifest):
    ds = enh(manifest, 5, speech_kinds={"clean": 3.0, "clean words": 1.0})
    kinds = [ds.speech.kind_of[ds[i]["speaker"]] for i in range(40)]
    assert set(kinds) == {"clean", "clean words"}
    assert 0.55 <= kinds.count("clean") / len(kinds) <= 0.95  # 3 : 1, binomial spread over 40 draws
    uniform = enh(manifest, 5)
    assert len({uniform.speech.kind_of[uniform[i]["speaker"]] for i in range(40)}) > 2
    with pytest.raises(DataError, match="no speaker of kind"):
        enh(manifest, 5, speech_kinds={"clean whispers": 1.0})[0]
    # a kind the pool lacks (a small validation split may) is left out while another one remains
    mixed = enh(manifest, 5, speech_kinds={"clean whispers": 5.0, "clean words": 1.0})
    assert {mixed.speech.kind_of[mixed[i]["speaker"]] for i in range(5)} == {"clean words"}
    with pytest.raises(DataError, match="speech_kinds"):
        SimConfig(speech_kinds={"clean": 0.0})


def test_reverberant_snr_is_relative_to_the_reverberant_speech(manifest):
    ds = enh(manifest, 2, p_reverb=1.0, rt60=(0.3, 0.6), reverb_target="early")
    for i in range(3):
        it = ds[i]
        mix, tgt, noise = it["mixture"].double(), it["targets"][0].double(), it["noise"].double()
        assert db(mix - noise) - db(noise) == pytest.approx(it["snr_db"], abs=0.1)
        assert 0.3 <= it["rt60"] <= 0.6
        assert db(mix - noise - tgt) < db(tgt)  # the late reverberation is weaker than direct + early


def test_band_limited_signal_has_no_energy_above_the_cutoff():
    x = np.random.default_rng(0).standard_normal(SR)
    f, before = welch(x, fs=SR, nperseg=1024)
    for bw in (2000.0, 4000.0):
        f, after = welch(band_limit(x, SR, bw), fs=SR, nperseg=1024)
        above = f > bw * 1.05
        assert after[above].sum() / after.sum() < 1e-6  # below -60 dB
        passband = f < bw * 0.85
        assert np.allclose(after[passband], before[passband], rtol=0.05)  # the rest is untouched
    assert np.array_equal(band_limit(x, SR, 8000.0), x)  # at Nyquist: nothing to remove


def test_band_limited_mixtures_in_the_dataset(manifest):
    it = enh(manifest, 3, p_bandlimit=1.0, bandwidths=(4000.0,))[0]
    f, psd = welch(it["mixture"].double().numpy(), fs=SR, nperseg=512)
    assert it["bandwidth"] == 4000.0 and psd[f > 4200].sum() / psd.sum() < 1e-5


def test_separation_sources_are_distinct_speakers_at_their_levels(manifest):
    cfg = SimConfig(level=(-30.0, -20.0), relative_level=(-5.0, 5.0))
    ds = SimulatedSeparationDataset(manifest, n_src=3, seconds=0.5, length=20, seed=4, config=cfg)
    for i in range(6):
        it = ds[i]
        speakers = it["speakers"].split(";")
        assert len(set(speakers)) == 3
        tg = it["targets"].double()
        assert torch.allclose(it["mixture"].double(), tg.sum(0), atol=1e-6)
        levels = 10 * np.log10(np.mean(tg.numpy() ** 2, axis=1))
        assert np.allclose(levels, it["levels_db"].numpy(), atol=0.01)
        assert -30.0 <= levels[0] <= -20.0 and np.all(np.abs(levels[1:] - levels[0]) <= 5.0 + 1e-6)
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    batch = next(iter(loader))
    assert batch["mixture"].shape == (4, SR // 2) and batch["targets"].shape == (4, 3, SR // 2)


def test_utterances_concatenate_one_speakers_items_with_gaps(tmp_path, make_files):
    make_files(tmp_path, ["a/1.wav", "a/2.wav", "b/1.wav"], seconds=0.1)
    items = [PoolItem(tmp_path / p, 0.1, "clean", p.split("/")[0], "", "") for p in ("a/1.wav", "a/2.wav", "b/1.wav")]
    pool = SpeechPool(items, SR)
    u = pool.utterance("a", SR, np.random.default_rng(0), gap=(0.05, 0.1))
    spec = np.abs(np.fft.rfft(u))  # tones of a at 200 and 250 Hz, b's at 300 Hz
    assert spec[300] < 0.05 * max(spec[200], spec[250])
    silent = np.concatenate([[False], np.abs(u) < 1e-4, [False]])
    edges = np.flatnonzero(np.diff(silent.astype(int)))
    runs = (edges[1::2] - edges[::2]) / SR
    runs = runs[runs > 0.01][1:-1]  # gaps, not zero crossings; the crop may cut the first and last gap
    assert len(runs) >= 3 and np.all((runs >= 0.045) & (runs <= 0.105))


def test_configuration_errors(manifest):
    with pytest.raises(DataError, match="reversed"):
        SimConfig(snr=(10.0, 0.0))
    with pytest.raises(DataError, match="noise_types"):
        SimConfig(noise_types={"rain": 1.0})
    with pytest.raises(DataError, match="noise_speed"):
        SimConfig(noise_speed=(0.0, 2.0))
    with pytest.raises(DataError, match="probabilities"):
        SimConfig(p_noise_mix=1.5)
    with pytest.raises(DataError, match="n_src"):
        SimulatedSeparationDataset(manifest, n_src=1, seconds=0.5)
    with pytest.raises(DataError, match="non-negative"):
        rng_for(-1, 0)


def test_noise_manifests_join_the_noise_pool(manifest, tmp_path):
    # an extra pool manifest in the shared data's format, holding one noise file: a 3 kHz tone
    t = np.arange(16000) / 16000
    save(tmp_path / "noise" / "tone.flac", 0.3 * np.sin(2 * np.pi * 3000 * t), 16000)
    (tmp_path / "manifest.csv").write_text("path,duration_s,kind,speaker,source,license\n"
                                           "noise/tone.flac,1.0,noise debian,,test,CC0\n")
    base = SimulatedEnhancementDataset(manifest, seconds=0.5, length=10)
    ds = SimulatedEnhancementDataset(manifest, seconds=0.5, length=10, noise_manifests=[tmp_path])
    assert len(ds.noise) == len(base.noise) + 1
    assert ds.noise.items[-1].path == tmp_path / "noise" / "tone.flac" and ds.noise.items[-1].kind == "noise debian"
    one = SimulatedEnhancementDataset(manifest, seconds=0.5, length=10, noise_manifests=tmp_path / "manifest.csv")
    assert len(one.noise) == len(ds.noise)
    with pytest.raises(DataError, match="no such manifest"):
        SimulatedEnhancementDataset(manifest, seconds=0.5, length=10, noise_manifests=[tmp_path / "missing.csv"])


def test_speech_manifests_join_the_speech_pool(manifest, tmp_path):
    # an extra pool manifest with two phrases of one new speaker, and a noise row that must not join the speech
    t = np.arange(16000) / 16000
    for name in ("a", "b"):
        save(tmp_path / "speech" / f"{name}.flac", 0.3 * np.sin(2 * np.pi * 200 * t), 16000)
    (tmp_path / "manifest.csv").write_text("path,duration_s,kind,speaker,source,license\n"
                                           "speech/a.flac,1.0,clean prompts,voice-x,test,CC0\n"
                                           "speech/b.flac,1.0,clean prompts,voice-x,test,CC0\n"
                                           "speech/a.flac,1.0,noise debian,,test,CC0\n")
    base = SimulatedEnhancementDataset(manifest, seconds=0.5, length=10)
    ds = SimulatedEnhancementDataset(manifest, seconds=0.5, length=10, speech_manifests=tmp_path,
                                     config=SimConfig(speech_kinds={"clean prompts": 1.0}))
    assert ds.speech.speakers == sorted(base.speech.speakers + ["voice-x"]) and len(ds.noise) == len(base.noise)
    assert ds.speech.by_kind["clean prompts"] == ["voice-x"]
    assert {ds[i]["speaker"] for i in range(4)} == {"voice-x"}  # the only speaker of the only kind drawn
    with pytest.raises(DataError, match="no such manifest"):
        SimulatedEnhancementDataset(manifest, seconds=0.5, length=10, speech_manifests=[tmp_path / "missing.csv"])
