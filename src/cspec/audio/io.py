"""Whole files in and out: :func:`load`, :func:`save`, :func:`resample` and the checks they share."""

from __future__ import annotations

import os
import re
import stat
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from cspec.audio.fs import check_writable, os_reason, remove_stale, temp_path, write_error
from cspec.errors import AudioError, AudioWarning

__all__ = ["load", "save", "output_subtype", "check_target", "resample", "info", "validate", "to_mono", "RESAMPLER"]

#: The one resampler of cspec: soxr at very high quality. Printed by every report that resamples.
RESAMPLER = "soxr-VHQ"

_SUBTYPES = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS", "mp3": "MPEG_LAYER_III"}


def info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Header information of a file (rate, channels, frames, format), or :class:`AudioError`."""
    path = Path(path)
    _check_exists(path)
    try:
        return sf.info(str(path))
    except Exception as exc:  # libsndfile raises several types; all mean "not audio we can read"
        raise AudioError(f"{path}: not a readable audio file ({_short(exc)})") from None


def load(
    path: str | os.PathLike,
    sr: int | None = None,
    mono: bool = False,
    allow_nonfinite: bool = False,
) -> tuple[torch.Tensor, int]:
    """Read a file of audio as float32 in [-1, 1].

    Args:
        path: any file that libsndfile reads.
        sr: resample to this rate with :func:`resample` (``None`` keeps the file's rate).
        mono: average the channels into one.
        allow_nonfinite: keep NaN/Inf samples (floating-point files only) instead of raising.

    Returns:
        ``(wave, rate)`` with ``wave`` of shape ``(channels, samples)`` (``(1, samples)`` when ``mono``).
    """
    path = Path(path)
    header = info(path)
    if header.frames == 0:
        raise AudioError(f"{path}: the file holds no samples (zero length)")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"{path}: cannot decode the audio ({_short(exc)})") from None
    # libsndfile reads a truncated file without complaint, returning fewer frames than its header claims.
    # Compressed formats (mp3, ogg) only estimate the length in the header, so the check is for PCM-like ones.
    # libsndfile also shrinks the frame count of a cut RIFF/WAV to what the file holds, so read its data chunk.
    announced = max(header.frames, _riff_frames(path) if header.format in {"WAV", "WAVEX"} else 0)
    if header.format in {"WAV", "WAVEX", "RF64", "AIFF", "AU", "W64", "CAF"} and data.shape[0] < announced:
        raise AudioError(
            f"{path}: the file is truncated ({data.shape[0]} of the {announced} frames its header announces)"
        )
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no samples (zero length)")
    wave = torch.from_numpy(np.ascontiguousarray(data.T))
    if not allow_nonfinite:
        validate(wave, name=str(path))
    if mono:
        wave = to_mono(wave)
    if sr is not None and sr != rate:
        wave = resample(wave, rate, sr)
        rate = sr
    return wave, int(rate)


def validate(wave: torch.Tensor, name: str = "signal") -> torch.Tensor:
    """Raise :class:`AudioError` if ``wave`` is empty or holds NaN/Inf; return it unchanged otherwise."""
    if wave.numel() == 0 or wave.shape[-1] == 0:
        raise AudioError(f"{name}: the signal has zero length")
    bad = ~torch.isfinite(wave)
    if bool(bad.any()):
        first = int(bad.reshape(-1, wave.shape[-1]).any(0).nonzero()[0])
        raise AudioError(f"{name}: {int(bad.sum())} samples are NaN or Inf (first at sample {first})")
    return wave


def to_mono(wave: torch.Tensor) -> torch.Tensor:
    """Average the channels of ``(channels, samples)`` into ``(1, samples)``."""
    return wave.mean(dim=0, keepdim=True) if wave.dim() > 1 else wave.unsqueeze(0)


def resample(wave: torch.Tensor, sr_in: int, sr_out: int, quality: str = "VHQ") -> torch.Tensor:
    """Resample along the last axis with soxr (``quality`` one of QQ, LQ, MQ, HQ, VHQ).

    Any leading shape is kept; the dtype and device of ``wave`` are kept too (soxr runs on the CPU).
    """
    if sr_in <= 0 or sr_out <= 0:
        raise AudioError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    if sr_in == sr_out:
        return wave
    lead = wave.shape[:-1]
    flat = wave.detach().reshape(-1, wave.shape[-1]).to("cpu", torch.float64).numpy()
    out = soxr.resample(np.ascontiguousarray(flat.T), sr_in, sr_out, quality=quality).T
    return torch.from_numpy(np.ascontiguousarray(out)).to(wave.device, wave.dtype).reshape(*lead, -1)


_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's sf_command that turns the PEAK chunk of float files on or off


def open_writer(path, sr: int, channels: int, subtype: str, fmt: str) -> sf.SoundFile:
    """A :class:`soundfile.SoundFile` open for writing, without libsndfile's PEAK chunk: that chunk of float WAV/AIFF
    files records the time of writing, so the same samples written a second later would give another file; without
    it, the same input, options and seed give the same bytes."""
    f = sf.SoundFile(str(path), "w", sr, channels, subtype, format=fmt)
    try:
        sf._snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)  # noqa: SLF001 - no public API for it
    except AttributeError:  # another soundfile build: keep the chunk rather than fail
        pass
    return f


def save(
    path: str | os.PathLike,
    wave: torch.Tensor | np.ndarray,
    sr: int,
    overwrite: bool = False,
    subtype: str | None = None,
    protect: tuple[str | os.PathLike, ...] = (),
    like: str | os.PathLike | None = None,
) -> Path:
    """Write ``wave`` (``(samples,)`` or ``(channels, samples)``) atomically and return the path written.

    The data goes to a temporary file in the destination folder, which is then renamed over ``path``, so a
    crash never leaves a half-written file (and one left by a killed process is removed by the next write into
    that folder, :func:`cspec.audio.fs.remove_stale`). An existing ``path`` is refused unless ``overwrite``; a
    path in ``protect`` (the inputs of the job) is refused always.

    The sample format: ``subtype`` if given, else that of the file ``like`` (the input the output was made
    from: float in, float out) where the output container holds it, else 16-bit PCM (wav, flac). Integer
    formats cannot hold samples beyond [-1, 1]: those are clipped, and an :class:`cspec.errors.AudioWarning`
    says how many.
    """
    path = Path(path)
    fmt, ext = check_target(path, overwrite, protect)
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().to("cpu", torch.float32).numpy()
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 1:
        wave = wave[None]
    if wave.ndim != 2 or wave.shape[-1] == 0:
        raise AudioError(f"{path}: expected (samples,) or (channels, samples) with samples > 0, got {wave.shape}")
    if not np.isfinite(wave).all():
        raise AudioError(f"{path}: refusing to write NaN or Inf samples")
    subtype = subtype or output_subtype(fmt, ext, like)
    if is_integer(subtype):
        magnitude = np.abs(wave)
        report_range(path, subtype, int((magnitude > 1.0).sum()), wave.size, float(magnitude.max()))
        wave = np.clip(wave, -1.0, 1.0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    remove_stale(path.parent, once=True)
    tmp = temp_path(path, ext)
    try:
        with open_writer(tmp, int(sr), wave.shape[0], subtype, fmt) as f:
            f.write(wave.T)
        os.replace(tmp, path)
    except Exception as exc:
        raise write_error(path, exc) from None
    finally:  # also on KeyboardInterrupt / SystemExit: never leave the temporary file behind
        tmp.unlink(missing_ok=True)
    return path


def output_subtype(fmt: str, ext: str, like: str | os.PathLike | None = None) -> str:
    """The sample format of an output: that of the file ``like`` where container ``fmt`` holds it, else the
    default of ``ext`` (a float input written to FLAC, which has no float format, becomes 24-bit PCM)."""
    if like is not None:
        try:
            sub = sf.info(str(like)).subtype
        except Exception:
            sub = None
        if sub and sf.check_format(fmt, sub):
            return sub
        if sub in ("FLOAT", "DOUBLE") and sf.check_format(fmt, "PCM_24"):
            return "PCM_24"
    return _SUBTYPES[ext]


def is_integer(subtype: str) -> bool:
    """Whether a libsndfile subtype stores integers (PCM, u-law, A-law ...), which clip at full scale."""
    return subtype.startswith(("PCM", "ULAW", "ALAW", "DPCM", "DWVW", "IMA", "MS_ADPCM", "G72", "NMS"))


def report_range(path: Path, subtype: str, clipped: int, total: int, peak: float) -> None:
    """Warn (:class:`AudioWarning`) when an integer output clips samples, or is so quiet that it would be
    written as a few quantiser steps; never change the signal silently."""
    if clipped:
        warnings.warn(AudioWarning(
            f"{path}: {clipped} of {total} samples ({100 * clipped / total:.2f} %) beyond full scale clipped "
            f"(peak {20 * np.log10(peak):+.1f} dBFS; {subtype} cannot hold more: a float input written "
            f"to .wav stays float, or lower the level)"), stacklevel=3)
    bits = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24}.get(subtype)
    if bits and 0 < peak < 16 * 2.0 ** (1 - bits):
        warnings.warn(AudioWarning(
            f"{path}: the signal peaks at {20 * np.log10(peak):.1f} dBFS, within {peak * 2 ** (bits - 1):.1f} "
            f"quantiser steps of {subtype}: written as it is, coarsely quantised (write .wav from a float input "
            f"to keep it exact)"), stacklevel=3)


def check_target(path: str | os.PathLike, overwrite: bool = False, protect=()) -> tuple[str, str]:
    """Refuse writing over an input, a folder or an existing file (without ``overwrite``); return (format, ext).

    :func:`save` and :class:`BlockWriter` call it; callers call it too before long work, so that a bad output
    path costs nothing.
    """
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    fmt = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}.get(ext)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise AudioError(f"{path}: cannot write ({os_reason(exc)})") from None
    if st is not None:
        for p in protect:
            if Path(p).exists() and path.resolve() == Path(p).resolve():
                raise AudioError(f"{path}: refusing to write over an input file; choose another output path")
        if stat.S_ISDIR(st.st_mode):
            raise AudioError(f"{path}: is a folder; give a file name for the output")
        if not overwrite:
            raise AudioError(f"{path}: the file exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if fmt is None:
        raise AudioError(f"{path}: unknown output format '.{ext}'; use .wav, .flac, .ogg or .mp3")
    check_writable(path)
    return fmt, ext


def _check_exists(path: Path) -> None:
    try:
        st = os.stat(path)
    except OSError as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else os_reason(exc)
        raise AudioError(f"{path}: {reason}") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(f"{path}: is a folder, not a file of audio")
    if st.st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes)")
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ({os_reason(exc)})") from None


def _riff_frames(path: Path) -> int:
    """Frames that the ``data`` chunk of a RIFF/WAVE header announces (0 when unknown or streamed)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return 0
    pos, align = 12, 0
    while pos + 8 <= len(head):
        cid, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if cid == b"fmt " and pos + 22 <= len(head):
            align = int.from_bytes(head[pos + 20:pos + 22], "little")  # nBlockAlign: bytes per frame
        if cid == b"data":
            return size // align if align and size != 0xFFFFFFFF else 0
        pos += 8 + size + (size & 1)
    return 0


def _short(exc: Exception) -> str:
    """The first line of an exception, without libsndfile's "Error opening '<path>': " (the path is named once)."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    line = re.sub(r"^Error opening .*?: ", "", text.splitlines()[0])
    return line.rstrip(".") if line != "System error." else "system error"
