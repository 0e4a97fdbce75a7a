"""Permutation-invariant separation scores (issue #22, point 4) against mir_eval's bss_eval_sources (SDR and its
permutation) and torchmetrics' permutation_invariant_training with SI-SDR, on random and on real read speech."""

from __future__ import annotations

import csv
import itertools
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import lfilter
from torchmetrics.functional.audio import (
    permutation_invariant_training,
    scale_invariant_signal_distortion_ratio,
)

from cspec.errors import ConfigError
from cspec.metrics import MetricError, score_separation
from cspec.metrics.separation_report import SepItem, crash_row, score_item

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
READ = DATA / "speech_read"
SR = 16000


def bss_eval(refs: np.ndarray, ests: np.ndarray, perm: bool = True):
    from mir_eval.separation import bss_eval_sources

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in mir_eval 0.8, still the reference
        sdr, _sir, _sar, popt = bss_eval_sources(refs, ests, compute_permutation=perm)
    return sdr, popt


def tm_pit(refs: np.ndarray, ests: np.ndarray):
    best, perm = permutation_invariant_training(torch.from_numpy(ests)[None], torch.from_numpy(refs)[None],
                                                scale_invariant_signal_distortion_ratio, eval_func="max")
    return float(best[0]), tuple(int(i) for i in perm[0])


def speech_sources(n_src: int, seconds: float = 2.0) -> np.ndarray:
    """``n_src`` read sentences of different test speakers (Ogg Opus decoded by cspec.audio.load), 2 s each."""
    from cspec.audio import load

    with open(READ / "manifest.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test" and float(r["duration_s"]) >= seconds + 1]
    picked: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: r["path"]):
        picked.setdefault(r["speaker"], r["path"])
    out = []
    for path in list(picked.values())[:n_src]:
        wave, sr = load(READ / path, mono=True)
        assert sr == SR
        x = wave[0, int(0.5 * SR): int((0.5 + seconds) * SR)].double().numpy()
        out.append(x / np.abs(x).max() * 0.5)
    return np.stack(out)


def imperfect(refs: np.ndarray, rng, leak: float = 0.15, noise: float = 0.01) -> np.ndarray:
    """What a separator gives: each source through a short filter, some of the others leaking in, noise."""
    n_src = refs.shape[0]
    out = np.empty_like(refs)
    for k in range(n_src):
        target = lfilter([1.0, 0.4, -0.2], [1.0], refs[k])
        others = sum(refs[j] for j in range(n_src) if j != k)
        out[k] = target + leak * rng.uniform(0.5, 1.5) * others + noise * rng.standard_normal(refs.shape[1])
    return out


@pytest.fixture(scope="module")
def speech3() -> np.ndarray:
    return speech_sources(3)


@pytest.mark.parametrize("n_src", [2, 3])
def test_random_signals_match_mir_eval_and_torchmetrics(n_src):
    rng = np.random.default_rng(n_src)
    refs = rng.standard_normal((n_src, 8000))
    shuffle = rng.permutation(n_src)
    ests = imperfect(refs, rng)[shuffle]
    got = score_separation(refs, ests, SR)
    sdr, popt = bss_eval(refs, ests)
    assert got.perm == tuple(popt) == tuple(int(np.where(shuffle == k)[0][0]) for k in range(n_src))
    np.testing.assert_allclose(got.sdr, sdr, atol=1e-6)
    best, perm = tm_pit(refs, ests)
    assert got.perm == perm
    assert got.si_sdr.mean() == pytest.approx(best, abs=1e-9)
    assert (got.sdr > got.si_sdr).all()  # the 3-tap filter is allowed distortion for SDR, not for SI-SDR


