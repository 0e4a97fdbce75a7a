"""``cspec eval`` end to end on small folders made from the real dev pairs, including unscorable files."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cspec.cli import main
from cspec.metrics import pesq_wb

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
DEV = DATA / "dev_pairs"
METRICS = "pesq,stoi,si_sdr,csig"


def _read(kind: str, name: str, seconds: float = 2.0) -> np.ndarray:
    x, sr = sf.read(DEV / kind / f"{name}.flac", dtype="float32")
    return x[: int(seconds * sr)]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    """ref/, est/ and noisy/ with two good pairs, a silent estimate, a 50 ms pair and a NaN estimate."""
    root = tmp_path_factory.mktemp("eval")
    for d in ("ref", "est", "noisy"):
        (root / d).mkdir()
    for name in ("dns3_0015", "vbd_train_p287_003"):
        clean, noisy = _read("clean", name), _read("noisy", name)
        sf.write(root / "ref" / f"{name}.wav", clean, 16000)
        sf.write(root / "noisy" / f"{name}.wav", noisy, 16000)
        sf.write(root / "est" / f"{name}.flac", 0.5 * clean + 0.5 * noisy, 16000)  # another format pairs too
    clean, noisy = _read("clean", "dns3_0016"), _read("noisy", "dns3_0016")
    bad = noisy.copy()
    bad[1000] = np.nan
    for name, est in (("silent", np.zeros_like(clean)), ("short", clean[:800]), ("nanfile", bad)):
        ref = clean[:800] if name == "short" else clean
        sf.write(root / "ref" / f"{name}.wav", ref, 16000)
        sf.write(root / "noisy" / f"{name}.wav", noisy[: len(ref)], 16000)
        sf.write(root / "est" / f"{name}.wav", est, 16000, subtype="FLOAT")
    return root


def _csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path) as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def test_bad_files_give_nan_rows_with_reasons_and_exit_0(folders, tmp_path, capsys):
    out_csv = tmp_path / "scores.csv"
    code = main(["eval", "--ref", str(folders / "ref"), "--est", str(folders / "est"), "--metrics", METRICS,
                 "--csv", str(out_csv)])
    assert code == 0
    text = capsys.readouterr().out
    assert "resampler soxr-VHQ" in text and "pesq 0.0.4" in text
    rows = _csv(out_csv)
    assert set(rows) == {"dns3_0015", "vbd_train_p287_003", "silent", "short", "nanfile"}
    assert rows["nanfile"]["reason"].startswith("all: ") and "NaN or Inf" in rows["nanfile"]["reason"]
    assert all(rows["nanfile"][m] == "nan" for m in ("pesq_wb", "stoi", "si_sdr", "csig"))
    assert "pesq_wb, stoi, si_sdr, csig: estimate is silent" in rows["silent"]["reason"]
    assert "too short: 0.050 s" in rows["short"]["reason"] and rows["short"]["pesq_wb"] == "nan"
    assert math.isfinite(float(rows["short"]["si_sdr"]))
    # the per-file value is the metric function's own number
    ref, _ = sf.read(folders / "ref" / "dns3_0015.wav")
    est, _ = sf.read(folders / "est" / "dns3_0015.flac")
    assert float(rows["dns3_0015"]["pesq_wb"]) == pesq_wb(ref, est, 16000)
    # summary: the mean leaves NaN out and counts them
    good = [float(rows[k]["pesq_wb"]) for k in ("dns3_0015", "vbd_train_p287_003")]
    line = next(ln for ln in text.splitlines() if ln.startswith("| pesq_wb "))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2] == f"{np.mean(good):.3f}" and cells[4:6] == ["2", "3"]
    stoi_line = next(ln for ln in text.splitlines() if ln.startswith("| stoi "))
    assert [c.strip() for c in stoi_line.strip("|").split("|")][4:6] == ["2", "3"]
    assert "3 file(s) with NaN values" in text


def test_noisy_gives_improvements_and_jobs_2_gives_the_same_numbers(folders, tmp_path, capsys):
    args = ["eval", "--ref", str(folders / "ref"), "--est", str(folders / "est"), "--noisy", str(folders / "noisy"),
            "--metrics", "pesq,si_sdr"]
    assert main(args + ["--csv", str(tmp_path / "one.csv")]) == 0
    text = capsys.readouterr().out
    assert main(args + ["--csv", str(tmp_path / "two.csv"), "--jobs", "2"]) == 0
    one, two = _csv(tmp_path / "one.csv"), _csv(tmp_path / "two.csv")
    assert one == two
    row = one["dns3_0015"]
    assert float(row["delta_si_sdr"]) == pytest.approx(float(row["si_sdr"]) - float(row["noisy_si_sdr"]))
    assert float(row["delta_si_sdr"]) > 0  # mixing in half the clean signal improves SI-SDR
    assert "improvement" in text.splitlines()[4]


def test_unmatched_files_are_listed(folders, tmp_path, capsys):
    est = tmp_path / "est"
    est.mkdir()
    sf.write(est / "dns3_0015.wav", np.zeros(1600, dtype=np.float32) + 0.1, 16000)
    sf.write(est / "stray.wav", np.zeros(1600, dtype=np.float32) + 0.1, 16000)
    code = main(["eval", "--ref", str(folders / "ref"), "--est", str(est)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "1 estimate(s) without a --ref file: stray" in err[0]
    assert "4 --ref file(s) without an estimate: nanfile, short, silent, vbd_train_p287_003" in err[0]


def test_dnsmos_without_reference_and_usage_errors(folders, tmp_path, capsys):
    est = tmp_path / "only"
    est.mkdir()
    sf.write(est / "a.wav", _read("noisy", "dns3_0015"), 16000)
    assert main(["eval", "--est", str(est), "--dnsmos", "--csv", str(tmp_path / "d.csv")]) == 0
    row = _csv(tmp_path / "d.csv")["a"]
    assert 1 <= float(row["dnsmos_ovrl"]) <= 5 and row["reason"] == ""
    capsys.readouterr()
    assert main(["eval", "--est", str(est)]) == 2
    assert "--dnsmos" in capsys.readouterr().err
    assert main(["eval", "--est", str(est), "--ref", str(est), "--metrics", "pesq,nope"]) == 2
    assert "unknown metric 'nope'" in capsys.readouterr().err
    assert main(["eval", "--est", str(est), "--metrics", "pesq"]) == 2


def _bursts(count: int = 60) -> np.ndarray:
    """``count`` voiced 0.25 s bursts after 0.25 s pauses: 60 utterances (30 s) crash the pesq C code (SIGSEGV)."""
    rng = np.random.default_rng(1)
    t = np.arange(4000) / 16000
    parts = []
    for i in range(count):
        tone = 0.3 * np.sin(2 * np.pi * (150 + 50 * (i % 5)) * t) + 0.05 * rng.standard_normal(len(t))
        parts += [np.zeros(4000), tone * np.hanning(len(t))]
    return np.concatenate([*parts, np.zeros(4000)])


def test_long_file_is_scored_and_nothing_is_lost(tmp_path, capsys):
    # 30 s whose 60 utterances killed `cspec eval` with exit 139 (the whole report and the CSV lost)
    for d in ("ref", "est"):
        (tmp_path / d).mkdir()
    ref = _bursts()
    est = ref + 0.003 * np.random.default_rng(2).standard_normal(len(ref))
    sf.write(tmp_path / "ref" / "long.wav", ref, 16000, subtype="FLOAT")
    sf.write(tmp_path / "est" / "long.wav", est, 16000, subtype="FLOAT")
    good = _read("clean", "dns3_0015")
    sf.write(tmp_path / "ref" / "short.wav", good, 16000)
    sf.write(tmp_path / "est" / "short.wav", good, 16000)
    assert main(["eval", "--ref", str(tmp_path / "ref"), "--est", str(tmp_path / "est"), "--metrics", "pesq",
                 "--jobs", "2", "--csv", str(tmp_path / "s.csv")]) == 0
    rows = _csv(tmp_path / "s.csv")
    ref32, est32 = (sf.read(tmp_path / d / "long.wav")[0] for d in ("ref", "est"))
    assert float(rows["long"]["pesq_wb"]) == pesq_wb(ref32, est32, 16000)  # in segments (tests/metrics)
    assert 1 < float(rows["long"]["pesq_wb"]) < 4.65 and rows["long"]["reason"] == ""
    assert float(rows["short"]["pesq_wb"]) == pytest.approx(4.644, abs=1e-3)


def test_lengths_that_differ_give_nan_and_no_score_at_all_exits_1(tmp_path, capsys):
    # a 1-sample estimate against a 6.5 s reference scored SI-SDR 136.5 dB and SDR 2980 dB
    for d in ("ref", "est"):
        (tmp_path / d).mkdir()
    clean = np.tile(_read("clean", "dns3_0015", 5.0), 2)[: int(6.5 * 16000)]
    sf.write(tmp_path / "ref" / "one.wav", clean, 16000)
    sf.write(tmp_path / "est" / "one.wav", clean[:1], 16000)
    code = main(["eval", "--ref", str(tmp_path / "ref"), "--est", str(tmp_path / "est"), "--metrics", "si_sdr,sdr",
                 "--csv", str(tmp_path / "s.csv")])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.strip().splitlines()[-1] == (
        "cspec eval: no file could be scored: all 2 values are NaN (reasons listed above)")
    row = _csv(tmp_path / "s.csv")["one"]  # the table is still written
    assert row["si_sdr"] == row["sdr"] == "nan"
    assert row["reason"] == ("si_sdr, sdr: reference and estimate lengths differ: 6.500 s vs 0.000 s "
                             "(104000 vs 1 samples at 16000 Hz), more than the 0.1 s tolerance")
    assert "one: si_sdr, sdr: reference and estimate lengths differ" in captured.out
    # one scorable file is enough for exit 0
    sf.write(tmp_path / "ref" / "two.wav", clean, 16000)
    sf.write(tmp_path / "est" / "two.wav", clean[:-800], 16000)  # 50 ms shorter: within the tolerance, cut
    assert main(["eval", "--ref", str(tmp_path / "ref"), "--est", str(tmp_path / "est"), "--metrics", "si_sdr"]) == 0


_HOOK = """
import importlib, os, signal


