"""Corpus readers on tiny look-alike folders: counts, pairing, split selection, speaker ids and the errors."""

from __future__ import annotations

import csv

import pytest

from cspec.data import DataError, dns_challenge, librimix, paired_folders, voicebank_demand, wsj0mix


def test_voicebank_demand_splits_speakers_and_resampled_folders(tmp_path, make_files):
    train = ["p226_001", "p226_002", "p287_001", "p230_010"]
    make_files(tmp_path, [f"{k}_trainset_28spk_wav/{n}.wav" for k in ("clean", "noisy") for n in train])
    # a resampled copy of the test set under a suffixed folder name, same file names
    make_files(tmp_path, [f"{k}_testset_wav_16k/p232_{i:03d}.wav" for k in ("clean", "noisy") for i in (1, 2)])
    tr = voicebank_demand(tmp_path, "train")
    assert [e.name for e in tr] == ["p226_001", "p226_002", "p230_010", "p287_001"]
    assert all(e.noisy.parent.name == "noisy_trainset_28spk_wav" and e.clean.name == e.noisy.name for e in tr)
    assert [e.speakers for e in tr] == [("p226",), ("p226",), ("p230",), ("p287",)]
    held = ("p226", "p287")
    assert [e.name for e in voicebank_demand(tmp_path, "train", valid_speakers=held)] == ["p230_010"]
    assert len(voicebank_demand(tmp_path, "valid", valid_speakers=held)) == 3
    te = voicebank_demand(tmp_path, "test")
    assert len(te) == 2 and {e.split for e in te} == {"test"}
    with pytest.raises(DataError, match="no folder noisy_trainset_56spk_wav"):
        voicebank_demand(tmp_path, "train", speakers=56)
    with pytest.raises(DataError, match="valid_speakers"):
        voicebank_demand(tmp_path, "valid")


def test_unmatched_pairs_are_listed(tmp_path, make_files):
    make_files(tmp_path, [f"clean/u{i}.wav" for i in range(8)] + ["noisy/u0.wav"])
    with pytest.raises(DataError) as err:
        paired_folders(tmp_path / "noisy", tmp_path / "clean")
    msg = str(err.value)
    assert "7 file(s)" in msg and "u1, u2, u3, u4, u5 ..." in msg and "u6" not in msg
    with pytest.raises(DataError, match="no such noisy folder"):
        paired_folders(tmp_path / "nope", tmp_path / "clean")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no audio"):
        paired_folders(tmp_path / "empty", tmp_path / "clean")


def test_paired_folders_match_by_stem_across_formats(tmp_path, make_files):
    make_files(tmp_path, ["noisy/a.wav", "noisy/b10.wav", "noisy/b9.wav", "clean/a.flac", "clean/b9.flac",
                          "clean/b10.flac"])
    ex = paired_folders(tmp_path / "noisy", tmp_path / "clean", split="dev")
    assert [e.name for e in ex] == ["a", "b9", "b10"]  # natural order
    assert all(e.clean.suffix == ".flac" and e.clean.stem == e.name and e.split == "dev" for e in ex)


def test_dns_training_and_test_layouts(tmp_path, make_files):
    ids = [3, 12, 40]
    make_files(tmp_path / "train", [f"clean/clean_fileid_{i}.wav" for i in ids]
               + [f"noisy/book_0{i}_chp_snr{i % 7}_tl-25_fileid_{i}.wav" for i in ids]
               + [f"noise/noise_fileid_{i}.wav" for i in ids])
    ex = dns_challenge(tmp_path / "train")
    assert [e.name for e in ex] == ["fileid_3", "fileid_12", "fileid_40"]
    assert all(e.clean.stem == f"clean_{e.name}" and e.noise.stem == f"noise_{e.name}" for e in ex)
    assert all(e.noisy.stem.endswith("_" + e.name) for e in ex)
    syn = tmp_path / "DNS" / "test_set" / "synthetic"
    make_files(syn, [f"{r}/{k}/{'clean' if k == 'clean' else 'x_snr5'}_fileid_{i}.wav"
                     for r, n in (("no_reverb", 2), ("with_reverb", 3)) for k in ("clean", "noisy") for i in range(n)])
    assert len(dns_challenge(tmp_path / "DNS", "no_reverb")) == 2
    rev = dns_challenge(tmp_path / "DNS", "with_reverb")
    assert len(rev) == 3 and rev[0].noise is None and rev[0].split == "with_reverb"
    (tmp_path / "train" / "noisy" / "book_012_chp_snr5_tl-25_fileid_12.wav").unlink()
    with pytest.raises(DataError, match=r"no partner in .*noisy: 12"):
        dns_challenge(tmp_path / "train")


