"""Phase retrieval of long signals block by block: bounded memory, continuous across blocks.

The magnitude arrives in pieces (from :class:`cspec.phase.streams.FrameStream`); every ``block`` frames, the
chosen method (any of :data:`cspec.phase.METHODS`) runs on a window of frames made of

* ``k = ceil(n_fft / hop) - 1`` frames already committed, held fixed at their complex values (every frame that
  overlaps the first new one): RTISI-LA's committed frames (Zhu, Beauregard & Wyse 2007, IEEE TASLP 15(5),
  Sec. III), here committed a block at a time instead of a frame at a time;
* the ``block`` frames to commit now, and
* ``context`` look-ahead frames after them, solved as well but committed only by the next block, where they
  start from this block's estimate (the look-ahead of RTISI-LA, at block scale).

Each block is solved as a signal of its own, without centre padding; with the committed frames fixed, the
consistency projection STFT(iSTFT(.)) of every new frame is the same as in the whole signal, so the phase
continues across the join instead of starting afresh.  PGHI continues the same way from the last committed
frame, as its real-time variant does (Prusa & Holighaus 2017, IEEE SPL 24(6), Alg. 1).  Committed frames go to
one overlap-add (:class:`~cspec.phase.streams.OverlapAddStream`): the output is the iSTFT of one spectrogram,
with no crossfade to blur the joins.  The first and last blocks treat the centre padding as free signal (as
RTISI-LA does), and the iteration counts are per block.  Memory: one window of ``k + block + context`` frames
and its buffers, whatever the signal's length.
"""

from __future__ import annotations

import math

import torch

from cspec.errors import ConfigError
from cspec.phase.api import LEARNED_ITERS
from cspec.phase.griffin_lim import check_magnitude, fast_griffin_lim, signal_length
from cspec.phase.pghi import pghi_phase
from cspec.phase.rtisi import rtisi_la
from cspec.phase.streams import OverlapAddStream
from cspec.spectral.stft import STFTConfig, get_preset

__all__ = ["BlockReconstructor", "reconstruct_blockwise", "block_frames", "BLOCK_SECONDS", "CONTEXT_SECONDS"]

#: default block and look-ahead lengths, in seconds of frames at the config's rate (see :func:`block_frames`)
BLOCK_SECONDS = 20.0
CONTEXT_SECONDS = 1.0

_METHODS = ("gla", "fgla", "rtisi", "pghi", "pghi+fgla", "pghi+gla", "learned")


def block_frames(cfg: STFTConfig, block_seconds: float = BLOCK_SECONDS,
                 context_seconds: float = CONTEXT_SECONDS) -> tuple[int, int]:
    """``(block, context)`` in frames of ``cfg`` for lengths in seconds at ``cfg.sample_rate``."""
    per_second = cfg.sample_rate / cfg.hop_length
    return max(1, math.ceil(block_seconds * per_second)), max(0, math.ceil(context_seconds * per_second))


