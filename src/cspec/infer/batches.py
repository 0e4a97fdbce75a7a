"""Many files through one model: the loop shared by :meth:`cspec.infer.Enhancer.enhance_files` and
:meth:`cspec.infer.Separator.separate_files`.

Each ``(src, out)`` pair is checked before any work; a file longer than one chunk (at the model's rate) goes
through the caller's streaming path at once, a shorter one is loaded and resampled to the model's rate. The short
ones are then sorted by length and put through the model ``batch_size`` at a time, only files of equal length
together (padding would change the output: a batched output is the single-file output). The rows of a batch are
the files' channels, in order. A file's :class:`~cspec.errors.CspecError` is its own (returned in its slot, passed
to ``on_done``) while the rest goes on; a :class:`~cspec.errors.ModelError` is the model's and ends the call. A set
``stop`` ends the work before the next file, batch or save with :class:`~cspec.errors.Cancelled`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from cspec import audio
from cspec.errors import Cancelled, ConfigError, CspecError, ModelError

__all__ = ["run_files", "check_stop", "fit"]


def check_stop(stop: threading.Event | None) -> None:
    """Raise :class:`~cspec.errors.Cancelled` when ``stop`` is set."""
    if stop is not None and stop.is_set():
        raise Cancelled("stopped on request")


def fit(y: torch.Tensor, n: int) -> torch.Tensor:
    """Trim or zero-pad the last axis to ``n`` (resampling round trips may differ by a sample)."""
    return y[..., :n] if y.shape[-1] >= n else torch.nn.functional.pad(y, (0, n - y.shape[-1]))


def run_files(srcs: Sequence, outs: Sequence, *, sample_rate: int, chunk: int, batch_size: int,
              target: Callable[[Any, Any], Any], check: Callable[[Path, Any, bool], None],
              run_long: Callable[..., Any], mono: bool, forward: Callable[[torch.Tensor], torch.Tensor],
              take: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
              save: Callable[[Path, Any, torch.Tensor, int, bool], Any], batch_errors_per_file: bool,
              overwrite: bool = False, on_done: Callable[[Path, Any, CspecError | None], None] | None = None,
              stop: threading.Event | None = None) -> list[CspecError | None]:
    """Put ``srcs`` through a model into ``outs`` (see the module docstring); one error or ``None`` per file.

    Args:
        sample_rate, chunk, batch_size: the model's rate; the longest input (samples at that rate) loaded whole;
            the most files in one batch.
        target: ``(src, out) -> target``, what the file's outputs are (a path, a list of paths), computed for every
            pair first; passed to ``check``, ``run_long``, ``save`` and ``on_done``.
        check: ``(src, target, overwrite)``, refuses a pair before any work.
        run_long: ``(src, target, header, overwrite, stop)``, the streaming path of a long file.
        mono: load short files mixed down to one channel.
        forward: ``(rows, samples) -> output`` of the model, one output row per input row.
        take: ``(output rows of a file, its input rows at the model's rate) -> waveform`` to resample and save.
        save: ``(src, target, waveform, rate, overwrite)``, writes a file's outputs.
        batch_errors_per_file: a :class:`CspecError` (not a ModelError) of ``forward`` becomes the error of each
            file of the batch (``True``) or ends the call (``False``).
    """
    if len(srcs) != len(outs):
        raise ConfigError(f"{len(srcs)} inputs but {len(outs)} outputs")
    errors: list[CspecError | None] = [None] * len(srcs)
    targets = [target(s, o) for s, o in zip(srcs, outs)]
    pending: list[tuple[int, torch.Tensor, int, int]] = []  # (index, wave at the model's rate, rate, length)

    def done(i: int, err: CspecError | None) -> None:
        errors[i] = err
        if on_done is not None:
            on_done(Path(srcs[i]), targets[i], err)

    for i, src in enumerate(srcs):
        check_stop(stop)
        try:
            src = Path(src)
            check(src, targets[i], overwrite)
            header = audio.stream_info(src)
            if header.frames * sample_rate / header.samplerate > chunk:
                run_long(src, targets[i], header, overwrite, stop)
                done(i, None)
                continue
            wave, sr = audio.load(src, mono=mono)
            pending.append((i, audio.resample(wave, sr, sample_rate), sr, wave.shape[-1]))
        except ModelError:  # the model, not this file: every other file would fail the same way
            raise
        except CspecError as err:
            done(i, err)
    pending.sort(key=lambda item: item[1].shape[-1])
    while pending:
        group = [pending.pop(0)]
        while pending and len(group) < batch_size and pending[0][1].shape[-1] == group[0][1].shape[-1]:
            group.append(pending.pop(0))
        check_stop(stop)
        try:
            out = forward(torch.cat([w for _, w, _, _ in group], dim=0))  # equal lengths: the files' rows
        except ModelError:
            raise
        except CspecError as err:
            if not batch_errors_per_file:
                raise
            for i, *_ in group:
                done(i, err)
            continue
        row = 0
        for i, w, sr, n in group:
            check_stop(stop)
            y, row = take(out[row: row + w.shape[0]], w), row + w.shape[0]
            try:
                save(Path(srcs[i]), targets[i], fit(audio.resample(y, sample_rate, sr), n), sr, overwrite)
                done(i, None)
            except CspecError as err:
                done(i, err)
    return errors
