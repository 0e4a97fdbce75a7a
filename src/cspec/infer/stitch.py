"""Long mixtures in overlapping chunks for a separation model, with the speakers kept in the same outputs.

A separation model names its outputs in no particular order (it is trained with permutation-invariant training,
Yu et al. 2017), so chunk ``k`` may give speaker A in output 1 and chunk ``k + 1`` in output 2. Continuous speech
separation solves this by *stitching* (Yoshioka et al. 2018, "Recognizing overlapped speech in meetings: a
multichannel separation approach using neural networks", Interspeech; Chen et al. 2020, "Continuous speech
separation: dataset and analysis", ICASSP): consecutive windows overlap, and the outputs of each new window are
reordered so that they match the previous window's outputs on the shared samples. Here the order ``p`` of chunk
``k + 1`` is

    p* = argmax_p  sum_i < a_i , b_p(i) >                                   (a: previous, b: new, over the overlap)

the sum of inner products, which is the least total squared error ``sum_i || a_i - b_p(i) ||^2`` (the norms do
not depend on ``p``). A source silent in the overlap scores zero with any output, so a speaker who talks alone
decides the order, as in turn-taking; when every output is silent on an overlap (nobody talks for the whole
overlap) nothing tells the orders apart and the current one is kept. All ``C!`` orders are tried (2 for two
speakers, 24 for four).

After the reorder, the chunks are joined as in :mod:`cspec.infer.chunked`: ``L``-sample chunks with hop
``H = L - O``, the previous chunk fading out with ``cos^2`` and the new one fading in with ``sin^2`` over the
``O`` shared samples. Memory holds one chunk of input, its ``C`` outputs and ``O`` samples of pending overlap,
whatever the length of the signal.
"""

from __future__ import annotations

import itertools
from typing import Callable

import torch

from cspec.errors import ConfigError
from cspec.infer.chunked import crossfade

__all__ = ["best_permutation", "StitchedRunner"]


def best_permutation(prev: torch.Tensor, new: torch.Tensor) -> tuple[int, ...]:
    """The order ``p`` of the rows of ``new`` (``(C, n)``) maximising ``sum_i <prev_i, new_p(i)>``; on a tie
    the identity (or the earliest order in ``itertools.permutations``) is kept."""
    if prev.shape != new.shape or prev.dim() != 2:
        raise ConfigError(f"cannot align outputs of shapes {tuple(prev.shape)} and {tuple(new.shape)}")
    score = prev.double() @ new.double().T  # score[i, j] = <prev_i, new_j>
    c = score.shape[0]
    best, best_value = tuple(range(c)), float(score.diagonal().sum())
    for perm in itertools.permutations(range(c)):
        value = float(score[torch.arange(c), torch.tensor(perm)].sum())
        if value > best_value * (1 + 1e-9) + 1e-12:
            best, best_value = perm, value
    return best


class StitchedRunner:
    """Run a separator ``fn`` (``(1, n) -> (C, n)``) over a mono signal pushed in pieces, chunk by chunk.

    ``push(x)`` takes ``(1, m)`` samples and returns the ``(C, k)`` output samples finished so far; ``finish()``
    runs the last, shorter chunk and returns the rest. A signal no longer than one chunk is separated in one call
    of ``fn``, exactly as a whole. ``orders`` records the permutation applied to each chunk.
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], chunk: int, overlap: int, n_sources: int) -> None:
        if chunk < 1 or overlap < 0 or 2 * overlap > chunk:
            raise ConfigError(f"need chunk >= 1 and 0 <= overlap <= chunk / 2, got {chunk} and {overlap}")
        if overlap == 0:
            raise ConfigError("separating in chunks needs an overlap > 0 to keep the speakers in order")
        self.fn, self.chunk, self.overlap, self.hop = fn, int(chunk), int(overlap), int(chunk - overlap)
        self.n_sources = int(n_sources)
        self.fade_in, self.fade_out = crossfade(self.overlap)
        self._buf: torch.Tensor | None = None  # input from the start of the next chunk
        self._prev: torch.Tensor | None = None  # the previous chunk's (reordered) output on the next overlap
        self.orders: list[tuple[int, ...]] = []

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fn(x)
        if y.shape != (self.n_sources, x.shape[-1]):
            raise ConfigError(f"the model returned shape {tuple(y.shape)} for a chunk of {x.shape[-1]} samples; "
                              f"expected ({self.n_sources}, {x.shape[-1]})")
        if self._prev is not None:  # reorder the new outputs to the previous chunk's on the shared samples
            o = min(self.overlap, y.shape[-1])
            order = best_permutation(self._prev[:, :o], y[:, :o])
            y = y[list(order)]
            self.orders.append(order)
            faded = self._prev[:, :o] * self.fade_out[:o] + y[:, :o] * self.fade_in[:o]
            y = torch.cat([faded, y[:, o:]], dim=-1)
        else:
            self.orders.append(tuple(range(self.n_sources)))
        return y

    def push(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().reshape(1, -1)
        self._buf = x if self._buf is None else torch.cat([self._buf, x], dim=-1)
        outs = []
        while self._buf.shape[-1] > self.chunk:  # strictly: a signal of exactly one chunk runs whole in finish()
            y = self._run(self._buf[:, : self.chunk])
            outs.append(y[:, : self.hop])
            # the next chunk aligns with and fades against this one's last O samples, which the crossfade of
            # this chunk's head did not touch (H >= O)
            self._prev = y[:, self.hop:].clone()
            self._buf = self._buf[:, self.hop:]
        if not outs:
            return x.new_zeros(self.n_sources, 0)
        return torch.cat(outs, dim=-1)

    def finish(self) -> torch.Tensor:
        """The output of the samples still pending (the last chunk); the runner is then empty."""
        if self._buf is None:
            raise ConfigError("nothing was pushed: the signal is empty")
        buf, self._buf = self._buf, None
        if buf.shape[-1] == 0:
            return buf.new_zeros(self.n_sources, 0)
        y = self._run(buf)
        self._prev = None
        return y
