"""The unusual inputs of ``benchmarks/reliability.py``: each made here from the bundled example voice and generated
signals, in a temporary folder (nothing committed). ``make_corpus(folder)`` returns ``{kind: (path, what it is)}``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
SR = 16000


def voice(seconds: float | None = None, rate: int = SR) -> np.ndarray:
    """The bundled example voice (examples/speech.flac) at ``rate``, repeated or cut to ``seconds``."""
    x, sr = sf.read(ROOT / "examples" / "speech.flac", dtype="float32")
    x = x if x.ndim == 1 else x.mean(1)
    if sr != rate:
        x = soxr.resample(x, sr, rate).astype(np.float32)
    if seconds is not None:
        n = int(seconds * rate)
        x = np.tile(x, n // len(x) + 1)[:n]
    return x


def noisy(seconds: float | None = None, rate: int = SR, snr_db: float = 5.0, seed: int = 0) -> np.ndarray:
    x = voice(seconds, rate)
    n = np.random.default_rng(seed).standard_normal(len(x)).astype(np.float32)
    n *= np.sqrt((x**2).mean() / (n**2).mean() / 10 ** (snr_db / 10))
    return (x + n) * 0.5


def _long(path: Path, minutes: float) -> None:
    """Written block by block, never all in memory."""
    block = noisy(10.0)
    with sf.SoundFile(str(path), "w", SR, 1, "PCM_16") as f:
        for _ in range(int(minutes * 6)):
            f.write(block)


def make_corpus(folder: Path, long_minutes: tuple[float, ...] = (6.0, 30.0)) -> dict[str, tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    x = noisy(4.0)
    out: dict[str, tuple[Path, str]] = {}

    def add(kind: str, name: str, what: str, write=None, data=None, rate=SR, subtype="PCM_16", fmt=None):
        path = folder / name
        if write is not None:
            write(path)
        elif data is not None:
            sf.write(path, data, rate, subtype=subtype, format=fmt)
        out[kind] = (path, what)

    add("ordinary", "ordinary.wav", "4 s of noisy speech, 16-bit, 16 kHz", data=x)
    add("empty", "empty.wav", "0 bytes", write=lambda p: p.write_bytes(b""))
    add("truncated", "truncated.wav", "a WAV cut in the middle of its data",
        write=lambda p: (sf.write(p, x, SR), p.write_bytes(p.read_bytes()[: 20000])))
    add("text", "text.wav", "a text file renamed .wav", write=lambda p: p.write_text("not audio at all\n" * 50))
    for v in ("nan", "inf"):
        def bad(p, v=v):
            y = x.copy()
            y[1000:1010] = np.nan if v == "nan" else np.inf
            sf.write(p, y, SR, subtype="FLOAT")
        add(v, f"{v}.wav", f"float WAV with 10 {v.upper()} samples", write=bad)
    add("one sample", "one.wav", "a single sample", data=x[:1])
    for sub, what in (("PCM_U8", "8-bit"), ("PCM_24", "24-bit"), ("PCM_32", "32-bit integer"),
                      ("FLOAT", "32-bit float"), ("DOUBLE", "64-bit float")):
        add(what, f"{sub.lower()}.wav", f"{what} WAV", data=x, subtype=sub)
    add("stereo", "stereo.wav", "2 channels", data=np.stack([x, 0.5 * x], 1))
    add("6 channels", "six.wav", "5.1: 6 channels", data=np.stack([x * (i + 1) / 6 for i in range(6)], 1))
    for rate in (8000, 44100, 96000):
        add(f"{rate // 1000} kHz", f"r{rate}.wav", f"noisy speech at {rate} Hz", data=noisy(4.0, rate), rate=rate)
    add("mp3", "speech.mp3", "MPEG layer III", data=x, subtype="MPEG_LAYER_III", fmt="MP3")
    add("ogg", "speech.ogg", "Ogg Vorbis", data=x, subtype="VORBIS", fmt="OGG")
    add("opus", "speech.opus", "Ogg Opus at 48 kHz", data=noisy(4.0, 48000), rate=48000, subtype="OPUS", fmt="OGG")
    add("flac", "speech.flac", "FLAC 16-bit", data=x, subtype="PCM_16", fmt="FLAC")
    add("clipped", "clipped.wav", "speech driven 20 dB into clipping", data=np.clip(x * 10, -1, 1))
    add("DC", "dc.wav", "speech on a 0.5 DC offset", data=x * 0.4 + 0.5)
    add("silence", "silence.wav", "digital silence, 4 s", data=np.zeros_like(x))
    add("-90 dBFS", "quiet.wav", "float speech peaking at -90 dBFS", data=x / np.abs(x).max() * 10 ** (-4.5),
        subtype="FLOAT")
    add("peak 8.0", "loud.wav", "float speech peaking at +18 dBFS (8.0)", data=x / np.abs(x).max() * 8,
        subtype="FLOAT")
    for minutes in long_minutes:
        add(f"{minutes:g} minutes", f"long{minutes:g}.wav", f"{minutes:g} minutes of noisy speech",
            write=lambda p, m=minutes: _long(p, m))
    add("non-ASCII name", "réunion_語音.wav", "a name with accents and CJK", data=x)

    def loop(p):
        os.symlink(p.name, p)
    add("symlink loop", "loop.wav", "a symlink to itself", write=loop)
    add("folder x.wav", "folder.wav", "a folder named like a file (empty)", write=lambda p: p.mkdir())

    def unreadable(p):
        sf.write(p, x, SR)
        if os.geteuid() == 0:
            os.chown(p, 65534, 65534)
        p.chmod(0o000)
    add("unreadable", "unreadable.wav", "mode 000, another user's", write=unreadable)
    return out


def clean(folder: Path) -> None:
    for p in folder.rglob("*"):
        if not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)
