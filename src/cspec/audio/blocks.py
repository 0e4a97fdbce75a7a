"""Files in blocks, for inputs longer than memory: :func:`blocks` reads, :class:`BlockWriter` writes atomically.

The same checks as :func:`cspec.audio.load` and :func:`cspec.audio.save`, one block at a time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import torch

from cspec.audio.fs import remove_stale, temp_path, write_error
from cspec.audio.io import (_riff_frames, _short, check_target, info, is_integer, open_writer, output_subtype,
                             report_range, validate)
from cspec.errors import AudioError

__all__ = ["stream_info", "blocks", "BlockWriter"]


def stream_info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """:func:`info` for block-wise reading: also refuses a file that holds no samples."""
    header = info(path)
    if header.frames == 0:
        raise AudioError(f"{path}: the file holds no samples (zero length)")
    return header


def blocks(path: str | os.PathLike, block_frames: int = 65536, allow_nonfinite: bool = False
           ) -> Iterator[torch.Tensor]:
    """Read a file block by block: float32 tensors ``(channels, <= block_frames)``, memory bounded by one block.

    The same checks as :func:`load` (unreadable, empty, truncated PCM, NaN/Inf samples) raise
    :class:`AudioError`; a truncation is found when the last block comes short of the header's length.
    """
    path = Path(path)
    header = stream_info(path)
    if block_frames < 1:
        raise AudioError(f"{path}: block_frames must be >= 1, got {block_frames}")
    announced = max(header.frames, _riff_frames(path) if header.format in {"WAV", "WAVEX"} else 0)
    done = 0
    try:
        reader = sf.SoundFile(str(path))
    except Exception as exc:
        raise AudioError(f"{path}: cannot decode the audio ({_short(exc)})") from None
    with reader:
        while True:
            try:
                data = reader.read(block_frames, dtype="float32", always_2d=True)
            except Exception as exc:
                raise AudioError(f"{path}: cannot decode the audio ({_short(exc)})") from None
            if data.shape[0] == 0:
                break
            wave = torch.from_numpy(np.ascontiguousarray(data.T))
            if not allow_nonfinite:
                validate(wave, name=f"{path} (block at frame {done})")
            done += data.shape[0]
            yield wave
    if header.format in {"WAV", "WAVEX", "RF64", "AIFF", "AU", "W64", "CAF"} and done < announced:
        raise AudioError(f"{path}: the file is truncated ({done} of the {announced} frames its header announces)")
    if done == 0:
        raise AudioError(f"{path}: the file holds no samples (zero length)")


class BlockWriter:
    """Write a file block by block, atomically: ``with BlockWriter(path, sr, channels) as w: w.write(block)``.

    Blocks are ``(channels, samples)`` arrays or tensors. The data goes to a temporary file in the destination
    folder that replaces ``path`` only when the ``with`` block ends without an exception (otherwise, Ctrl-C
    included, it is deleted), with the same refusals, sample formats (``subtype``, ``like``) and warnings as
    :func:`save`.
    """

    def __init__(self, path: str | os.PathLike, sr: int, channels: int, overwrite: bool = False,
                 subtype: str | None = None, protect: tuple[str | os.PathLike, ...] = (),
                 like: str | os.PathLike | None = None) -> None:
        self.path = Path(path)
        self.fmt, ext = check_target(self.path, overwrite, protect)
        self.subtype = subtype or output_subtype(self.fmt, ext, like)
        self.sr, self.channels, self.ext, self.frames = int(sr), int(channels), ext, 0
        self._file, self._tmp = None, None
        self._clipped, self._peak = 0, 0.0

    def __enter__(self) -> "BlockWriter":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(self.path, exc) from None
        remove_stale(self.path.parent, once=True)
        self._tmp = temp_path(self.path, self.ext)
        try:
            self._file = open_writer(self._tmp, self.sr, self.channels, self.subtype, self.fmt)
        except Exception as exc:
            self._tmp.unlink(missing_ok=True)
            raise write_error(self.path, exc) from None
        return self

    def write(self, block: torch.Tensor | np.ndarray) -> None:
        if isinstance(block, torch.Tensor):
            block = block.detach().to("cpu", torch.float32).numpy()
        block = np.asarray(block, dtype=np.float32).reshape(self.channels, -1)
        if not np.isfinite(block).all():
            raise AudioError(f"{self.path}: refusing to write NaN or Inf samples")
        if block.size:
            self._peak = max(self._peak, float(np.abs(block).max()))
        if is_integer(self.subtype):
            self._clipped += int((np.abs(block) > 1.0).sum())
            block = np.clip(block, -1.0, 1.0)
        try:
            self._file.write(np.ascontiguousarray(block.T))
        except Exception as exc:
            raise write_error(self.path, exc) from None
        self.frames += block.shape[1]

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._file.close()
            if exc_type is None:
                if self.frames == 0:
                    raise AudioError(f"{self.path}: no samples were written")
                if is_integer(self.subtype):
                    report_range(self.path, self.subtype, self._clipped, self.frames * self.channels, self._peak)
                os.replace(self._tmp, self.path)
        except OSError as err:
            raise write_error(self.path, err) from None
        except RuntimeError as err:  # libsndfile's "System error." on close (disk full while flushing)
            raise write_error(self.path, err) from None
        finally:
            self._tmp.unlink(missing_ok=True)
