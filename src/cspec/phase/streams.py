"""The STFT and its inverse on a signal that arrives in pieces, equal to the whole-signal transforms.

:class:`FrameStream` turns samples pushed in blocks into the frames :func:`cspec.spectral.stft.stft` gives for
the whole signal (centre padding included: the reflection of the first and last ``n_fft // 2`` samples);
:class:`OverlapAddStream` turns frames pushed in order into the samples :func:`cspec.spectral.stft.istft` gives
for all of them (the windowed overlap-add divided by the overlap-added squared window, Griffin & Lim 1984,
eq. 6).  Memory holds one block and ``n_fft`` samples of state, whatever the signal's length, so that long files
can be transformed, reconstructed and scored block by block.  :func:`mono_blocks` reads a file as
:func:`cspec.audio.load` with ``mono=True, sr=rate`` does, a block at a time (soxr's streaming resampler at the
same VHQ quality).
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np
import torch

from cspec.errors import ConfigError
from cspec.spectral.stft import STFTConfig, _padded_window, get_preset

__all__ = ["PaddedStream", "FrameStream", "OverlapAddStream", "mono_blocks"]


def mono_blocks(path: str | os.PathLike, rate: int, block: int = 1 << 17) -> Iterator[torch.Tensor]:
    """The file's channels averaged and resampled to ``rate`` (soxr VHQ, streaming): float32 ``(samples,)`` blocks.

    Reads through :func:`cspec.audio.blocks` (the same checks as :func:`cspec.audio.load`), ``block`` frames of the
    file at a time; the concatenated blocks equal ``audio.load(path, sr=rate, mono=True)`` up to float rounding.
    """
    import soxr

    from cspec import audio

    header = audio.stream_info(path)
    sr = int(header.samplerate)
    stream = soxr.ResampleStream(sr, int(rate), 1, dtype="float32", quality="VHQ") if sr != int(rate) else None
    for x in audio.blocks(path, block):
        y = x.mean(dim=0)
        if stream is not None:
            y = torch.from_numpy(stream.resample_chunk(y.numpy()).copy())
        if y.numel():
            yield y
    if stream is not None:
        tail = stream.resample_chunk(np.zeros(0, np.float32), last=True)
        if tail.size:
            yield torch.from_numpy(tail.copy())


class PaddedStream:
    """Push samples ``(n,)``, get the centre-padded signal that :func:`~cspec.spectral.stft.stft` frames.

    With ``center``, the output starts with the reflection of samples ``1 .. n_fft // 2`` (or zeros) and
    :meth:`finish` ends it with the reflection of the last ones; without, samples pass through unchanged.
    """

    def __init__(self, config: STFTConfig | str, dtype: torch.dtype = torch.float32) -> None:
        self.cfg = cfg = get_preset(config)
        self.half = cfg.n_fft // 2 if cfg.center else 0
        self.dtype = dtype
        self.samples = 0  # pushed so far
        self._head: torch.Tensor | None = torch.zeros(0, dtype=dtype) if cfg.center else None  # before padding
        self._last = torch.zeros(0, dtype=dtype)  # the last half + 1 samples pushed (for the right padding)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x).reshape(-1).to(self.dtype)
        self.samples += x.shape[0]
        self._last = torch.cat([self._last[-(self.half + 1):], x[-(self.half + 1):]])[-(self.half + 1):]
        if self._head is None:
            return x
        self._head = torch.cat([self._head, x])  # the left padding needs the first half + 1 samples
        if self._head.shape[0] <= self.half:
            return x[:0]
        x, self._head = self._pad_left(self._head), None
        return x

    def _pad_left(self, head: torch.Tensor) -> torch.Tensor:
        if self.cfg.pad_mode == "reflect":
            return torch.cat([head[1: self.half + 1].flip(0), head])
        return torch.cat([head.new_zeros(self.half), head])

    def finish(self) -> torch.Tensor:
        """The rest of the padded signal (its right padding); the stream is done afterwards."""
        if self.samples == 0 or (self.cfg.center and self.cfg.pad_mode == "reflect" and self.samples <= self.half):
            raise ConfigError(f"a signal of {self.samples} samples is too short for n_fft={self.cfg.n_fft} "
                              "with centre padding")
        out = torch.zeros(0, dtype=self.dtype)
        if self._head is not None:
            out, self._head = self._pad_left(self._head), None
        if self.cfg.center:
            tail = self._last[-(self.half + 1): -1].flip(0) if self.cfg.pad_mode == "reflect" \
                else out.new_zeros(self.half)
            out = torch.cat([out, tail])
        return out


class FrameStream:
    """Push samples ``(n,)``, get the finished STFT frames ``(freq, m)`` (complex); :meth:`finish` gives the rest.

    The concatenated frames equal ``stft(whole_signal, config)`` (the same window, FFT size and padding, frame by
    frame), with the same frame count.  The signal must hold more than ``n_fft // 2`` samples when the config
    reflects its centre padding (as :func:`~cspec.spectral.stft.stft` requires).
    """

    def __init__(self, config: STFTConfig | str, dtype: torch.dtype = torch.float32) -> None:
        self.cfg = get_preset(config)
        self.window = _padded_window(self.cfg, None, dtype)
        self.dtype = dtype
        self._pad = PaddedStream(self.cfg, dtype)
        self._buf = torch.zeros(0, dtype=dtype)  # padded samples from the next frame's start on

    @property
    def samples(self) -> int:
        return self._pad.samples

    def _frames(self) -> torch.Tensor:
        n, hop = self.cfg.n_fft, self.cfg.hop_length
        count = 0 if self._buf.shape[0] < n else 1 + (self._buf.shape[0] - n) // hop
        if count == 0:
            return torch.zeros(self.cfg.n_freqs, 0,
                               dtype=torch.complex128 if self.dtype == torch.float64 else torch.complex64)
        frames = torch.fft.rfft(self._buf[: n + hop * (count - 1)].unfold(0, n, hop) * self.window, dim=-1).T
        self._buf = self._buf[hop * count:].clone()
        return frames

    def push(self, x: torch.Tensor) -> torch.Tensor:
        self._buf = torch.cat([self._buf, self._pad.push(x)])
        return self._frames()

    def finish(self) -> torch.Tensor:
        """The last frames (those that need the right padding); the stream is done afterwards."""
        self._buf = torch.cat([self._buf, self._pad.finish()])
        return self._frames()


class OverlapAddStream:
    """Push complex frames ``(freq, m)`` in order, get finished samples; :meth:`finish` gives the rest.

    The concatenated samples equal ``istft(all_frames, config, length)`` up to float rounding: each frame's
    inverse DFT times the window is overlap-added and divided by the overlap-added squared window (0 where
    that is below 1e-11, as :func:`~cspec.spectral.stft.istft`); the centre padding is dropped and the output is
    cut or zero-padded to ``length``.  Samples are released ``n_fft + hop`` behind the last frame's start, so
    that nothing past ``length`` leaves before :meth:`finish` knows it.
    """

    def __init__(self, config: STFTConfig | str, dtype: torch.dtype = torch.float32) -> None:
        self.cfg = cfg = get_preset(config)
        self.window = _padded_window(cfg, None, dtype)
        n, hop = cfg.n_fft, cfg.hop_length
        self._r = -(-n // hop)  # hops per frame, rounded up
        self._w2 = torch.nn.functional.pad(self.window * self.window, (0, self._r * hop - n)).reshape(self._r, hop)
        self.dtype = dtype
        self.skip = n // 2 if cfg.center else 0  # padded samples still to drop at the start
        self.released = 0  # output samples returned so far
        self._acc = torch.zeros(0, dtype=dtype)  # overlap-add from padded index _origin on
        self._env = torch.zeros(0, dtype=dtype)
        self._origin = 0
        self._frames = 0

    def push(self, spec: torch.Tensor) -> torch.Tensor:
        n, hop, r = self.cfg.n_fft, self.cfg.hop_length, self._r
        m = spec.shape[-1]
        if m:
            frames = torch.fft.irfft(spec.T, n=n, dim=-1).to(self.dtype) * self.window  # (m, n_fft)
            parts = torch.nn.functional.pad(frames, (0, r * hop - n)).reshape(m, r, hop)
            offset = self._frames * hop - self._origin  # where this push's first frame lands in _acc
            grow = offset + (m + r - 1) * hop - self._acc.shape[0]
            if grow > 0:
                self._acc = torch.cat([self._acc, self._acc.new_zeros(grow)])
                self._env = torch.cat([self._env, self._env.new_zeros(grow)])
            for j in range(r):  # ceil(n_fft / hop) shifted slice additions, as cspec.spectral.stft.istft
                lo, hi = offset + j * hop, offset + (j + m) * hop
                self._acc[lo:hi].view(m, hop).add_(parts[:, j])
                self._env[lo:hi].view(m, hop).add_(self._w2[j])
            self._frames += m
        return self._release((self._frames - 1) * hop - n - self._origin)

    def _release(self, count: int) -> torch.Tensor:
        count = max(0, min(count, self._acc.shape[0]))
        acc, env = self._acc[:count], self._env[:count]
        out = torch.where(env > 1e-11, acc / env.clamp_min(1e-11), torch.zeros_like(env))
        self._acc, self._env = self._acc[count:].clone(), self._env[count:].clone()
        self._origin += count
        drop = min(self.skip, out.shape[0])
        self.skip -= drop
        out = out[drop:]
        self.released += out.shape[0]
        return out

    def finish(self, length: int) -> torch.Tensor:
        """The remaining samples, ``length`` output samples in all (zeros past the last frame)."""
        before = self.released
        if before > length:
            raise ConfigError(f"{before} samples were already released, more than length={length}")
        out = self._release(self._acc.shape[0])[: length - before]
        if out.shape[0] < length - before:
            out = torch.nn.functional.pad(out, (0, length - before - out.shape[0]))
        self.released = length
        return out