def install():
    ev = importlib.import_module("cspec.metrics.evaluate")
    group = ev._group

    def crashing(name, ref, est, sr, done):
        if name == "pesq_wb" and est.shape[-1] == 20000:
            os.kill(os.getpid(), signal.SIGSEGV)
        return group(name, ref, est, sr, done)

    ev._group = crashing
"""


def test_a_crashing_metric_keeps_the_report(folders, tmp_path, monkeypatch, capsys):
    import functools

    import cspec.metrics.report as report

    (tmp_path / "eval_crash_hook.py").write_text(_HOOK)
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers inherit sys.path
    from eval_crash_hook import install

    monkeypatch.setattr(report, "evaluate_pairs", functools.partial(report.evaluate_pairs, worker_init=install))
    ref, est = tmp_path / "ref", tmp_path / "est"
    ref.mkdir()
    est.mkdir()
    for name, n in (("crashes", 20000), ("fine", 24000)):
        x = _read("clean", "dns3_0015")[:n]
        sf.write(ref / f"{name}.wav", x, 16000)
        sf.write(est / f"{name}.wav", 0.5 * x + 0.5 * _read("noisy", "dns3_0015")[:n], 16000)
    code = main(["eval", "--ref", str(ref), "--est", str(est), "--metrics", "pesq,si_sdr", "--jobs", "1",
                 "--csv", str(tmp_path / "s.csv")])
    assert code == 0
    rows = _csv(tmp_path / "s.csv")
    assert rows["crashes"]["pesq_wb"] == "nan" and rows["crashes"]["reason"] == "pesq_wb: crashed (signal 11)"
    assert math.isfinite(float(rows["crashes"]["si_sdr"])) and math.isfinite(float(rows["fine"]["pesq_wb"]))
    assert "crashes: pesq_wb: crashed (signal 11)" in capsys.readouterr().out


def test_an_unwritable_csv_is_refused_before_scoring(folders, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    for target, why in ((tmp_path / "afile" / "s.csv", "not a directory"), (tmp_path, "is a folder")):
        code = main(["eval", "--ref", str(folders / "ref"), "--est", str(folders / "est"), "--metrics", "si_sdr",
                     "--csv", str(target)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and str(target) in err[0] and why in err[0], err
