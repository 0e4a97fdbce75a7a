"""Decoded copies of compressed pool files, so that training decodes each Ogg Opus (or Vorbis, MP3) file once.

Decoding one 4 s Ogg Opus sentence of ``speech_read`` with libsndfile takes about 7-8 ms (about 500 times faster
than real time on one core of the development machine); reading its decoded copy back takes about 0.1 ms, and a
memory map reads only the samples that a crop uses. A training step that draws 8 targets plus babble talkers
would spend about 0.1 s per step decoding on the fly, on a 2-core machine that also trains; the cache removes it.

Each compressed file is decoded once by :func:`cspec.audio.load` (mono, resampled to the pool's rate) and stored
as a float16 ``.npy`` under ``<cache>/<rate>/<2 hex>/<sha1>.npy``, keyed by the file's absolute path, size and
modification time, so a changed file is decoded again. float16 keeps every sample to 11 significant bits (its
error lies about 66 dB below the sample), far below the codec's own error, and it holds the decoder's
overshoot past full scale (1 clip in 300 peaks at 1.016) that 16-bit PCM would clip. The copy is written to a
temporary file and renamed, so DataLoader workers that decode the same file at once never read a partial copy.

The cache folder is ``$CSPEC_CACHE/decoded``, else ``~/.cache/cspec/decoded``; the whole ``speech_read`` pool
(6.25 h) takes about 720 MB there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np

from cspec.audio import load
from cspec.errors import DataError

__all__ = ["COMPRESSED", "DecodedCache", "default_cache_dir"]

#: suffixes of the files decoded once and cached (lossless FLAC/WAV are read directly)
COMPRESSED = frozenset({".opus", ".ogg", ".oga", ".mp3"})


def default_cache_dir() -> Path:
    """``$CSPEC_CACHE/decoded``, else ``~/.cache/cspec/decoded``."""
    root = os.environ.get("CSPEC_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "cspec") / "decoded"


class DecodedCache:
    """Decoded float16 copies of compressed files at rate ``sr`` in ``folder`` (see the module docstring).

    ``cache(path)`` returns a read-only float16 memory map of the mono signal, decoding the file first if no
    current copy exists; :meth:`handles` says which paths it takes (:data:`COMPRESSED` suffixes).
    """

    def __init__(self, folder: str | os.PathLike | None = None, sr: int = 16000):
        self.folder = Path(folder).expanduser() if folder is not None else default_cache_dir()
        self.sr = int(sr)

    @staticmethod
    def handles(path) -> bool:
        return Path(path).suffix.lower() in COMPRESSED

    def entry(self, path) -> Path:
        """Where the decoded copy of ``path`` lives (whether or not it exists yet)."""
        path = Path(path).resolve()
        try:
            st = path.stat()
        except OSError as exc:
            raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
        key = hashlib.sha1(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
        return self.folder / str(self.sr) / key[:2] / f"{key}.npy"

    def __call__(self, path) -> np.ndarray:
        entry = self.entry(path)
        if not entry.is_file():
            self._write(entry, load(path, sr=self.sr, mono=True)[0][0].numpy())
        try:
            return np.load(entry, mmap_mode="r")
        except (OSError, ValueError) as exc:  # a damaged copy (disk full while another process wrote it)
            entry.unlink(missing_ok=True)
            raise DataError(f"{entry}: the decoded copy of {path} was unreadable ({exc}) and is removed; "
                            "run again to decode it anew") from None

    def _write(self, entry: Path, wave: np.ndarray) -> None:
        tmp = entry.with_name(f".{entry.stem}.{os.getpid()}.tmp.npy")
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            np.save(tmp, wave.astype(np.float16))
            os.replace(tmp, entry)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise DataError(f"{entry.parent}: cannot write the decode cache ({exc.strerror or exc}); set "
                            "CSPEC_CACHE or the dataset's decode_cache to a writable folder, or false") from None
