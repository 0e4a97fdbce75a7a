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
    assert "pesq_wb, si_sdr, csig: estimate is silent" in rows["silent"]["reason"]
    assert float(rows["silent"]["stoi"]) == pytest.approx(0.0, abs=1e-6)  # scorable: an unintelligible output
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
    assert [c.strip() for c in stoi_line.strip("|").split("|")][4:6] == ["3", "2"]
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
