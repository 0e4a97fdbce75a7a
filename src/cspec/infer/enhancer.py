"""``Enhancer``: a speech enhancement model applied to signals, files and batches of files.

* any input rate (processed at the model's rate, resampled back with :func:`cspec.audio.resample`, soxr VHQ)
  and any channel count (the channels go through the model independently, as one batch);
* long inputs in overlapping chunks joined by a constant-overlap-add crossfade (:mod:`cspec.infer.chunked`);
  files longer than one chunk are read, resampled (soxr's streaming resampler) and written block by block, so
  memory stays bounded whatever the duration (``benchmarks/long_file.py``: peak RSS of a one-hour file);
* outputs are written atomically and never over an input (:func:`cspec.audio.save` / :class:`BlockWriter`).

Models come from the bundled folder ``cspec/pretrained/<name>/`` (``model.safetensors``, ``config.json``,
``MODEL_CARD.md``), from any folder written by :func:`cspec.models.save`, or in memory (``Enhancer(model)``;
any object with ``sample_rate`` that maps ``(batch, samples)`` to a dict with ``"wave"``, such as
:class:`cspec.infer.onnx.OnnxModel`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soxr
import torch

from cspec import audio
from cspec.errors import ConfigError, CspecError
from cspec.infer.batches import check_stop, fit, run_files
from cspec.infer.chunked import ChunkedRunner, chunk_sizes
from cspec.infer.resolve import (BACKENDS, PRETRAINED_DIR, available_pretrained, backend_of, resolve_model,
                                 resolve_on, run_checked)

__all__ = ["Enhancer", "PRETRAINED_DIR", "BACKENDS", "available_pretrained", "resolve_model"]

class Enhancer:
    """Apply a speech enhancement model to signals and files.

    Args:
        model: a :class:`cspec.models.SpeechModel` (put in eval mode) or any object with ``sample_rate`` mapping
            ``(batch, samples)`` to ``{"wave": (batch, samples)}``.
        chunk_seconds: inputs longer than this run in chunks of this length (at the model's rate).
        overlap_seconds: the crossfade between chunks (at most half a chunk); choose it larger than the model's
            receptive field for outputs equal to a whole-signal pass.
        batch_size: files that :meth:`enhance_files` puts through the model together.
        block_seconds: block length of file reading and writing.
        device: where the model runs.
        steps: network passes of a generative model's sampler (:mod:`cspec.generative`; default: the model's own);
            any other model refuses it.
    """

    def __init__(self, model, chunk_seconds: float = 10.0, overlap_seconds: float = 1.0, batch_size: int = 4,
                 block_seconds: float = 5.0, device: str | torch.device = "cpu", steps: int | None = None) -> None:
        if not hasattr(model, "sample_rate") or not callable(model):
            raise ConfigError(f"{type(model).__name__} is not a model: it needs sample_rate and (wave) -> dict")
        if getattr(model, "n_sources", 1) != 1:
            raise ConfigError(f"model '{getattr(model, 'name', type(model).__name__)}' separates "
                              f"{model.n_sources} sources; Enhancer needs a one-output enhancement model")
        if steps is not None:
            if not hasattr(model, "steps"):
                raise ConfigError(f"steps: model '{getattr(model, 'name', type(model).__name__)}' is not generative; "
                                  "it runs in one pass (drop --steps)")
            if int(steps) < 1:
                raise ConfigError(f"steps must be >= 1 network pass, got {steps}")
            model.steps = int(steps)
        if isinstance(model, torch.nn.Module):
            model = model.to(device).eval()
        self.model, self.device = model, torch.device(device)
        self.sample_rate = int(model.sample_rate)
        cfg = getattr(model, "stft_config", None)
        self.grid = cfg.hop_length if cfg is not None else 256
        self.chunk, self.overlap = chunk_sizes(self.sample_rate, chunk_seconds, overlap_seconds, self.grid)
        if batch_size < 1 or not block_seconds > 0:
            raise ConfigError(f"batch_size must be >= 1 and block_seconds > 0, got {batch_size}, {block_seconds}")
        self.batch_size, self.block_seconds = int(batch_size), float(block_seconds)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, backend: str = "auto", threads: int = 0,
                        **kwargs) -> "Enhancer":
        """A bundled model by name (see :func:`available_pretrained`) or a folder written by ``cspec.models.save``.

        ``backend="auto"`` runs the folder's ``model.onnx`` with onnxruntime when it is installed and the export
        computes this very model (the bundled models ship one; 2-2.5 times faster on a CPU, equal to PyTorch within
        1e-4), else PyTorch; ``"torch"`` and ``"onnx"`` force one (see :func:`resolve_model`, ``threads``
        included). A ``device`` other than the CPU always runs PyTorch.
        """
        return cls(resolve_on(name_or_path, backend, threads, kwargs.get("device", "cpu")), **kwargs)

    @property
    def backend(self) -> str:
        """``"onnx"`` when an onnxruntime export runs the model, ``"torch"`` for a module (else the type's name)."""
        return backend_of(self.model)

    # ------------------------------------------------------------------------------------------ signals

    def _forward(self, wave: torch.Tensor) -> torch.Tensor:
        return run_checked(self.model, wave, self.device)

    def runner(self) -> ChunkedRunner:
        """A fresh :class:`ChunkedRunner` over this model (input at the model's rate, ``(channels, samples)``)."""
        return ChunkedRunner(self._forward, self.chunk, self.overlap)

    def enhance(self, wave: torch.Tensor | np.ndarray, sr: int) -> torch.Tensor:
        """Enhance ``(samples,)`` or ``(channels, samples)`` at rate ``sr``; same shape and rate back."""
        x = torch.as_tensor(wave, dtype=torch.float32)
        if x.dim() not in (1, 2):
            raise ConfigError(f"expected a waveform (samples,) or (channels, samples), got shape {tuple(x.shape)}")
        audio.validate(x, name="input")
        flat = x.reshape(-1, x.shape[-1])
        y = audio.resample(flat, int(sr), self.sample_rate)
        runner = self.runner()
        y = torch.cat([runner.push(y), runner.finish()], dim=-1)
        y = audio.resample(y, self.sample_rate, int(sr))
        return fit(y, x.shape[-1]).reshape(x.shape)

    # -------------------------------------------------------------------------------------------- files

    def enhance_file(self, src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False,
                     stop: threading.Event | None = None) -> Path:
        """Enhance one file into ``dst`` at the input's rate, channels and sample format (float in, float out;
        never over ``src``; atomic). When ``stop`` is set, the work ends at the next block with
        :class:`cspec.errors.Cancelled` and nothing is left of ``dst``."""
        src, dst = Path(src), Path(dst)
        _check_pair(src, dst, overwrite)
        header = audio.stream_info(src)
        if header.frames * self.sample_rate / header.samplerate <= self.chunk:
            wave, sr = audio.load(src)
            y = self.enhance(wave, sr)
            check_stop(stop)
            return audio.save(dst, y, sr, overwrite=overwrite, protect=(src,), like=src)
        return self._enhance_long(src, dst, header, overwrite, stop)

    def _enhance_long(self, src: Path, dst: Path, header, overwrite: bool, stop=None) -> Path:
        sr, ch, total = int(header.samplerate), int(header.channels), int(header.frames)
        down = soxr.ResampleStream(sr, self.sample_rate, ch, dtype="float32", quality="VHQ") \
            if sr != self.sample_rate else None
        up = soxr.ResampleStream(self.sample_rate, sr, ch, dtype="float32", quality="VHQ") \
            if sr != self.sample_rate else None
        runner, written = self.runner(), 0
        block = max(1, int(self.block_seconds * sr))

        def emit(y: torch.Tensor, last: bool, w: audio.BlockWriter) -> None:
            nonlocal written
            if up is not None:
                y = torch.from_numpy(up.resample_chunk(np.ascontiguousarray(y.numpy().T), last=last).T.copy())
            y = y[..., : max(0, total - written)]
            if y.shape[-1]:
                w.write(y)
                written += y.shape[-1]

        with audio.BlockWriter(dst, sr, ch, overwrite=overwrite, protect=(src,), like=src) as writer:
            for x in audio.blocks(src, block):
                check_stop(stop)
                if down is not None:
                    x = torch.from_numpy(down.resample_chunk(np.ascontiguousarray(x.numpy().T)).T.copy())
                if x.shape[-1]:
                    emit(runner.push(x), False, writer)
            if down is not None:
                tail = down.resample_chunk(np.zeros((0, ch), np.float32), last=True).T
                if tail.shape[-1]:
                    emit(runner.push(torch.from_numpy(tail.copy())), False, writer)
            emit(runner.finish(), True, writer)
            if written < total:
                writer.write(torch.zeros(ch, total - written))
        return dst

    def enhance_files(self, srcs: Sequence[str | os.PathLike], dsts: Sequence[str | os.PathLike],
                      overwrite: bool = False,
                      on_done: Callable[[Path, Path, CspecError | None], None] | None = None,
                      stop: threading.Event | None = None) -> list[CspecError | None]:
        """Enhance many files; short ones go through the model ``batch_size`` at a time.

        When ``stop`` is set (the CLI sets it on Ctrl-C), the work ends within a block or a batch with
        :class:`cspec.errors.Cancelled`: files done so far stay, the one being written is removed.

        A file's error (:class:`CspecError`) is returned in its slot (and passed to ``on_done``) while the rest
        goes on. Files share a batch when their lengths at the model's rate are equal (fixed-length clips), so a
        batched output is the single-file output: padding would not be exact, not even for causal models, whose
        last frames (and their overlap-add envelope) depend on where the signal ends.
        """
        return run_files(srcs, dsts, sample_rate=self.sample_rate, chunk=self.chunk, batch_size=self.batch_size,
                         target=lambda src, dst: Path(dst), check=_check_pair, run_long=self._enhance_long,
                         mono=False, forward=self._forward, take=lambda rows, w: rows[:, : w.shape[-1]],
                         save=_save, batch_errors_per_file=True, overwrite=overwrite, on_done=on_done, stop=stop)


def _save(src: Path, dst: Path, y: torch.Tensor, sr: int, overwrite: bool) -> Path:
    return audio.save(dst, y, sr, overwrite=overwrite, protect=(src,), like=src)


def _check_pair(src: Path, dst: Path, overwrite: bool) -> None:
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise ConfigError(f"{dst}: refusing to write over the input file; choose another output path")
    if dst.exists() and not overwrite:
        raise ConfigError(f"{dst}: the file exists; pass overwrite=True (CLI: --overwrite) to replace it")