def test_real_speech_three_sources_and_improvements(speech3):
    rng = np.random.default_rng(0)
    refs, mix = speech3, speech3.sum(0)
    ests = imperfect(refs, rng)[[2, 0, 1]]  # estimate 0 is source 3, ...
    got = score_separation(refs, ests, SR, mix=mix)
    sdr, popt = bss_eval(refs, ests)
    assert got.perm == tuple(popt) == (1, 2, 0)
    np.testing.assert_allclose(got.sdr, sdr, atol=1e-6)
    best, perm = tm_pit(refs, ests)
    assert got.perm == perm and got.si_sdr.mean() == pytest.approx(best, abs=1e-9)
    # improvement: the mixture scored as the estimate of every source, without permutation
    mix_sdr, _ = bss_eval(refs, np.stack([mix] * 3), perm=False)
    np.testing.assert_allclose(got.mix_sdr, mix_sdr, atol=1e-6)
    np.testing.assert_allclose(got.sdri, sdr - mix_sdr, atol=1e-6)
    tm_mix = scale_invariant_signal_distortion_ratio(torch.from_numpy(np.stack([mix] * 3)), torch.from_numpy(refs))
    np.testing.assert_allclose(got.si_sdri, got.si_sdr - tm_mix.numpy(), atol=1e-9)
    assert (got.si_sdri > 10).all() and (got.mix_si_sdr < 0).all()  # 3 talkers at similar level: about -3 dB
    means = got.means()
    assert means["sdri"] == pytest.approx(float(np.mean(sdr - mix_sdr)), abs=1e-6)


def test_every_shuffle_gives_the_same_scores_and_its_permutation(speech3):
    rng = np.random.default_rng(1)
    refs = speech3
    ests = imperfect(refs, rng)
    base = score_separation(refs, ests, SR, mix=refs.sum(0))
    assert base.perm == (0, 1, 2)
    for order in itertools.permutations(range(3)):
        got = score_separation(torch.from_numpy(refs), torch.from_numpy(ests[list(order)]), SR, mix=refs.sum(0))
        assert got.perm == tuple(order.index(k) for k in range(3))
        np.testing.assert_array_equal(got.si_sdr, base.si_sdr)
        np.testing.assert_allclose(got.sdr, base.sdr, rtol=0, atol=1e-9)
        np.testing.assert_allclose(got.sdri, base.sdri, rtol=0, atol=1e-9)


def test_four_sources_hungarian_matches_exhaustive_and_torchmetrics():
    rng = np.random.default_rng(4)
    refs = rng.standard_normal((4, 4000))
    ests = imperfect(refs, rng, leak=0.3)[[3, 1, 0, 2]]
    fast = score_separation(refs, ests, SR, solver="hungarian")
    full = score_separation(refs, ests, SR, solver="exhaustive")
    assert fast.perm == full.perm == tm_pit(refs, ests)[1] == (2, 1, 3, 0)
    np.testing.assert_array_equal(fast.si_sdr, full.si_sdr)


