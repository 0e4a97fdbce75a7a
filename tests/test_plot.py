"""Tests of cspec.plot: layout (axes, sharing, colour scales), the numbers drawn (dB, GD, IF worked by hand),
masking, atomic writing, pixel size, resampling notes, and no pyplot state."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
import soundfile as sf
import torch

from cspec.errors import ConfigError
from cspec.plot import PANELS, figure, load_signals, parse_panels, plot_files, save_figure
from cspec.plot.figure import _envelope

SR = 16000
HOP, NFFT = 100, 400  # the mpsenet preset


def _tone(freq, amp, seconds=1.0, sr=SR):
    t = torch.arange(int(seconds * sr), dtype=torch.float64) / sr
    return (amp * torch.sin(2 * math.pi * freq * t)).float()


def _grid(fig, nrows, ncols):
    """Panel axes as [row][col] (fig.axes lists each row's panels and then its colour bar)."""
    return [[fig.axes[r * (ncols + 1) + c] for c in range(ncols)] for r in range(nrows)]


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])  # IHDR width, height


def test_layout_shared_axes_and_colour_scales():
    waves = [_tone(1000, 0.5), _tone(1000, 0.1, seconds=0.5)]
    fig = figure(waves, SR, names=["loud", "soft"])
    assert len(fig.axes) == len(PANELS) * 3  # 5 rows x (2 panels + 1 colour bar)
    ax = _grid(fig, 5, 2)
    colorbars = [fig.axes[r * 3 + 2] for r in range(5)]
    assert not colorbars[0].axison and all(c.axison for c in colorbars[1:])  # no colour bar for the waveform
    first = ax[0][0]
    for r in range(5):
        for c in range(2):
            assert first.get_shared_x_axes().joined(first, ax[r][c])  # one time axis for all panels
        assert ax[r][0].get_shared_y_axes().joined(ax[r][0], ax[r][1])  # rows share y
        if r:
            assert not ax[r][0].get_shared_y_axes().joined(ax[0][0], ax[r][0])  # amplitude is not frequency
            assert ax[r][0].images[0].get_clim() == ax[r][1].images[0].get_clim()  # one colour scale per row
    assert ax[1][0].images[0].get_clim() == (-80.0, 0.0)
    assert ax[2][0].images[0].get_clim() == pytest.approx((-math.pi, math.pi))
    assert ax[4][0].get_xlabel() == "time (s)" and ax[1][0].get_ylabel() == "frequency (kHz)"
    assert ax[0][0].get_title() == "loud\n16 kHz, 1.00 s" and ax[0][1].get_title() == "soft\n16 kHz, 0.50 s"
    # time in seconds: the longest signal sets the range; frequency in kHz up to Nyquist
    assert ax[1][1].get_xlim() == pytest.approx((-HOP / SR / 2, 1.0))
    assert ax[1][0].get_ylim() == pytest.approx((0.0, 8.0))
    extent = ax[1][0].images[0].get_extent()
    assert extent[1] == pytest.approx((SR // HOP) * HOP / SR + HOP / SR / 2)  # 161 frames, centred
    assert extent[3] == pytest.approx(8.0 + SR / NFFT / 2000)
    # 0 dB is the loudest bin of all signals; the 5x softer tone peaks 20*log10(0.1/0.5) dB lower
    spec_loud, spec_soft = ax[1][0].images[0].get_array(), ax[1][1].images[0].get_array()
    assert float(spec_loud.max()) == pytest.approx(0.0, abs=1e-6)
    assert float(spec_soft.max()) == pytest.approx(20 * math.log10(0.1 / 0.5), abs=1e-3)
    # the waveform panel draws the samples themselves (8000 samples) or their min/max envelope (16000),
    # on a shared amplitude scale
    np.testing.assert_array_equal(ax[0][1].lines[0].get_ydata(), waves[1].numpy())
    envelope = ax[0][0].collections[0].get_paths()[0].vertices[:, 1]
    assert envelope.max() == pytest.approx(float(waves[0].max())) and envelope.min() == float(waves[0].min())
    assert ax[0][1].get_ylim() == pytest.approx((-0.525, 0.525), rel=1e-4)


def test_if_and_gd_values_worked_by_hand():
    """A 1010 Hz tone sits 10 Hz above bin 25 (40 Hz bins): its IF deviation is 10 Hz. An impulse 30 samples
    after the centre of frame 80 (sample 8000) has a group delay of 30 / 16 kHz = 1.875 ms in every bin."""
    fig = figure([_tone(1010, 0.5)], SR, panels="if")
    dev = fig.axes[0].images[0].get_array()
    assert dev.shape == (NFFT // 2 + 1, SR // HOP + 1)
    np.testing.assert_allclose(dev[25, 10:-10], 10.0, atol=0.05)
    assert np.ma.getmaskarray(dev)[150].all()  # bin 150 (6 kHz) is > 50 dB down: blanked

    click = torch.zeros(SR)
    click[8030] = 0.9
    fig = figure([click], SR, panels=["gd", "spec"], mask_db=-30.0)
    gd = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(gd[5:-5, 80], 30 / SR * 1000, atol=1e-6)
    assert np.ma.getmaskarray(gd)[:, 20].all() and not np.ma.getmaskarray(fig.axes[2].images[0].get_array()).any()


def test_masking_threshold_and_off():
    wave = _tone(1000, 0.5) + 1e-4 * torch.randn(SR, generator=torch.Generator().manual_seed(0))
    spec_db = figure([wave], SR, panels="spec").axes[0].images[0].get_array()
    phase = figure([wave], SR, panels="phase", mask_db=-40.0).axes[0].images[0].get_array()
    np.testing.assert_array_equal(np.ma.getmaskarray(phase), np.asarray(spec_db) < -40.0)
    assert 0 < np.ma.getmaskarray(phase).sum() < phase.size
    unmasked = figure([wave], SR, panels="phase", mask_db=None).axes[0].images[0].get_array()
    assert not np.ma.getmaskarray(unmasked).any()
    np.testing.assert_allclose(np.ma.getdata(unmasked)[25, 50:55], np.ma.getdata(phase)[25, 50:55])


def test_envelope_min_max_per_bucket():
    x = np.arange(20000, dtype=np.float64)
    t, lo, hi = _envelope(x, 1000, points=100)
    assert len(t) == len(lo) == 100
    np.testing.assert_array_equal(lo[:3], [0, 200, 400])
    np.testing.assert_array_equal(hi[:3], [199, 399, 599])
    assert t[0] == pytest.approx(0.1)  # centre of the first 200-sample bucket at 1 kHz
    fig = figure([torch.from_numpy(np.sin(np.arange(40000) / 50.0)).float()], SR, panels="wave")
    assert len(fig.axes[0].collections) == 1 and not fig.axes[0].lines[:-1]  # a filled envelope, no long line


def test_pixel_size_atomic_write_and_refusals(tmp_path):
    fig = figure([_tone(500, 0.3, seconds=0.3)], SR, panels="wave,spec", figsize=(6, 4), dpi=50, title="t")
    out = save_figure(fig, tmp_path / "a.png")
    assert _png_size(out) == (300, 200)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # no temporary file left
    before = out.read_bytes()
    with pytest.raises(ConfigError, match="exists"):
        save_figure(fig, out)
    assert out.read_bytes() == before
    with pytest.raises(ConfigError, match="unknown figure format"):
        save_figure(fig, tmp_path / "a.gif")
    src = tmp_path / "in.wav"
    sf.write(src, np.zeros(800), SR)
    with pytest.raises(ConfigError, match="input file"):
        save_figure(fig, src, overwrite=True, protect=[src])
    assert sf.read(src)[0].shape == (800,)
    save_figure(fig, tmp_path / "sub" / "b.pdf")
    assert (tmp_path / "sub" / "b.pdf").read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "in.wav", "sub"]


def test_plot_files_resamples_to_first_rate(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.flac"
    sf.write(a, _tone(440, 0.5, 0.5).numpy(), SR, subtype="FLOAT")
    stereo = np.stack([_tone(440, 0.5, 0.5, 8000).numpy()] * 2, 1)
    sf.write(b, stereo, 8000)
    waves, sr, notes = load_signals([a, b])
    assert sr == SR and waves[0].shape == waves[1].shape == (8000,)
    assert notes == ["b.flac: 2 channels mixed down, resampled from 8 to 16 kHz with soxr-VHQ"]
    out = plot_files([a, b], tmp_path / "fig.png", panels="wave,spec", dpi=40, figsize=(5, 3))
    assert _png_size(out) == (200, 120)
    with pytest.raises(ConfigError, match="exists"):
        plot_files([a], out)
    with pytest.raises(ConfigError, match="input file"):
        plot_files([a], a.with_suffix(".wav"), overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.flac", "fig.png"]


def test_no_pyplot_state():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = figure([_tone(300, 0.2, 0.2)], SR, panels="spec")
    assert plt.get_fignums() == before and fig.canvas.get_width_height() == tuple(
        int(v * fig.dpi) for v in fig.get_size_inches()
    )


def test_bad_arguments():
    assert parse_panels(" spec , if ") == ("spec", "if")
    assert parse_panels(["wave"]) == ("wave",)
    for bad, msg in [("spec,foo", "unknown panel 'foo'"), ("", "no panel"), ("spec,spec", "repeats")]:
        with pytest.raises(ConfigError, match=msg):
            parse_panels(bad)
    with pytest.raises(ConfigError, match="too few"):
        figure([torch.zeros(100)], SR)
    with pytest.raises(ConfigError, match="one name per"):
        figure([_tone(100, 0.1)], SR, names=["a", "b"])
    with pytest.raises(ConfigError, match="at least one"):
        figure([], SR)
    with pytest.raises(ConfigError, match="unknown STFT preset"):
        figure([_tone(100, 0.1)], SR, config="nope")


def test_segment_keeps_the_time_axis():
    wave = _tone(1000, 0.5, seconds=2.0)
    fig = figure([wave, wave[:12000]], SR, panels="wave,spec", start=0.5, end=1.25)
    ax = _grid(fig, 2, 2)
    assert ax[0][0].get_title().endswith("16 kHz, 0.50-1.25 s") and ax[0][1].get_title().endswith("0.50-0.75 s")
    assert ax[1][0].get_xlim() == pytest.approx((0.5 - HOP / SR / 2, 1.25))
    assert ax[1][0].images[0].get_extent()[0] == pytest.approx(0.5 - HOP / SR / 2)
    assert ax[1][0].images[0].get_array().shape[1] == 12000 // HOP + 1  # 0.75 s of signal analysed
    np.testing.assert_allclose(ax[0][1].lines[0].get_xdata()[[0, -1]], [0.5, 0.75 - 1 / SR])
    np.testing.assert_array_equal(ax[0][1].lines[0].get_ydata(), wave[8000:12000].numpy())
    for kwargs, msg in [({"start": 1.0, "end": 1.0}, "empty or negative"), ({"start": -1.0}, "empty or negative"),
                        ({"start": 1.99}, "too few"), ({"start": 1.6}, "signal 2 ends before 1.6 s")]:
        with pytest.raises(ConfigError, match=msg):
            figure([wave, wave[:24000]] if kwargs.get("start") != 1.99 else [wave], SR, panels="spec", **kwargs)


def _speechlike(seconds: float, seed: int = 0) -> torch.Tensor:
    """Tones that glide and switch on and off, plus a click and low noise: every panel has something to show."""
    t = torch.arange(int(seconds * SR), dtype=torch.float64) / SR
    gen = torch.Generator().manual_seed(seed)
    x = 0.4 * torch.sin(2 * math.pi * (300 + 200 * t) * t) * (torch.sin(2 * math.pi * 1.3 * t) > 0)
    x = x + 0.2 * torch.sin(2 * math.pi * 2210 * t) + 1e-3 * torch.randn(t.shape[0], generator=gen, dtype=torch.float64)
    x[int(0.37 * SR)] += 0.8
    return x.float()


@pytest.mark.parametrize("preset", ["mpsenet", "cmgan"])  # Hann: reassignment IF; Hamming: the phase-vocoder IF
@pytest.mark.parametrize("step", [1, 4])
def test_long_columns_are_the_frames_pooled_and_decimated(preset, step):
    """Block by block, in columns of `step` frames: spec is the max of the column's magnitudes, phase/GD/IF are the
    middle frame's values of the whole-signal computation (step 1: all of them, so the panels are unchanged)."""
    from cspec.plot.figure import _panel_data
    from cspec.plot.long import summarize
    from cspec.spectral.stft import get_preset

    cfg = get_preset(preset)
    x = _speechlike(1.23)
    exact = _panel_data(x, SR, cfg, PANELS)
    long = summarize(x.split(777), x.shape[0], SR, cfg, PANELS, step)
    frames = exact["mag"].shape[1]
    cols = -(-frames // step)
    middle = np.minimum(np.arange(cols) * step + step // 2, frames - 1)
    pooled = np.stack([exact["mag"][:, c * step:(c + 1) * step].max(1) for c in range(cols)], 1)
    np.testing.assert_allclose(long["mag"], pooled, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(long["rep"], exact["mag"][:, middle], rtol=1e-9, atol=1e-12)
    shown = exact["mag"][:, middle] > 10 ** (-50 / 20) * exact["mag"].max()  # what the -50 dB mask leaves
    for key in ("phase", "gd", "if"):
        np.testing.assert_allclose(long[key][shown], exact[key][:, middle][shown], rtol=0, atol=1e-6)
    assert long["n"] == x.shape[0] and long["peak"] == float(x.abs().max()) and long["step"] == step
    t, lo, hi = _envelope(x.numpy(), SR)
    np.testing.assert_array_equal(long["env"][1], lo)
    np.testing.assert_array_equal(long["env"][0], t)


def test_long_files_are_drawn_in_columns_read_block_by_block(tmp_path, monkeypatch):
    """A signal past EXACT_FRAMES is drawn from at most COLUMNS columns; plot_files reads the file in blocks
    (never whole) and draws the same figure as the in-memory path, spanning the whole duration."""
    import cspec.plot.files as files
    import cspec.plot.long as long

    monkeypatch.setattr(long, "EXACT_FRAMES", 300)
    monkeypatch.setattr(long, "COLUMNS", 100)
    x = _speechlike(2.5)  # 401 frames -> 5 frames per column, 81 columns
    path = tmp_path / "long.wav"
    sf.write(path, x.numpy(), SR, subtype="FLOAT")
    fig = figure([x], SR, names=["long.wav"])
    ax = _grid(fig, 5, 1)
    assert ax[0][0].get_title() == "long.wav\n16 kHz, 2.50 s, 5 frames per column"
    spec = ax[1][0].images[0]
    assert spec.get_array().shape == (NFFT // 2 + 1, 81)
    assert spec.get_extent()[1] == pytest.approx((81 * 5 - 1) * HOP / SR + HOP / SR / 2)
    assert ax[1][0].get_xlim() == pytest.approx((-HOP / SR / 2, 2.5))
    assert float(spec.get_array().max()) == pytest.approx(0.0, abs=1e-9)  # 0 dB: the loudest pooled bin
    monkeypatch.setattr(files, "load_signals", None)  # the long path must not load the files whole
    out = plot_files([path], tmp_path / "file.png")
    assert out.read_bytes() == save_figure(fig, tmp_path / "memory.png").read_bytes()
