"""``cspec eval --sources N`` end to end (issue #22, point 4): folders of 3 real read-speech sources, flat
(``<name>_s1.wav``) and LibriMix-style (``s1/ s2/ s3/``), shuffled estimates, missing and short files."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cspec.cli import main
from cspec.metrics import score_separation

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
READ = DATA / "speech_read"
SR = 16000


def _speech(n_items: int, seconds: float = 1.5) -> list[np.ndarray]:
    """Clips of read speech of different test speakers (Ogg Opus, decoded by cspec.audio.load)."""
    from cspec.audio import load

    with open(READ / "manifest.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test" and float(r["duration_s"]) >= 2 * seconds]
    picked: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: r["path"]):
        picked.setdefault(r["speaker"], r["path"])
    out = []
    for path in list(picked.values())[:n_items]:
        x = load(READ / path, mono=True)[0][0].double().numpy()[int(0.3 * SR): int((0.3 + seconds) * SR)]
        out.append(0.3 * x / np.abs(x).max())
    return out


def _separated(refs: np.ndarray, rng) -> np.ndarray:
    """A separator's imperfect outputs: every source with 10 % of the others and a little noise."""
    leak = 0.1 * (refs.sum(0, keepdims=True) - refs)
    return refs + leak + 0.003 * rng.standard_normal(refs.shape)


ORDERS = {"good1": [2, 0, 1], "good2": [0, 1, 2], "missing": [1, 0, 2], "short": [0, 2, 1]}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    """ref/ (flat), ref_lm/ (s1/ s2/ s3/), est/, mix/: two good files, one without est s2, one 0.3 s short."""
    root = tmp_path_factory.mktemp("sep")
    clips = _speech(6)
    rng = np.random.default_rng(0)
    for d in ("ref", "est", "mix", "ref_lm/s1", "ref_lm/s2", "ref_lm/s3", "ref_lm/mix_clean"):
        (root / d).mkdir(parents=True)
    for i, (name, order) in enumerate(ORDERS.items()):
        refs = np.stack([clips[(i + k) % 6] for k in range(3)])
        ests = _separated(refs, rng)[order]  # estimate j is source order[j]
        for k in range(3):
            sf.write(root / "ref" / f"{name}_s{k + 1}.wav", refs[k], SR, subtype="FLOAT")
            sf.write(root / "ref_lm" / f"s{k + 1}" / f"{name}.wav", refs[k], SR, subtype="FLOAT")
            est = ests[k][: -int(0.3 * SR)] if name == "short" and k == 1 else ests[k]
            if not (name == "missing" and k == 1):
                sf.write(root / "est" / f"{name}_s{k + 1}.wav", est, SR, subtype="FLOAT")
        sf.write(root / "mix" / f"{name}.wav", refs.sum(0), SR, subtype="FLOAT")
        sf.write(root / "ref_lm" / "mix_clean" / f"{name}.wav", refs.sum(0), SR, subtype="FLOAT")
    return root


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path) as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def _cells(text: str, metric: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith(f"| {metric} "))
    return [c.strip() for c in line.strip("|").split("|")]


