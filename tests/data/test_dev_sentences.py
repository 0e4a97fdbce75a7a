"""recipes/read/dev_sentences.py: test speakers only, held-out noise only, the SNR it says, the same files twice."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from cspec.audio import load, save

SR = 16000
COLS = ["path", "duration_s", "kind", "speaker", "source", "license", "split"]


def script():
    path = Path(__file__).resolve().parents[2] / "recipes" / "read" / "dev_sentences.py"
    spec = importlib.util.spec_from_file_location("dev_sentences", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ds = script()


def manifest(root: Path, rows: list[tuple[str, str, str, str]], seconds: float) -> Path:
    """Files of tones (speech) or noise under ``root`` and their pool manifest; rows ``(path, kind, spk, split)``."""
    rng = np.random.default_rng(len(rows))
    out = []
    for i, (rel, kind, spk, split) in enumerate(rows):
        t = np.arange(int(seconds * SR)) / SR
        x = 0.3 * np.sin(2 * np.pi * (180 + 40 * i) * t) if kind == "clean" else 0.2 * rng.standard_normal(len(t))
        save(root / rel, x, SR, overwrite=True)
        out.append([rel, seconds, kind, spk, "test", "CC0", split])
    with open(root / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([COLS, *out])
    return root


@pytest.fixture
def data(tmp_path):
    speech = manifest(tmp_path / "speech", [(f"{s}/{j}.flac", "clean", s, sp) for s, sp in
                                            (("a", "test"), ("b", "test"), ("c", "test"), ("d", "train"),
                                             ("e", "valid")) for j in range(3)], 0.5)
    noise = manifest(tmp_path / "noise", [("n/train.flac", "noise debian", "", "train"),
                                          ("n/held1.flac", "noise debian", "", "test"),
                                          ("n/held2.flac", "noise debian", "", "test")], 0.3)
    return speech, noise


def run(data, out: Path, *extra) -> list[dict]:
    speech, noise = data
    assert ds.main(["--speech", str(speech), "--noise", str(noise), "--out", str(out), "--per-speaker", "2",
                    "--min-bak", "-1", *extra]) == 0
    with open(out / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_pairs_of_test_speakers_in_held_out_noise_at_their_snr(data, tmp_path):
    rows = run(data, tmp_path / "dev")
    assert len(rows) == 6 and {r["speaker"] for r in rows} == {"a", "b", "c"}  # 2 sentences of each test speaker
    for r in rows:
        assert r["noise"].startswith("babble:") or r["noise"].split("/")[-1] in ("held1.flac", "held2.flac")
        if r["noise"].startswith("babble:"):
            assert set(r["noise"][7:].split(";")) <= {"a", "b", "c"} - {r["speaker"]}
        clean = load(tmp_path / "dev" / r["clean"])[0][0].double().numpy()
        noisy = load(tmp_path / "dev" / r["noisy"])[0][0].double().numpy()
        snr = 10 * np.log10(np.sum(clean ** 2) / np.sum((noisy - clean) ** 2))
        assert snr == pytest.approx(float(r["snr_db"]), abs=0.05) and 0 <= snr <= 15
        assert 10 * np.log10(np.mean(clean ** 2)) == pytest.approx(float(r["level_db"]), abs=0.05)
    again = run(data, tmp_path / "again")
    assert again == rows
    for r in rows:
        for col in ("clean", "noisy"):
            assert (tmp_path / "dev" / r[col]).read_bytes() == (tmp_path / "again" / r[col]).read_bytes()
    assert ds.main(["--speech", str(data[0]), "--noise", str(data[1]), "--out", str(tmp_path / "dev")]) == 1
    assert len(run(data, tmp_path / "dev", "--overwrite", "--per-speaker", "1")) == 3
    assert len(list((tmp_path / "dev" / "noisy").iterdir())) == 3  # the earlier build's pairs are gone


def test_clean_sentences_below_the_bak_threshold_are_skipped():
    items = [type("I", (), {"path": Path(f"{s}/{j}"), "speaker": s})() for s in "xy" for j in range(6)]
    score = {Path(f"x/{j}"): 4.0 if j % 2 else 3.0 for j in range(6)} | {Path(f"y/{j}"): 3.0 for j in range(6)}
    chosen, scored = ds.choose(items, 2, np.random.default_rng(0), 3.8, score=score.__getitem__)
    assert [str(it.path) for it in chosen] == sorted(str(it.path) for it in chosen)
    assert len(chosen) == 2 and all(score[it.path] >= 3.8 for it in chosen)  # y has none: left out
    assert all(scored[p] == score[p] for p in scored) and len(scored) >= 8  # every y sentence was tried


def test_no_held_out_noise_is_one_line(data, tmp_path, capsys):
    speech, noise = data
    with open(noise / "manifest.csv") as f:
        text = f.read().replace(",test", ",train")
    (noise / "manifest.csv").write_text(text)
    assert ds.main(["--speech", str(speech), "--noise", str(noise), "--out", str(tmp_path / "o"),
                    "--min-bak", "-1"]) == 1
    err = capsys.readouterr().err
    assert "no held-out noise" in err and len(err.strip().splitlines()) == 1
