"""Tests of ``cspec plot`` and of the help texts: the figure it writes (pixel size, format), refusals, and user
errors as one line on stderr, never a traceback."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cspec.cli import SUBCOMMANDS, build_parser, main

SPEECH = Path(__file__).resolve().parents[2] / "examples" / "speech.flac"  # real voice, 16 kHz, shipped in the repo


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, Path]:
    """1.5 s of real speech at 16 kHz, and the next 1.5 s at 8 kHz in stereo."""
    data, sr = sf.read(SPEECH, dtype="float32")
    folder = tmp_path_factory.mktemp("in")
    sf.write(folder / "a.wav", data[: 3 * sr // 2], sr)
    sf.write(folder / "b.flac", np.stack([data[3 * sr // 2: 3 * sr: 2]] * 2, 1), sr // 2)
    return folder / "a.wav", folder / "b.flac"


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_plot_two_files_pixel_size(clips, tmp_path, capsys):
    out = tmp_path / "fig.png"
    assert main(["plot", *map(str, clips), "-o", str(out), "--dpi", "30", "--title", "two clips"]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    # 2 columns of 4 in (the minimum width for 1.5 s) + 1.4 in of margins = 9.4 in; rows: 0.9 + 1.9 * (0.6 + 4)
    # in + 0.3 in for the caption (b.flac is resampled) = 9.94 in; at 30 dpi
    assert _png_size(out) == (282, 298)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]


def test_plot_panels_preset_and_overwrite(clips, tmp_path, capsys):
    out = tmp_path / "fig.svg"
    argv = ["plot", str(clips[0]), "-o", str(out), "--panels", "spec,if", "--preset", "cmgan", "--dpi", "20"]
    assert main(argv + ["--start", "0.5", "--end", "1.0"]) == 0
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and "--overwrite" in err
    assert main(argv + ["--overwrite"]) == 0


@pytest.mark.parametrize("argv, words, code", [
    (["--panels", "spec,colour"], "unknown panel 'colour'", 2),
    (["--preset", "huge"], "unknown STFT preset 'huge'", 2),
    (["--dpi", "5"], "5 is out of range", 2),
    (["--start", "soon"], "'soon' is not a number of seconds", 2),
    (["--end", "-2"], "-2 is not a time", 2),
    (["--start", "9"], "ends before 9.0 s", None),
    (["-o", "fig.gif"], "unknown figure format '.gif'", None),
])
def test_usage_errors_in_process(clips, tmp_path, capsys, monkeypatch, argv, words, code):
    monkeypatch.chdir(tmp_path)
    full = ["plot", str(clips[0]), *(["-o", "x.png"] if "-o" not in argv else []), *argv]
    if code is None:  # a package error: main returns 2
        assert main(full) == 2
    else:  # an argparse error: exits 2
        with pytest.raises(SystemExit) as stop:
            main(full)
        assert stop.value.code == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and list(tmp_path.iterdir()) == []


def test_input_is_never_overwritten(clips, capsys):
    before = clips[0].read_bytes()
    assert main(["plot", str(clips[0]), "-o", str(clips[0]), "--overwrite"]) == 2
    assert "refusing to write over an input file" in capsys.readouterr().err and clips[0].read_bytes() == before


def test_missing_input(clips, tmp_path, capsys):
    assert main(["plot", str(clips[0]), str(tmp_path / "gone.wav"), "-o", str(tmp_path / "f.png")]) == 2
    assert capsys.readouterr().err == f"cspec plot: error: {tmp_path / 'gone.wav'}: no such file\n"
    assert list(tmp_path.iterdir()) == []


def test_user_error_is_one_line_in_a_real_process(clips, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("hello\n")
    proc = subprocess.run([sys.executable, "-m", "cspec", "plot", str(clips[0]), str(bad), "-o",
                           str(tmp_path / "f.png")], capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"cspec plot: error: {bad}: ") and not (tmp_path / "f.png").exists()


def test_every_help_is_complete(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    top = capsys.readouterr().out
    assert stop.value.code == 0 and "examples:" in top
    for name in SUBCOMMANDS:
        assert name in top
        with pytest.raises(SystemExit) as stop:
            main([name, "--help"])
        text = capsys.readouterr().out
        assert stop.value.code == 0 and "examples:" in text and f"cspec {name} " in text.split("examples:")[1]
        for action in sub.choices[name]._actions:
            assert action.help, f"{name}: option {action.dest} has no help"
            for flag in action.option_strings:
                assert flag in text
            if action.default not in (None, False, "==SUPPRESS==") and action.option_strings:
                assert "default" in action.help, f"{name} {action.option_strings}: the default is not stated"
