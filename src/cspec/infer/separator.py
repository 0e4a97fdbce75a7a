"""``Separator``: a speech separation model (``n_sources >= 2``) applied to signals, files and batches of files.

* any input rate: separated at the model's rate and resampled back with :func:`cspec.audio.resample` (soxr VHQ,
  the resampler :class:`~cspec.infer.Enhancer` uses; soxr's streaming resampler for long files);
* several channels are **mixed down to mono** (their mean) before separating: the models separate one channel,
  and a multi-channel file gives ``n_sources`` mono outputs;
* long inputs in overlapping chunks, each chunk's outputs reordered to the previous chunk's on the overlap and
  crossfaded (stitching as in continuous speech separation, Chen et al. 2020; :mod:`cspec.infer.stitch`), so a
  speaker stays in the same output across chunks; files longer than one chunk are read, resampled and written
  block by block with bounded memory;
* one output per source, ``<stem>_s1.wav``, ``<stem>_s2.wav`` ... at the input's rate and sample format, written
  atomically and never over an input.

Models: any registered cspec model with ``n_sources >= 2`` (``forward`` returns ``{"wave": (B, n_src, T)}``:
Conv-TasNet, DPRNN, TF-GridNet), a folder written by :func:`cspec.models.save`, or its ``model.onnx``
(:class:`cspec.infer.onnx.OnnxModel`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soxr
import torch

from cspec import audio
from cspec.errors import ConfigError, CspecError, ModelError
from cspec.infer.batches import check_stop, fit, run_files
from cspec.infer.chunked import chunk_sizes
from cspec.infer.resolve import PRETRAINED_DIR, available_pretrained, backend_of, resolve_on, run_checked
from cspec.infer.stitch import StitchedRunner

__all__ = ["Separator", "output_paths"]

_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")  # what cspec.audio.save writes


def output_paths(src: str | os.PathLike, out: str | os.PathLike, n_sources: int) -> list[Path]:
    """Where the sources of ``src`` go: ``out`` with an audio suffix is a name, ``<out stem>_s<i><suffix>``
    (``mix.flac`` gives ``mix_s1.flac``, ``mix_s2.flac``); any other ``out`` is a folder, ``out/<stem of
    src>_s<i>.wav``."""
    src, out = Path(src), Path(out)
    if out.suffix.lower() in _SUFFIXES:
        return [out.with_name(f"{out.stem}_s{i + 1}{out.suffix}") for i in range(n_sources)]
    return [out / f"{src.stem}_s{i + 1}.wav" for i in range(n_sources)]


class Separator:
    """Separate the speakers of a mixture with a model of ``n_sources >= 2`` outputs.

    Args:
        model: a :class:`cspec.models.SpeechModel` with ``n_sources >= 2`` or any object with ``sample_rate`` and
            ``n_sources`` mapping ``(batch, samples)`` to ``{"wave": (batch, n_sources, samples)}``.
        chunk_seconds: inputs longer than this run in chunks of this length (at the model's rate).
        overlap_seconds: the overlap of consecutive chunks, on which their outputs are aligned and crossfaded (at
            most half a chunk; longer overlaps align more reliably: a speaker must talk in it).
        batch_size: short files of equal length that :meth:`separate_files` puts through the model together.
        block_seconds: block length of file reading and writing.
        device: where the model runs.
    """

    def __init__(self, model, chunk_seconds: float = 10.0, overlap_seconds: float = 2.0, batch_size: int = 4,
                 block_seconds: float = 5.0, device: str | torch.device = "cpu") -> None:
        if not hasattr(model, "sample_rate") or not callable(model):
            raise ConfigError(f"{type(model).__name__} is not a model: it needs sample_rate and (wave) -> dict")
        name = getattr(model, "name", type(model).__name__)
        if int(getattr(model, "n_sources", 1)) < 2:
            raise ConfigError(f"model '{name}' has one output (an enhancement model); Separator needs a separation "
                              "model with n_sources >= 2 (use cspec enhance / Enhancer for this one)")
        if isinstance(model, torch.nn.Module):
            model = model.to(device).eval()
        self.model, self.device, self.name = model, torch.device(device), name
        self.sample_rate, self.n_sources = int(model.sample_rate), int(model.n_sources)
        cfg = getattr(model, "stft_config", None)
        grid = cfg.hop_length if cfg is not None else 1
        self.chunk, self.overlap = chunk_sizes(self.sample_rate, chunk_seconds, overlap_seconds, grid)
        if self.overlap == 0:
            raise ConfigError("overlap_seconds must be > 0: the chunks' outputs are put in order on the overlap")
        if batch_size < 1 or not block_seconds > 0:
            raise ConfigError(f"batch_size must be >= 1 and block_seconds > 0, got {batch_size}, {block_seconds}")
        self.batch_size, self.block_seconds = int(batch_size), float(block_seconds)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, backend: str = "auto", threads: int = 0,
                        **kwargs) -> "Separator":
        """A bundled separator by name or a folder written by ``cspec.models.save`` (see
        :meth:`cspec.infer.Enhancer.from_pretrained` for ``backend`` and ``threads``: ``"auto"`` runs the folder's
        ``model.onnx`` when onnxruntime is installed and the export computes this very model)."""
        text = str(name_or_path)
        if not Path(text).exists() and not (PRETRAINED_DIR / text / "config.json").is_file():
            names = ", ".join(available_pretrained()) or "none"
            raise ConfigError(f"no bundled model '{text}' (not in this version; bundled: {names}) and no such model "
                              "folder; pass a separation model folder written by cspec.models.save")
        return cls(resolve_on(name_or_path, backend, threads, kwargs.get("device", "cpu")), **kwargs)

    @property
    def backend(self) -> str:
        """``"onnx"`` when an onnxruntime export runs the model, ``"torch"`` for a module."""
        return backend_of(self.model)

    # ------------------------------------------------------------------------------------------ signals

    def _forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, n)`` at the model's rate -> ``(batch, n_sources, n)`` on the CPU, checked."""
        out = run_checked(self.model, wave, self.device)
        if out.shape != (wave.shape[0], self.n_sources, wave.shape[-1]):
            raise ModelError(f"model '{self.name}' returned shape {tuple(out.shape)} for {tuple(wave.shape)}; a "
                             f"separator returns (batch, {self.n_sources}, samples)")
        return out

    def runner(self) -> StitchedRunner:
        """A fresh :class:`StitchedRunner` over this model (mono input at the model's rate)."""
        return StitchedRunner(lambda x: self._forward(x)[0], self.chunk, self.overlap, self.n_sources)

    def separate(self, wave: torch.Tensor | np.ndarray, sr: int) -> torch.Tensor:
        """Separate ``(samples,)`` or ``(channels, samples)`` at rate ``sr`` (channels mixed down to mono first)
        into ``(n_sources, samples)`` at rate ``sr``."""
        x = torch.as_tensor(wave, dtype=torch.float32)
        if x.dim() not in (1, 2) or x.shape[-1] == 0 or (x.dim() == 2 and x.shape[0] == 0):
            raise ConfigError(f"expected a waveform (samples,) or (channels, samples), got shape {tuple(x.shape)}")
        audio.validate(x, name="input")
        mono = audio.to_mono(x) if x.dim() == 2 else x[None]
        y = audio.resample(mono, int(sr), self.sample_rate)
        runner = self.runner()
        y = torch.cat([runner.push(y), runner.finish()], dim=-1)
        return fit(audio.resample(y, self.sample_rate, int(sr)), x.shape[-1])

    # -------------------------------------------------------------------------------------------- files

    def separate_file(self, src: str | os.PathLike, out: str | os.PathLike, overwrite: bool = False,
                      stop: threading.Event | None = None) -> list[Path]:
        """Separate one file into ``n_sources`` mono files (:func:`output_paths`: ``out`` a folder, or a name such
        as ``mix.wav``) at the input's rate and sample format; returns their paths. When ``stop`` is set, the work
        ends at the next block with :class:`cspec.errors.Cancelled` and none of the outputs is left."""
        src = Path(src)
        dsts = output_paths(src, out, self.n_sources)
        _check_targets(src, dsts, overwrite)
        header = audio.stream_info(src)
        if header.frames * self.sample_rate / header.samplerate <= self.chunk:
            wave, sr = audio.load(src)
            y = self.separate(wave, sr)
            check_stop(stop)
            return _save_all(src, dsts, y, sr, overwrite)
        return self._separate_long(src, dsts, header, overwrite, stop)

    def _separate_long(self, src: Path, dsts: list[Path], header, overwrite: bool, stop=None) -> list[Path]:
        sr, total, c = int(header.samplerate), int(header.frames), self.n_sources
        resampled = sr != self.sample_rate
        down = soxr.ResampleStream(sr, self.sample_rate, 1, dtype="float32", quality="VHQ") if resampled else None
        up = soxr.ResampleStream(self.sample_rate, sr, c, dtype="float32", quality="VHQ") if resampled else None
        runner, written = self.runner(), 0

        def emit(y: torch.Tensor, last: bool, writers) -> None:
            nonlocal written
            if up is not None:
                y = torch.from_numpy(up.resample_chunk(np.ascontiguousarray(y.numpy().T), last=last).T.copy())
            y = y[:, : max(0, total - written)]
            for i, w in enumerate(writers):
                if y.shape[-1]:
                    w.write(y[i: i + 1])
            written += y.shape[-1]

        with contextlib.ExitStack() as stack:  # any exception (Ctrl-C included) removes every partial output
            writers = [stack.enter_context(audio.BlockWriter(d, sr, 1, overwrite=overwrite, protect=(src,),
                                                             like=src)) for d in dsts]
            for x in audio.blocks(src, max(1, int(self.block_seconds * sr))):
                check_stop(stop)
                x = x.mean(dim=0, keepdim=True)  # mixed down to mono
                if down is not None:
                    x = torch.from_numpy(down.resample_chunk(np.ascontiguousarray(x.numpy().T)).T.copy())
                if x.shape[-1]:
                    emit(runner.push(x), False, writers)
            if down is not None:
                tail = down.resample_chunk(np.zeros((0, 1), np.float32), last=True).T
                if tail.shape[-1]:
                    emit(runner.push(torch.from_numpy(tail.copy())), False, writers)
            emit(runner.finish(), True, writers)
            if written < total:
                for w in writers:
                    w.write(torch.zeros(1, total - written))
        return dsts

    def separate_files(self, srcs: Sequence[str | os.PathLike], outs: Sequence[str | os.PathLike],
                       overwrite: bool = False,
                       on_done: Callable[[Path, list[Path], CspecError | None], None] | None = None,
                       stop: threading.Event | None = None) -> list[CspecError | None]:
        """Separate many files (``outs[i]``: a folder or a name for ``srcs[i]``, see :func:`output_paths`).

        Short files of equal length at the model's rate go through the model ``batch_size`` at a time (the same
        output as one by one: a file within one chunk is one pass); longer ones stream as in
        :meth:`separate_file`. A file's error is returned in its slot (and passed to ``on_done(src, outputs,
        error)``) while the rest goes on; a :class:`ModelError` stops the batch. When ``stop`` is set the work
        ends within a block or a batch with :class:`Cancelled`: files done so far stay, the partial one goes.
        """
        return run_files(srcs, outs, sample_rate=self.sample_rate, chunk=self.chunk, batch_size=self.batch_size,
                         target=lambda src, out: output_paths(src, out, self.n_sources), check=_check_targets,
                         run_long=self._separate_long, mono=True, forward=self._forward,
                         take=lambda rows, w: rows[0], save=_save_all, batch_errors_per_file=False,
                         overwrite=overwrite, on_done=on_done, stop=stop)


def _check_targets(src: Path, dsts: list[Path], overwrite: bool) -> None:
    """Refuse, before any work, an output that is the input or (without ``overwrite``) exists or is unwritable."""
    for dst in dsts:
        audio.check_target(dst, overwrite, protect=(src,))


def _save_all(src: Path, dsts: list[Path], y: torch.Tensor, sr: int, overwrite: bool) -> list[Path]:
    """Write one mono file per source, each atomically; when one fails, the ones written by this call go too."""
    written: list[Path] = []
    try:
        for i, dst in enumerate(dsts):
            written.append(audio.save(dst, y[i: i + 1], sr, overwrite=overwrite, protect=(src,), like=src))
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return dsts
