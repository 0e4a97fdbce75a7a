"""Separator: shapes, rates and channels; files named and written; long files stitched in speaker order (an
oracle separator that returns the true sources in a random order per chunk, also on a 10-minute two-talker
turn-taking mixture of real test speakers); bounded memory; ONNX equal to PyTorch; bad inputs."""

from __future__ import annotations

import csv
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as si_sdr

from cspec import audio
from cspec.errors import Cancelled, ConfigError, CspecError, ModelError
from cspec.infer import OnnxModel, Separator, best_permutation, export_onnx
from cspec.models import build, save

DATA = Path(os.environ.get("CSPEC_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
SR = 16000


def small_tasnet():
    torch.manual_seed(0)
    return build("convtasnet", n_filters=32, kernel_size=16, bn_chan=16, hid_chan=32, skip_chan=16, n_blocks=3,
                 n_repeats=1, sample_rate=SR).eval()


class Oracle(nn.Module):
    """Returns the true sources of chunk ``k`` (which must start at ``k * hop``) in a random order."""

    sample_rate, n_sources, name = SR, 2, "oracle"

    def __init__(self, sources: torch.Tensor, hop: int, seed: int = 0, on_call=None):
        super().__init__()
        self.sources, self.hop, self.pos = sources, hop, 0
        self.gen = torch.Generator().manual_seed(seed)
        self.swaps, self.calls, self.on_call = 0, 0, on_call

    def forward(self, wave):
        n = wave.shape[-1]
        ref = self.sources[:, self.pos: self.pos + n]
        if not torch.allclose(wave[0], ref.sum(0), atol=1e-6):  # the runner fed the chunk that starts at k H
            raise AssertionError(f"chunk {self.calls} is not the mixture at sample {self.pos}")
        perm = torch.randperm(2, generator=self.gen)
        self.swaps += int(perm[0] == 1)
        self.pos, self.calls = self.pos + self.hop, self.calls + 1
        if self.on_call is not None:
            self.on_call(self.calls)
        return {"wave": ref[perm][None].clone()}


def _turns(a: list[np.ndarray], b: list[np.ndarray], seconds: float, seed: int = 0) -> np.ndarray:
    """Two talkers taking turns (gaps 0.1-0.4 s, every third turn overlapping the previous by 0.5 s)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out, pos, k = np.zeros((2, n), np.float32), 0, 0
    while pos < n:
        clip = (a, b)[k % 2][(k // 2) % len((a, b)[k % 2])]
        start = max(0, pos - SR // 2) if k % 3 == 2 else pos + int(rng.uniform(0.1, 0.4) * SR)
        m = min(len(clip), n - start)
        if m <= 0:
            break
        out[k % 2, start: start + m] += clip[:m]
        pos, k = start + m, k + 1
    return out


def test_best_permutation_matches_linear_assignment():
    gen = torch.Generator().manual_seed(1)
    for c in (2, 3, 4):
        prev, new = torch.randn(c, 200, generator=gen), torch.randn(c, 200, generator=gen)
        score = (prev.double() @ new.double().T).numpy()
        rows, cols = linear_sum_assignment(score, maximize=True)  # scipy's Hungarian solver, the same optimum
        assert best_permutation(prev, new) == tuple(cols[np.argsort(rows)])
    silent = torch.zeros(2, 100)
    assert best_permutation(silent, torch.randn(2, 100)) == (0, 1)  # nothing to tell: the order is kept


def test_shapes_rates_channels_equal_the_model():
    model = small_tasnet()
    sep = Separator(model)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 30000, generator=gen) * 0.1  # stereo at 22.05 kHz: mixed down, 16 kHz inside, back
    y = sep.separate(x, 22050)
    with torch.no_grad():
        ref = model(audio.resample(x.mean(0, keepdim=True), 22050, SR))["wave"][0]
    ref = audio.resample(ref, SR, 22050)[:, :30000]
    assert y.shape == (2, 30000) and float((y - ref).abs().max()) < 1e-6
    assert torch.equal(sep.separate(x.mean(0), 22050), y)  # the mono mix-down is what the channels give
    assert sep.separate(x[0, :8000].numpy(), SR).shape == (2, 8000)


def test_stitching_restores_the_order_on_turn_taking_sources():
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(60 * SR) / SR
    a = [(0.3 * torch.sin(2 * torch.pi * 220 * t[: int(s * SR)]) * torch.hann_window(int(s * SR))).numpy()
         for s in (1.5, 2.5, 3.0)]
    b = [(0.2 * torch.randn(int(s * SR), generator=gen) * torch.hann_window(int(s * SR))).numpy() for s in (2.0, 3.5)]
    sources = torch.from_numpy(_turns(a, b, 60))
    chunk, overlap = 4.0, 1.0
    oracle = Oracle(sources, int((chunk - overlap) * SR), seed=3)
    y = Separator(oracle, chunk_seconds=chunk, overlap_seconds=overlap).separate(sources.sum(0), SR)
    assert oracle.calls == 20 and oracle.swaps >= 5  # the oracle swapped its outputs in many chunks ...
    y = _global_order(y, sources)  # (the first chunk's order is as good as any: one order for the whole file)
    assert float((y - sources).abs().max()) < 1e-5  # ... and stitching put every chunk back in order


def _global_order(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``est`` in the order of ``ref``: one permutation for the whole signal, the best summed correlation (by
    scipy's assignment solver)."""
    rows, cols = linear_sum_assignment((ref.double() @ est.double().T).numpy(), maximize=True)
    return est[cols[np.argsort(rows)].tolist()]


def _speaker_clips(speaker: str, seconds: float) -> list[np.ndarray]:
    rows = [r for r in csv.DictReader(open(DATA / "speech_read" / "manifest.csv"))
            if r["speaker"] == speaker and r["split"] == "test"]
    clips, total = [], 0.0
    for r in rows:
        wave, sr = audio.load(DATA / "speech_read" / r["path"], mono=True)
        assert sr == SR
        clips.append(wave[0].numpy())
        total += float(r["duration_s"])
        if total >= seconds:
            break
    return clips


def _peak_rss_reset() -> int:
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM (Linux >= 4.0) to the current RSS
    return _status_kb("VmRSS")


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(key)


def test_ten_minute_two_talker_file_keeps_each_speaker_in_one_output(tmp_path):
    a = _speaker_clips("ljspeech-lj", 320)  # two test speakers: one narrator, one speechocean762 reader
    b = _speaker_clips("speechocean762-9622", 320)
    sources = torch.from_numpy(_turns(a, b, 600, seed=1))
    mix = tmp_path / "meeting.wav"
    sf.write(mix, sources.sum(0).numpy(), SR, subtype="FLOAT")
    warm = tmp_path / "warm.wav"  # one short run first: the one-time allocations of a first run are not the file's
    sf.write(warm, sources[:, : 30 * SR].sum(0).numpy(), SR, subtype="FLOAT")
    Separator(Oracle(sources, 8 * SR), chunk_seconds=10, overlap_seconds=2).separate_file(warm, tmp_path / "w")
    oracle = Oracle(sources, 8 * SR, seed=7)
    sep = Separator(oracle, chunk_seconds=10, overlap_seconds=2, block_seconds=5)
    base = _peak_rss_reset()
    outs = sep.separate_file(mix, tmp_path / "out")
    grown_mb = (_status_kb("VmHWM") - base) / 1024
    assert [p.name for p in outs] == ["meeting_s1.wav", "meeting_s2.wav"]
    assert oracle.calls == 75 and oracle.swaps >= 20
    est = torch.stack([torch.from_numpy(sf.read(p, dtype="float32")[0]) for p in outs])
    # torchmetrics' SI-SDR (Le Roux et al. 2019, eq. 1) of each output
    scores = si_sdr(_global_order(est, sources), sources)
    assert est.shape == sources.shape and float(scores.min()) > 30.0, scores
    mono_mb = sources.shape[-1] * 4 / 2**20  # one 10-minute signal: 36.6 MB
    assert grown_mb < mono_mb / 4, f"peak memory grew by {grown_mb:.1f} MB while separating 10 minutes"
    print(f"10 min: SI-SDR {scores.tolist()} dB, peak RSS +{grown_mb:.1f} MB, {oracle.swaps} of 75 chunks swapped")


def test_files_named_written_and_long_files_equal_the_signal_path(tmp_path):
    sep = Separator(small_tasnet(), chunk_seconds=1.0, overlap_seconds=0.25, block_seconds=0.3)
    rng = np.random.default_rng(0)
    short = (rng.standard_normal((12000, 2)) * 0.1).astype(np.float32)
    sf.write(tmp_path / "short.wav", short, 22050, subtype="PCM_16")
    outs = sep.separate_file(tmp_path / "short.wav", tmp_path / "o" / "mix.wav")
    assert [p.name for p in outs] == ["mix_s1.wav", "mix_s2.wav"]
    wave, _ = audio.load(tmp_path / "short.wav")
    ref = sep.separate(wave, 22050)
    for i, p in enumerate(outs):  # mono, the input's rate and sample format
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (22050, 1, 12000, "PCM_16")
        assert np.abs(sf.read(p, dtype="float32")[0] - ref[i].numpy()).max() <= 1 / 32768 + 1e-6
    long = (rng.standard_normal(5 * SR) * 0.1).astype(np.float32)  # 5 chunks, streamed in 0.3 s blocks
    stereo = np.stack([long, 0.5 * long - 0.02], axis=1)  # mixed down block by block
    sf.write(tmp_path / "long.wav", stereo, SR, subtype="FLOAT")
    outs = sep.separate_file(tmp_path / "long.wav", tmp_path / "o")
    assert [p.name for p in outs] == ["long_s1.wav", "long_s2.wav"]
    est = np.stack([sf.read(p, dtype="float32")[0] for p in outs])
    assert np.abs(est - sep.separate(stereo.T, SR).numpy()).max() < 1e-6
    sf.write(tmp_path / "long8k.flac", long[: 4 * 8000], 8000)  # streamed resampling vs whole-signal resampling
    outs = sep.separate_file(tmp_path / "long8k.flac", tmp_path / "o")
    est = torch.stack([torch.from_numpy(sf.read(p, dtype="float32")[0]) for p in outs])
    ref = sep.separate(audio.load(tmp_path / "long8k.flac")[0], 8000)
    assert est.shape == (2, 32000) and float(si_sdr(est, ref).min()) > 40.0


def test_batches_equal_single_files_and_stop_leaves_nothing(tmp_path):
    sep = Separator(small_tasnet(), batch_size=3)
    rng = np.random.default_rng(1)
    srcs = []
    for i, n in enumerate([8000, 8000, 8000, 5000]):
        srcs.append(tmp_path / f"f{i}.wav")
        sf.write(srcs[-1], (rng.standard_normal(n) * 0.1).astype(np.float32), SR, subtype="FLOAT")
    errors = sep.separate_files(srcs, [tmp_path / "b"] * 4)
    assert errors == [None] * 4
    for src in srcs:
        one = sep.separate(audio.load(src)[0], SR).numpy()
        got = np.stack([sf.read(tmp_path / "b" / f"{src.stem}_s{i}.wav", dtype="float32")[0] for i in (1, 2)])
        assert np.abs(got - one).max() < 1e-5
    sources = torch.randn(2, 6 * SR) * 0.1
    sf.write(tmp_path / "long.wav", sources.sum(0).numpy(), SR, subtype="FLOAT")
    stop = threading.Event()
    oracle = Oracle(sources, int(1.5 * SR), on_call=lambda k: k == 2 and stop.set())
    with pytest.raises(Cancelled):
        Separator(oracle, chunk_seconds=2, overlap_seconds=0.5, block_seconds=0.5).separate_file(
            tmp_path / "long.wav", tmp_path / "c", stop=stop)
    assert sorted(os.listdir(tmp_path / "c")) == []  # neither output, nor a temporary file


def test_onnx_separator_equals_pytorch(tmp_path):
    model = small_tasnet()
    folder = save(model, tmp_path / "tasnet")
    runner = OnnxModel(export_onnx(model, folder / "model.onnx"))
    assert runner.n_sources == 2 and runner.stft_config is None
    for shape in [(1, 7777), (3, 16000)]:  # dynamic batch and length
        x = torch.randn(*shape) * 0.1
        with torch.no_grad():
            ref = model(x)["wave"]
        assert float((runner(x)["wave"] - ref).abs().max()) <= 1e-4
    onnx = Separator.from_pretrained(folder, backend="onnx", chunk_seconds=1.0, overlap_seconds=0.25)
    torch_sep = Separator.from_pretrained(folder, backend="torch", chunk_seconds=1.0, overlap_seconds=0.25)
    assert (onnx.backend, torch_sep.backend) == ("onnx", "torch")
    x = torch.randn(3 * SR) * 0.1
    assert float((onnx.separate(x, SR) - torch_sep.separate(x, SR)).abs().max()) <= 1e-4
    dprnn = build("dprnn", n_filters=8, kernel_size=16, chunk_size=10, hidden=8, n_blocks=1).eval()
    with torch.no_grad():  # DPRNN exports too (tests/infer/test_onnx_whole.py covers the separators in full)
        assert float((OnnxModel(export_onnx(dprnn, tmp_path / "d.onnx"))(x[None])["wave"]
                      - dprnn(x[None])["wave"]).abs().max()) <= 1e-4


def test_bad_inputs_are_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="one output .*n_sources >= 2"):
        Separator(build("crn", channels=(8, 8, 16, 16, 16)))
    with pytest.raises(ConfigError, match="no bundled model 'sep9'"):
        Separator.from_pretrained("sep9")
    sep = Separator(small_tasnet())
    with pytest.raises(ConfigError, match="expected a waveform"):
        sep.separate(torch.zeros(1, 2, 100), SR)
    with pytest.raises(ConfigError, match="overlap"):
        Separator(small_tasnet(), overlap_seconds=0)
    src = tmp_path / "x_s1.wav"
    sf.write(src, np.zeros(800, np.float32), SR)
    before = src.read_bytes()
    with pytest.raises(CspecError, match="refusing to write over an input"):
        sep.separate_file(src, tmp_path / "x.wav")  # x_s1.wav would be the input itself
    sep.separate_file(src, tmp_path / "y.wav")
    with pytest.raises(CspecError, match="exists; pass overwrite=True"):
        sep.separate_file(src, tmp_path / "y.wav")
    assert src.read_bytes() == before

    class Broken(nn.Module):
        sample_rate, n_sources, name = SR, 2, "broken"

        def forward(self, wave):
            return {"wave": wave[:, None].expand(-1, 2, -1) * float("nan")}

    with pytest.raises(ModelError, match="model 'broken' gave NaN"):
        Separator(Broken()).separate(torch.ones(100), SR)
    Broken.forward = lambda self, wave: {"wave": wave}
    with pytest.raises(ModelError, match=r"returned shape \(1, 100\)"):
        Separator(Broken()).separate(torch.ones(100), SR)
