"""recipes/pool/debian_speech.py: which prompt files are kept, the G.722 decoding and the silence trim."""

from __future__ import annotations

import numpy as np

from ..conftest import recipe_script

ds = recipe_script("debian_speech")


def test_files_drop_letters_digits_tones_and_silence(tmp_path):
    base = "usr/share/asterisk/sounds/en_US_f_Allison"
    for rel in ["hello-world.g722", "followme/call-from.g722", "digits/1.g722", "letters/a.g722",
                "phonetic/alpha.g722", "silence/1.g722", "beep.g722", "ascending-2tone.g722",
                "at-tone-time-exactly.g722", "../../../doc/x/copyright"]:
        (tmp_path / base / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / base / rel).write_bytes(b"")
    names = [p.relative_to(tmp_path / base).as_posix() for p in ds._files(tmp_path)]
    assert names == ["at-tone-time-exactly.g722", "followme/call-from.g722", "hello-world.g722"]


def test_decode_matches_the_encoded_signal():
    import G722

    sr = ds.SR
    x = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(sr) / sr)
    data = G722.G722(sr, 64000).encode((x * 32767).astype(np.int16))
    y = ds.decode(bytes(data))
    assert len(y) == sr and y.dtype == np.float64
    # the codec's QMF filter banks delay the signal; once aligned, the 1 kHz tone is back at > 40 dB SNR
    lag = max(range(80), key=lambda d: float(np.dot(x[:-100], y[d:d + sr - 100])))
    err = y[lag:lag + sr - 100] - x[:-100]
    assert 10 * np.log10(np.sum(x[:-100] ** 2) / np.sum(err ** 2)) > 40


def test_trim_keeps_the_speech_and_one_quiet_frame_each_side():
    frame = 320
    x = np.zeros(20 * frame)
    x[5 * frame:12 * frame] = 0.3 * np.sin(np.arange(7 * frame))
    x[:5 * frame] = 1e-4  # -80 dBFS: below -45 dB of the loudest frame
    y = ds.trim(x, frame)
    assert len(y) == 9 * frame and np.array_equal(y, x[4 * frame:13 * frame])
    assert np.array_equal(ds.trim(x[:100], frame), x[:100])  # shorter than a frame: unchanged
