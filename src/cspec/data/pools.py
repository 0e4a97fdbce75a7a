"""Pools of audio for on-the-fly simulation: speech grouped by speaker, and noise files.

Both read their files with :func:`cspec.audio.load` (mono, resampled to the pool's rate) and keep the most
recently used ones in a small in-memory cache. All random choices come from the ``numpy.random.Generator``
passed in, so that a draw depends on that generator only (see :func:`cspec.data.simulate.rng_for`).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Sequence

import numpy as np

from cspec.audio import load
from cspec.data.manifest import PoolItem
from cspec.errors import DataError

__all__ = ["AudioCache", "SpeechPool", "NoisePool", "fit_length"]


class AudioCache:
    """Least-recently-used cache of mono float32 signals at one sample rate, keyed by path."""

    def __init__(self, sr: int, max_items: int = 2048):
        self.sr, self.max_items = int(sr), int(max_items)
        self._store: OrderedDict = OrderedDict()

    def __call__(self, path) -> np.ndarray:
        key = str(path)
        if key in self._store:
            self._store.move_to_end(key)
            return self._store[key]
        wave, _ = load(path, sr=self.sr, mono=True)
        out = wave[0].numpy().astype(np.float32)
        self._store[key] = out
        if len(self._store) > self.max_items:
            self._store.popitem(last=False)
        return out


def fit_length(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``x``: a random crop when it is longer, else ``x`` looped from a random start."""
    if len(x) == 0:
        raise DataError("cannot cut a segment from an empty signal")
    if len(x) >= n:
        start = int(rng.integers(0, len(x) - n + 1))
        return x[start:start + n]
    start = int(rng.integers(0, len(x)))
    return np.resize(np.roll(x, -start), n)


class SpeechPool:
    """Clean speech items grouped by speaker id; :meth:`utterance` assembles utterances of one speaker.

    Most items of the shared data are a word, a letter or a digit, so an utterance of ``n`` samples is built
    by concatenating randomly chosen items of the same speaker with silent gaps between them (uniform in
    ``gap`` seconds) until it is long enough, then taking a random ``n``-sample crop of the result. The DNS
    Challenge synthesizer (Reddy et al., 2020) builds its clean segments the same way: clips concatenated
    with silences until the segment length is reached. The items are drawn with replacement.
    """

    def __init__(self, items: Sequence[PoolItem], sr: int, cache: AudioCache | None = None):
        if not items:
            raise DataError("the speech pool is empty; check the manifest and its filters")
        self.sr = int(sr)
        self.by_speaker: dict[str, list[PoolItem]] = {}
        for it in items:
            self.by_speaker.setdefault(it.speaker, []).append(it)
        self.speakers = sorted(self.by_speaker)
        self.load = cache or AudioCache(sr)
        #: each speaker's manifest kind (the most common one among its items), e.g. "clean words"
        self.kind_of = {spk: Counter(it.kind for it in its).most_common(1)[0][0]
                        for spk, its in self.by_speaker.items()}
        #: the speakers of each kind, in the order of :attr:`speakers`
        self.by_kind: dict[str, list[str]] = {}
        for spk in self.speakers:
            self.by_kind.setdefault(self.kind_of[spk], []).append(spk)

    def __len__(self) -> int:
        return len(self.speakers)

    def utterance(self, speaker: str, n: int, rng: np.random.Generator,
                  gap: tuple[float, float] = (0.05, 0.3)) -> np.ndarray:
        """``n`` samples (float64) of ``speaker``'s items, concatenated with random gaps and cropped."""
        items = self.by_speaker.get(speaker)
        if not items:
            raise DataError(f"unknown speaker '{speaker}' in the speech pool")
        pieces, total = [], 0
        while total < n:
            if pieces:
                silence = np.zeros(int(round(rng.uniform(*gap) * self.sr)))
                pieces.append(silence)
                total += len(silence)
            wave = self.load(items[int(rng.integers(0, len(items)))].path)
            pieces.append(wave)
            total += len(wave)
        return fit_length(np.concatenate(pieces).astype(np.float64), n, rng)


class NoisePool:
    """Noise files; :meth:`segment` returns a random crop (or a loop of a short file) of a random file."""

    def __init__(self, items: Sequence[PoolItem], sr: int, cache: AudioCache | None = None):
        if not items:
            raise DataError("the noise pool is empty; check the manifest and its filters")
        self.items, self.sr = list(items), int(sr)
        self.load = cache or AudioCache(sr)

    def __len__(self) -> int:
        return len(self.items)

    def segment(self, n: int, rng: np.random.Generator) -> np.ndarray:
        item = self.items[int(rng.integers(0, len(self.items)))]
        return fit_length(self.load(item.path), n, rng).astype(np.float64)