def _librimix_tree(root, make_files, names, split="dev"):
    base = root / "Libri2Mix" / "wav8k" / "min" / split
    make_files(base, [f"{d}/{n}.wav" for d in ("mix_both", "mix_clean", "s1", "s2", "noise") for n in names],
               sr=8000)
    return base


def test_librimix_folders_and_metadata_csv(tmp_path, make_files):
    names = ["84-121123-0001_3536-23268-0000", "1272-128104-0000_2035-147961-0014"]
    base = _librimix_tree(tmp_path, make_files, names)
    ex = librimix(tmp_path, 2, 8000, "min", "dev", "both")  # no CSV: folders paired by name
    assert [e.name for e in ex] == sorted(names, key=lambda s: int(s.split("-")[0]))
    assert all(len(e.targets) == 2 and e.noise.parent.name == "noise" for e in ex)
    assert ex[0].speakers == ("84", "3536") and ex[1].speakers == ("1272", "2035")
    assert len(librimix(tmp_path / "Libri2Mix", 2, "8k", split="dev", mix_type="clean")) == 2
    # CSV written on another machine: absolute paths that do not exist here, one mixture only
    meta = base.parent / "metadata"
    meta.mkdir()
    with open(meta / "mixture_dev_mix_both.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mixture_ID", "mixture_path", "source_1_path", "source_2_path", "noise_path", "length"])
        far = "/datasets/elsewhere/Libri2Mix/wav8k/min/dev"
        w.writerow([names[1]] + [f"{far}/{d}/{names[1]}.wav" for d in ("mix_both", "s1", "s2", "noise")] + [800])
    ex = librimix(tmp_path, 2, 8000, split="dev")
    assert len(ex) == 1 and ex[0].mixture == base / "mix_both" / f"{names[1]}.wav"
    assert ex[0].targets == (base / "s1" / f"{names[1]}.wav", base / "s2" / f"{names[1]}.wav")
    assert ex[0].noise == base / "noise" / f"{names[1]}.wav"


def test_librimix_errors(tmp_path, make_files):
    names = ["84-121123-0001_3536-23268-0000"]
    _librimix_tree(tmp_path, make_files, names)
    with pytest.raises(DataError, match="mix_single"):
        librimix(tmp_path, 2, 8000, split="dev", mix_type="single")
    with pytest.raises(DataError, match="no such folder"):
        librimix(tmp_path, 2, 16000, split="dev")
    with pytest.raises(DataError, match="8000 or 16000"):
        librimix(tmp_path, 2, 44100, split="dev")
    meta = tmp_path / "Libri2Mix" / "wav8k" / "min" / "metadata"
    meta.mkdir()
    (meta / "mixture_dev_mix_both.csv").write_text(
        "mixture_ID,mixture_path,source_1_path,source_2_path,noise_path,length\n"
        "x,/a/Libri2Mix/wav8k/min/dev/mix_both/x.wav,/a/s1/x.wav,/a/s2/x.wav,/a/noise/x.wav,1\n")
    with pytest.raises(DataError, match="4 listed file"):
        librimix(tmp_path, 2, 8000, split="dev")


def test_wsj0mix_layout_and_speakers(tmp_path, make_files):
    names = ["01aa010b_0.97482_209a010p_-0.97482", "40na010x_1.2_050c0109_-1.2", "401c020o_0.5_22ga010b_-0.5"]
    split = tmp_path / "3speakers" / "wav8k" / "max" / "cv"
    three = [n + "_011c0201_0.3" for n in names]
    make_files(split, [f"{d}/{n}.wav" for d in ("mix", "s1", "s2", "s3") for n in three], sr=8000)
    ex = wsj0mix(tmp_path, 3, 8000, "max", "cv")
    assert len(ex) == 3 and all(len(e.targets) == 3 for e in ex)
    assert {e.speakers for e in ex} == {("01a", "209", "011"), ("40n", "050", "011"), ("401", "22g", "011")}
    assert all(t.parent.name == f"s{i}" and t.name == e.mixture.name for e in ex for i, t in enumerate(e.targets, 1))
    with pytest.raises(DataError, match="WSJ0-mix"):
        wsj0mix(tmp_path, 2, 8000, "max", "cv")
    with pytest.raises(DataError, match="split tr, cv or tt"):
        wsj0mix(tmp_path, 3, 8000, "max", "dev")
