"""Example manifests (CSV / JSONL, relative paths, round trip) and the shared data's pool manifest."""

from __future__ import annotations

import csv
import json

import pytest

from cspec.data import DataError, paired_folders, read_manifest, read_pool, write_manifest


def test_csv_and_jsonl_manifests_resolve_relative_paths(tmp_path, make_files):
    make_files(tmp_path / "audio", ["mix/a.wav", "mix/b.wav", "s1/a.wav", "s1/b.wav", "s2/a.wav", "s2/b.wav"])
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "sep.csv").write_text(
        "mixture,s1,s2,speaker,split\n"
        "../audio/mix/a.wav,../audio/s1/a.wav,../audio/s2/a.wav,spk1;spk2,train\n"
        "../audio/mix/b.wav,../audio/s1/b.wav,../audio/s2/b.wav,spk3;spk1,test\n")
    ex = read_manifest(tmp_path / "lists" / "sep.csv")
    assert [e.name for e in ex] == ["a", "b"] and ex[1].speakers == ("spk3", "spk1")
    assert ex[0].targets == (tmp_path / "lists" / "../audio/s1/a.wav", tmp_path / "lists" / "../audio/s2/a.wav")
    assert all(t.resolve().is_file() for e in ex for t in (e.mixture, *e.targets))
    assert [e.name for e in read_manifest(tmp_path / "lists" / "sep.csv", split="test")] == ["b"]
    rows = [{"noisy": "audio/mix/a.wav", "clean": "audio/s1/a.wav", "speaker": "p1", "name": "first"}]
    (tmp_path / "enh.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (e,) = read_manifest(tmp_path / "enh.jsonl")
    assert (e.name, e.noisy, e.clean, e.speakers) == ("first", tmp_path / "audio/mix/a.wav",
                                                     tmp_path / "audio/s1/a.wav", ("p1",))


def test_manifest_errors(tmp_path, make_files):
    make_files(tmp_path, ["n/a.wav", "c/a.wav"])
    (tmp_path / "bad.csv").write_text("input,output\nn/a.wav,c/a.wav\n")
    with pytest.raises(DataError, match="'noisy' or 'mixture'"):
        read_manifest(tmp_path / "bad.csv")
    (tmp_path / "gone.csv").write_text("noisy,clean\nn/a.wav,c/a.wav\nn/b.wav,c/b.wav\n")
    with pytest.raises(DataError, match=r"2 listed file\(s\) do not exist"):
        read_manifest(tmp_path / "gone.csv")
    assert len(read_manifest(tmp_path / "gone.csv", check=False)) == 2
    (tmp_path / "m.jsonl").write_text('{"noisy": "n/a.wav", "clean": "c/a.wav"}\nnot json\n')
    with pytest.raises(DataError, match=r"m.jsonl:2"):
        read_manifest(tmp_path / "m.jsonl")
    with pytest.raises(DataError, match="use .csv or .jsonl"):
        read_manifest(tmp_path / "n" / "a.wav")


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_write_then_read_is_the_identity(tmp_path, make_files, suffix):
    make_files(tmp_path, [f"{d}/u{i}.wav" for d in ("noisy", "clean") for i in range(3)])
    ex = paired_folders(tmp_path / "noisy", tmp_path / "clean", split="dev")
    out = write_manifest(ex, tmp_path / "sub" / f"list.{suffix}")
    back = read_manifest(out)
    assert [(b.name, b.mixture.resolve(), tuple(t.resolve() for t in b.targets), b.split) for b in back] == \
        [(e.name, e.mixture.resolve(), e.targets, e.split) for e in ex]


def test_shared_pool_filters_match_a_direct_count(manifest):
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    speech = read_pool(manifest, "speech")
    assert len(speech) == sum(r["kind"].split(" ")[0] == "clean" for r in rows)
    assert all(it.path.is_file() for it in speech[:: max(1, len(speech) // 50)])
    assert all(it.speaker for it in speech)
    noise = read_pool(manifest.parent, "noise")
    assert len(noise) == sum(r["kind"].startswith("noise") for r in rows) and len(noise) > 5
    cc = read_pool(manifest, "speech", license="CC-BY")
    assert len(cc) == sum(r["kind"].split(" ")[0] == "clean" and "cc-by" in r["license"].lower() for r in rows)
    no_gpl = read_pool(manifest, "speech", exclude_license="GPL")
    assert len(no_gpl) + sum(r["kind"].split(" ")[0] == "clean" and "gpl" in r["license"].lower()
                             for r in rows) == len(speech)
    assert {it.kind for it in read_pool(manifest, "clean digits")} == {"clean digits"}
    with pytest.raises(DataError, match="kinds present"):
        read_pool(manifest, "speech", source="no such source")
