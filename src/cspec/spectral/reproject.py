"""The consistency projection ``STFT(iSTFT(X))`` as a reusable operator for iterative phase retrieval.

Griffin & Lim (1984), "Signal estimation from modified short-time Fourier transform", IEEE TASSP: GLA, FGLA and
their kin apply this projection once per iteration, so its constant parts (window, overlap-added envelope) are
computed once here and, without autograd, its working memory is kept between calls.
"""

from __future__ import annotations

import torch

from cspec.errors import ConfigError
from cspec.spectral.stft import STFTConfig, _envelope, _overlap_add, _padded_window, get_preset, n_frames

__all__ = ["Reprojector"]


class Reprojector:
    """``STFT(iSTFT(X))`` on frame-major spectrograms ``(batch, frames, freq)``, for iterative phase retrieval.

    The consistency projection of Griffin & Lim (1984) that GLA, FGLA and their kin apply at every iteration.
    Equal to ``stft(istft(X, config, length), config)`` (with both layouts transposed), but it keeps the frames
    contiguous along the DFT axis, so that neither transform copies the spectrogram into another layout, and it
    computes the window and the overlap-added envelope once instead of every call.

    With ``out=`` (a complex tensor shaped and typed like the input) and no gradient to track, a call allocates
    nothing (except with reflect padding of a signal no longer than half a window, which takes the allocating
    path): the inverse frames and the overlap-added signal live in buffers kept between calls, the envelope
    division and the centre padding are one multiply by a gate (``1/envelope`` over the signal, 0 over zero
    padding) on the overlap-add buffer, and reflect padding is two flipped copies inside it.  An iteration of
    phase retrieval then touches no freshly mapped memory, which on a CPU is about twice as fast.  Those buffers
    make one instance unsafe to call from two threads at once.
    """

    def __init__(self, config: STFTConfig | str, frames: int, length: int, device=None, dtype=torch.float32):
        cfg = self.config = get_preset(config)
        self.frames, self.length = int(frames), int(length)
        if n_frames(self.length, cfg) != self.frames:
            raise ConfigError(f"length {length} gives {n_frames(self.length, cfg)} frames, not {frames}")
        self.window = _padded_window(cfg, device, dtype)
        self.start = cfg.n_fft // 2 if cfg.center else 0
        self.full = cfg.n_fft + cfg.hop_length * (self.frames - 1)
        self.stop = min(self.start + self.length, self.full)
        env = _envelope(cfg, self.frames, device, dtype)[self.start : self.stop]
        self.inv_env = torch.where(env > 1e-11, 1.0 / env.clamp_min(1e-11), torch.zeros_like(env))
        # the buffered path: the padded signal's first `full` samples are the overlap-add buffer times a gate
        # (reflect padding needs the whole signal inside that span and longer than the padding)
        half = cfg.n_fft // 2
        self.reflect = cfg.center and cfg.pad_mode == "reflect"
        self.bufferable = not self.reflect or (self.start + self.length <= self.full and self.length > half)
        self.gate = torch.zeros(self.full, device=device, dtype=dtype)
        self.gate[self.start : self.stop] = self.inv_env
        whole = -(-cfg.n_fft // cfg.hop_length) * cfg.hop_length
        self._window_hops = torch.nn.functional.pad(self.window, (0, whole - cfg.n_fft))  # zero up to whole hops
        self._buffers: tuple[torch.Tensor, torch.Tensor] | None = None

    def __call__(self, spec: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        cfg, n = self.config, self.config.n_fft
        if out is not None and self.bufferable and not (torch.is_grad_enabled() and spec.requires_grad):
            return self._buffered(spec, out)
        frames = torch.fft.irfft(spec, n=n, dim=-1) * self.window  # (B, frames, n_fft)
        wave = _overlap_add(frames, cfg.hop_length)[:, self.start : self.stop] * self.inv_env
        if self.stop - self.start < self.length:
            wave = torch.nn.functional.pad(wave, (0, self.length - (self.stop - self.start)))
        if cfg.center:
            wave = torch.nn.functional.pad(wave[:, None], (n // 2, n // 2), mode=cfg.pad_mode)[:, 0]
        result = torch.fft.rfft(wave.unfold(-1, n, cfg.hop_length) * self.window, dim=-1)
        return result if out is None else out.copy_(result)

    def _buffered(self, spec: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        n, hop, batch = self.config.n_fft, self.config.hop_length, spec.shape[0]
        if self._buffers is None or self._buffers[0].shape[0] != batch:
            r = -(-n // hop)  # the overlap-add buffer holds whole hops
            # the frames' tail beyond n_fft (up to whole hops) is zero and never written
            self._buffers = (spec.new_zeros((batch, self.frames, r * hop), dtype=self.window.dtype),
                             spec.new_empty((batch, (self.frames + r - 1) * hop), dtype=self.window.dtype))
        frames, ola = self._buffers
        r = frames.shape[-1] // hop
        torch.fft.irfft(spec, n=n, dim=-1, out=frames[..., :n])
        frames.mul_(self._window_hops)
        parts, acc = frames.view(batch, self.frames, r, hop), ola.view(batch, -1, hop)
        acc[:, : self.frames].copy_(parts[:, :, 0])
        acc[:, self.frames :].zero_()
        for j in range(1, r):
            acc[:, j : j + self.frames] += parts[:, :, j]
        signal = ola[:, : self.full]
        signal.mul_(self.gate)
        if self.reflect:  # torch's reflect padding of the signal, which starts at n/2 and is `length` long
            half, end = n // 2, n // 2 + self.length
            signal[:, :half] = signal[:, half + 1 : 2 * half + 1].flip(-1)
            if end < self.full:
                signal[:, end:] = signal[:, 2 * end - self.full - 1 : end - 1].flip(-1)
        torch.mul(signal.unfold(-1, n, hop), self.window, out=frames[..., :n])
        return torch.fft.rfft(frames[..., :n], dim=-1, out=out)