def test_lengths_within_tolerance_are_cut_beyond_give_a_reason(speech3):
    rng = np.random.default_rng(2)
    refs, ests = speech3, imperfect(speech3, rng)
    n = refs.shape[1] - 800  # 50 ms shorter: cut
    short = [ests[0], ests[1][:n], ests[2]]
    got = score_separation(list(refs), short, SR)
    cut = score_separation(refs[:, :n], ests[:, :n], SR)
    np.testing.assert_array_equal(got.si_sdr, cut.si_sdr)
    with pytest.raises(MetricError, match=r"lengths differ: reference s\d 2.000 s vs estimate s2 1.500 s"):
        score_separation(refs, [ests[0], ests[1][: 3 * SR // 2], ests[2]], SR)
    with pytest.raises(MetricError, match=r"^mixture length 1.000 s differs from the sources' 2.000 s"):
        score_separation(refs, ests, SR, mix=refs.sum(0)[:SR])


def test_unusable_signals_and_arguments():
    rng = np.random.default_rng(3)
    refs = rng.standard_normal((2, 4000))
    ests = refs.copy()
    ests[1] = 0
    with pytest.raises(MetricError, match="^estimate s2 is silent$"):
        score_separation(refs, ests, SR)
    bad = refs.copy()
    bad[0, 10] = np.nan
    with pytest.raises(MetricError, match="^reference s1 holds 1 NaN/Inf samples$"):
        score_separation(bad, refs, SR)
    with pytest.raises(MetricError, match="^mixture is silent$"):
        score_separation(refs, refs, SR, mix=np.zeros(4000))
    with pytest.raises(ConfigError, match="3 estimate"):
        score_separation(refs, np.vstack([refs, refs[:1]]), SR)
    with pytest.raises(ConfigError, match="sample rate"):
        score_separation(refs, refs, refs.sum(0))  # the mixture where the rate belongs


def _write(folder: Path, name: str, x: np.ndarray) -> str:
    path = folder / f"{name}.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    return str(path)


def test_score_item_rows_missing_source_and_mixture_problems(tmp_path, speech3):
    rng = np.random.default_rng(5)
    refs, ests, mix = speech3, imperfect(speech3, rng)[[1, 2, 0]], speech3.sum(0)
    r = tuple(_write(tmp_path, f"r{k}", refs[k]) for k in range(3))
    e = tuple(_write(tmp_path, f"e{k}", ests[k]) for k in range(3))
    m = _write(tmp_path, "mix", mix)
    row = score_item(SepItem("a", r, e, m))
    want = score_separation([sf.read(p)[0] for p in r], [sf.read(p)[0] for p in e], SR, mix=sf.read(m)[0])
    assert row["perm"] == "3 1 2" and row["reason"] == ""
    assert row["sdri"] == pytest.approx(float(want.sdri.mean()), abs=1e-12)
    assert row["si_sdr_s2"] == float(want.si_sdr[1]) and row["sdri_s3"] == float(want.sdri[2])
    silent = _write(tmp_path, "silent", np.zeros_like(mix))
    row = score_item(SepItem("b", r, e, silent))
    assert row["reason"] == "si_sdri, sdri, mix_si_sdr, mix_sdr: mixture is silent"
    assert math.isnan(row["sdri"]) and row["si_sdr"] == pytest.approx(float(want.si_sdr.mean()))
    row = score_item(SepItem("c", r, (e[0], None, e[2]), m, problem="no est file for source s2 (c_s2.*)"))
    assert row["reason"] == "all: no est file for source s2 (c_s2.*)" and math.isnan(row["si_sdr"])
    assert row["perm"] == "" and all(math.isnan(row[c]) for c in ("sdr", "si_sdri_s1", "sdri_s3"))
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not audio at all")
    row = score_item(SepItem("d", r, (e[0], str(garbage), e[2])))
    assert row["reason"].startswith("all: ") and "garbage.wav" in row["reason"] and math.isnan(row["sdr"])


HOOK = '''
import os, signal
from cspec.metrics.separation_report import score_item


def crashing(item):
    """score_item, but a file named crash* kills its worker with SIGSEGV, as a C library can."""
    if item.name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return score_item(item)
'''


def test_a_worker_that_dies_costs_only_its_file(tmp_path, speech3):
    from cspec.metrics.pool import run_tasks

    sys.path.insert(0, str(tmp_path))  # spawned workers inherit sys.path and import the hook
    (tmp_path / "sep_crash_hook.py").write_text(HOOK)
    import sep_crash_hook

    rng = np.random.default_rng(6)
    r = tuple(_write(tmp_path, f"r{k}", speech3[k, :SR]) for k in range(3))
    e = tuple(_write(tmp_path, f"e{k}", imperfect(speech3[:, :SR], rng)[k]) for k in range(3))
    items = [SepItem("a", r, e), SepItem("crash", r, e), SepItem("b", r, e[::-1])]
    for jobs in (1, 2):
        rows = run_tasks(sep_crash_hook.crashing, items, jobs, crash_row)
        assert [row["file"] for row in rows] == ["a", "crash", "b"]
        assert rows[1]["reason"] == "all: crashed (signal 11)" and math.isnan(rows[1]["si_sdr"])
        assert rows[0]["perm"] == "1 2 3" and rows[2]["perm"] == "3 2 1"
        assert rows[0]["si_sdr"] == pytest.approx(rows[2]["si_sdr"], abs=1e-12)