def test_three_sources_scores_permutations_and_nan_reasons(folders, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    code = main(["eval", "--ref", str(folders / "ref"), "--est", str(folders / "est"), "--mix",
                 str(folders / "mix"), "--sources", "3", "--csv", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    rows = _rows(out)
    assert set(rows) == set(ORDERS)
    for name in ("good1", "good2"):
        row = rows[name]
        # the perm column: the estimate (1-based) matched with reference s1, s2, s3
        assert row["perm"] == " ".join(str(ORDERS[name].index(k) + 1) for k in range(3)) and row["reason"] == ""
        refs = [sf.read(folders / "ref" / f"{name}_s{k}.wav")[0] for k in (1, 2, 3)]
        ests = np.stack([sf.read(folders / "est" / f"{name}_s{k}.wav")[0] for k in (1, 2, 3)])
        mix = sf.read(folders / "mix" / f"{name}.wav")[0]
        want = score_separation(refs, ests, SR, mix=mix)
        assert float(row["sdri"]) == pytest.approx(float(want.sdri.mean()), abs=1e-9)
        assert float(row["si_sdr_s3"]) == pytest.approx(float(want.si_sdr[2]), abs=1e-9)
        # independent check: mir_eval's SDR, with its own permutation, equals the sdr_sK columns
        from mir_eval.separation import bss_eval_sources

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            sdr, _, _, popt = bss_eval_sources(np.stack(refs), ests)
        assert " ".join(str(i + 1) for i in popt) == row["perm"]
        np.testing.assert_allclose([float(row[f"sdr_s{k}"]) for k in (1, 2, 3)], sdr, atol=1e-6)
        assert float(row["si_sdri"]) > 10 and float(row["mix_si_sdr"]) < 0
    assert rows["missing"]["reason"] == "all: no est file for source s2 (missing_s2.*)"
    assert rows["short"]["reason"].startswith("all: lengths differ: ") and "estimate s2 1.200 s" in rows["short"][
        "reason"]
    for name in ("missing", "short"):
        assert all(rows[name][c] == "nan" for c in ("si_sdr", "sdr", "si_sdri", "sdri", "sdr_s2")), name
    good = [float(rows[n]["si_sdri"]) for n in ("good1", "good2")]
    cells = _cells(text, "si_sdri")
    assert cells[1] == "dB" and cells[2] == f"{np.mean(good):.3f}" and cells[4:6] == ["2", "2"]
    assert "2 file(s) with NaN values" in text


def test_librimix_layout_gives_the_same_numbers(folders, tmp_path, capsys):
    flat, lm = tmp_path / "flat.csv", tmp_path / "lm.csv"
    est = str(folders / "est")
    assert main(["eval", "--ref", str(folders / "ref"), "--est", est, "--sources", "3", "--csv", str(flat)]) == 0
    assert main(["eval", "--ref", str(folders / "ref_lm"), "--est", est, "--sources", "3", "--csv", str(lm),
                 "--mix", str(folders / "ref_lm" / "mix_clean"), "--jobs", "2"]) == 0
    a, b = _rows(flat), _rows(lm)
    assert "si_sdri" not in a["good1"] and "sdri_s1" in b["good1"]  # improvement columns only with --mix
    for name in ("good1", "good2"):
        for c in ("si_sdr", "sdr", "si_sdr_s1", "sdr_s3", "perm"):
            assert a[name][c] == b[name][c], (name, c)
    capsys.readouterr()


def test_nothing_scored_exits_1(folders, tmp_path, capsys):
    est = tmp_path / "est"
    est.mkdir()
    for k in (1, 2, 3):
        sf.write(est / f"good1_s{k}.wav", np.zeros(3 * SR // 2), SR, subtype="FLOAT")  # all silence
    ref = tmp_path / "ref"
    ref.mkdir()
    for k in (1, 2, 3):
        (ref / f"good1_s{k}.wav").write_bytes((folders / "ref" / f"good1_s{k}.wav").read_bytes())
    assert main(["eval", "--ref", str(ref), "--est", str(est), "--sources", "3"]) == 1
    captured = capsys.readouterr()
    assert "good1: all: estimate s1 is silent" in captured.out
    assert "no file could be scored: all 2 values are NaN" in captured.err


@pytest.mark.parametrize("extra, message", [
    (["--noisy", "{root}/mix"], "--noisy does not apply to separation"),
    (["--sources", "0"], "--sources must be >= 1"),
    (["--csv", "{root}/est/good1_s1.wav"], "is one of the input files"),
])
def test_bad_invocations_are_one_line(folders, capsys, extra, message):
    args = ["eval", "--ref", str(folders / "ref"), "--est", str(folders / "est"), "--sources", "3"]
    before = (folders / "est" / "good1_s1.wav").read_bytes()
    code = main(args + [e.format(root=folders) for e in extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert (folders / "est" / "good1_s1.wav").read_bytes() == before  # an input is never overwritten


def test_names_that_do_not_pair_and_mix_without_sources(folders, tmp_path, capsys):
    est = tmp_path / "est"
    est.mkdir()
    sf.write(est / "other_s1.wav", np.ones(SR) * 0.1, SR)
    assert main(["eval", "--ref", str(folders / "ref"), "--est", str(est), "--sources", "3"]) == 2
    err = capsys.readouterr().err
    assert "files do not pair by name; 1 estimate(s) without a --ref file: other" in err
    assert main(["eval", "--ref", str(folders / "ref"), "--est", str(est), "--mix", str(folders / "mix")]) == 2
    assert "--mix is for separation: pass --sources N" in capsys.readouterr().err
    sf.write(est / "plain.wav", np.ones(SR) * 0.1, SR)
    assert main(["eval", "--ref", str(folders / "ref"), "--est", str(est), "--sources", "3"]) == 2
    assert "1 file(s) not named <name>_s<k>" in capsys.readouterr().err