class BlockReconstructor:
    """Push magnitude frames ``(freq, m)`` in order, get finished waveform samples; :meth:`finish` gives the rest.

    Args:
        method: one of :data:`cspec.phase.METHODS`.
        config: STFT config or preset name of the magnitude (centred frames, as :func:`~cspec.spectral.stft.stft`).
        n_iter: iterations per block (per frame for ``rtisi``); ``None``: 100 (20 for ``rtisi``).
        block: frames committed per step; ``context``: look-ahead frames solved with them (defaults:
            :data:`BLOCK_SECONDS` and :data:`CONTEXT_SECONDS` in frames of ``config``).
        momentum, seed, lookahead, tol, gamma: as in :func:`cspec.phase.reconstruct`; the random start of
            block ``b`` is drawn from ``torch.Generator`` seeded with ``seed * 1000003 + b``.
        predictor: for ``learned``: a function from a window's magnitude ``(freq, frames)`` to its phase (e.g.
            ``lambda m: LearnedPhase.phase(m, config)``), the start of ``n_iter`` FGLA iterations (default 16).
    """

    def __init__(self, method: str = "fgla", config: STFTConfig | str = "mpsenet", n_iter: int | None = None,
                 block: int | None = None, context: int | None = None, momentum: float = 0.99, seed: int = 0,
                 lookahead: int = 3, tol: float = 1e-5, gamma: float | None = None, predictor=None) -> None:
        self.method = str(method).lower()
        if self.method not in _METHODS:
            raise ConfigError(f"unknown phase retrieval method '{method}'; choose one of {', '.join(_METHODS)}")
        if self.method == "learned" and predictor is None:
            raise ConfigError("block-wise 'learned' needs its predictor (see cspec.infer.phase.LearnedPhase.phase)")
        self.predictor = predictor
        self.cfg = get_preset(config)
        default_block, default_context = block_frames(self.cfg)
        block = default_block if block is None else block
        context = default_context if context is None else context
        if int(block) < 1 or int(context) < 0:
            raise ConfigError(f"block must be >= 1 frame and context >= 0 frames, got {block} and {context}")
        self.block_cfg = self.cfg.replace(center=False)  # a block is a piece of the padded signal
        default_iters = {"rtisi": 20, "learned": LEARNED_ITERS}.get(self.method, 100)
        self.n_iter = default_iters if n_iter is None else int(n_iter)
        self.block, self.context = int(block), int(context)
        self.momentum, self.seed, self.lookahead, self.tol, self.gamma = momentum, int(seed), lookahead, tol, gamma
        self.keep = -(-self.cfg.n_fft // self.cfg.hop_length) - 1  # committed frames overlapping a new one
        self.blocks = 0
        self.frames = 0  # committed so far
        self._mag = torch.zeros(self.cfg.n_freqs, 0)  # pushed, not committed (dtype set by the first push)
        self._held: torch.Tensor | None = None  # the last `keep` committed frames (complex)
        self._guess: torch.Tensor | None = None  # last block's estimate of the first uncommitted frames
        self._ola: OverlapAddStream | None = None

    def push(self, magnitude: torch.Tensor) -> torch.Tensor:
        mag = check_magnitude(magnitude, self.cfg).to("cpu")
        if mag.dim() != 2:
            raise ConfigError(f"push magnitude frames of shape (freq, frames), got {tuple(mag.shape)}")
        if self._ola is None:  # the first push sets the precision (float32 unless float64 is given)
            self._mag, self._ola = mag[:, :0], OverlapAddStream(self.cfg, mag.dtype)
        self._mag = torch.cat([self._mag, mag], dim=-1)
        out = [torch.zeros(0)]
        while self._mag.shape[-1] >= self.block + self.context:
            out.append(self._step(self.block, self.block + self.context))
        return torch.cat(out)

    def finish(self, length: int) -> torch.Tensor:
        """Commit every frame left and return the remaining samples, ``length`` samples in all."""
        out = [torch.zeros(0)]
        if self._mag.shape[-1]:
            out.append(self._step(self._mag.shape[-1], self._mag.shape[-1]))
        if self._ola is None:
            raise ConfigError("no magnitude frames were pushed; push at least one before finish()")
        out.append(self._ola.finish(int(length)))
        return torch.cat(out)

    def _step(self, commit: int, solve: int) -> torch.Tensor:
        free = self._mag[:, :solve]
        held = self._held
        k = 0 if held is None else held.shape[-1]
        window = free if held is None else torch.cat([held.abs(), free], dim=-1)
        spec = self._solve(window, held)[:, k:]
        done = spec[:, :commit]
        self._guess = spec[:, commit:] if solve > commit else None
        if self.keep:
            self._held = (done if held is None else torch.cat([held, done], dim=-1))[:, -self.keep:]
        self._mag = self._mag[:, commit:]
        self.blocks += 1
        self.frames += commit
        return self._ola.push(done)

    def _solve(self, mag: torch.Tensor, held: torch.Tensor | None) -> torch.Tensor:
        """The complex spectrogram of one window ``(freq, k + new)`` whose first ``k`` frames are ``held``."""
        cfg, key = self.block_cfg, self.method
        if key == "rtisi":
            return rtisi_la(mag, cfg, n_iter=self.n_iter, lookahead=self.lookahead, return_spec=True, fixed=held)[1]
        if key == "learned":
            phase = self.predictor(mag).to(mag.dtype)
            if held is not None:
                phase[:, : held.shape[-1]] = held.angle()
        elif key.startswith("pghi"):
            phase = pghi_phase(mag, cfg, tol=self.tol, gamma=self.gamma, seed=self.seed, fixed=held)
            if key == "pghi":
                return torch.polar(mag, phase)
        else:
            gen = torch.Generator().manual_seed(self.seed * 1000003 + self.blocks)
            phase = (2 * torch.pi * torch.rand(mag.shape, generator=gen, dtype=torch.float64)).to(mag.dtype)
            k = 0 if held is None else held.shape[-1]
            if held is not None:
                phase[:, :k] = held.angle()
            if self._guess is not None:  # warm start: the last block's look-ahead estimate
                phase[:, k: k + self._guess.shape[-1]] = self._guess.angle()
        alpha = self.momentum if key.endswith("fgla") or key == "learned" else 0.0
        return fast_griffin_lim(mag, self.n_iter, cfg, momentum=alpha, init=phase, return_spec=True, fixed=held)[1]


def reconstruct_blockwise(magnitude: torch.Tensor, method: str = "fgla", n_iter: int | None = None,
                          config: STFTConfig | str = "mpsenet", length: int | None = None,
                          block: int | None = None, context: int | None = None, **kwargs) -> torch.Tensor:
    """:func:`cspec.phase.reconstruct` of one magnitude ``(freq, frames)`` through :class:`BlockReconstructor`.

    ``block`` / ``context`` default to :data:`BLOCK_SECONDS` / :data:`CONTEXT_SECONDS` in frames; other keyword
    arguments go to :class:`BlockReconstructor`.  Returns the waveform ``(samples,)``.
    """
    cfg = get_preset(config)
    mag = check_magnitude(magnitude, cfg)
    if mag.dim() != 2:
        raise ConfigError(f"block-wise reconstruction takes one magnitude (freq, frames), got {tuple(mag.shape)}")
    rec = BlockReconstructor(method, cfg, n_iter, block, context, **kwargs)
    n = signal_length(mag.shape[-1], cfg, length)
    parts = [rec.push(mag[:, i: i + rec.block]) for i in range(0, mag.shape[-1], rec.block)]
    return torch.cat(parts + [rec.finish(n)])
