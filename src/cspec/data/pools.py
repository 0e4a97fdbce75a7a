"""Pools of audio for on-the-fly simulation: speech grouped by speaker, and noise files.

Both read their files with :func:`cspec.audio.load` (mono, resampled to the pool's rate) and keep the most
recently used ones in a small in-memory cache; compressed files (Ogg Opus ...) are decoded once into a
:class:`cspec.data.cache.DecodedCache` and read back as memory maps. All random choices come from the
``numpy.random.Generator`` passed in, so that a draw depends on that generator only (see
:func:`cspec.data.simulate.rng_for`).

:class:`MixedSpeechPool` draws from several speech pools at once, each with its weight, e.g. the shared data's
words and digits beside the read sentences of ``speech_read``.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Sequence

import numpy as np

from cspec.audio import load
from cspec.data.cache import DecodedCache
from cspec.data.manifest import PoolItem, speaker_identity
from cspec.errors import DataError

__all__ = ["AudioCache", "SpeechPool", "MixedSpeechPool", "NoisePool", "fit_length", "pick_weighted"]


def pick_weighted(rng: np.random.Generator, keys: list[str], weights: dict) -> str:
    """One of ``keys`` drawn with probability proportional to ``weights[key]``."""
    w = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


class AudioCache:
    """Least-recently-used cache of mono float32 signals at one sample rate, keyed by path.

    With ``decoded``, the files it handles (compressed ones) come from that :class:`DecodedCache` as read-only
    float16 memory maps instead, outside the in-memory cache: the operating system's page cache keeps them, once
    for every DataLoader worker, and a crop reads only its own samples.
    """

    def __init__(self, sr: int, max_items: int = 2048, decoded: DecodedCache | None = None):
        self.sr, self.max_items = int(sr), int(max_items)
        self._store: OrderedDict = OrderedDict()
        if decoded is not None and decoded.sr != self.sr:
            raise DataError(f"the decode cache is at {decoded.sr} Hz, the pool at {self.sr} Hz")
        self.decoded = decoded

    def __call__(self, path) -> np.ndarray:
        if self.decoded is not None and self.decoded.handles(path):
            return self.decoded(path)
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

    With ``whole`` the items are whole sentences and never concatenated: an utterance is one item, a random
    ``n``-sample crop of it when it is longer, else the item at a random offset in ``n`` samples of silence
    (the sentence keeps its own pauses and the silence around it, as in a recording of one sentence).
    """

    def __init__(self, items: Sequence[PoolItem], sr: int, cache: AudioCache | None = None, whole: bool = False):
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
        #: the speakers whose items are used whole (see the class docstring)
        self.whole: set[str] = set(self.speakers) if whole else set()

    def __len__(self) -> int:
        return len(self.speakers)

    def draw_speaker(self, rng: np.random.Generator, kinds: dict | None = None) -> str:
        """A speaker drawn uniformly, or with ``kinds`` a manifest kind drawn by its weight and then one of that
        kind's speakers uniformly; kinds the pool lacks (a small validation split may) are left out."""
        return _draw(self.speakers, self.by_kind, rng, kinds)

    def persons(self) -> int:
        """How many distinct persons (:func:`speaker_identity`) the pool's speaker ids name."""
        return len({speaker_identity(s) for s in self.speakers})

    def draw_distinct(self, rng: np.random.Generator, k: int, kinds: dict | None = None) -> list[str]:
        """``k`` speakers of ``k`` different persons, each drawn as :meth:`draw_speaker` draws one (so by pool
        weight in a :class:`MixedSpeechPool`), a draw whose person is already taken being drawn again; the
        sources of a separation mixture (two ids of one person, e.g. ``ljspeech`` and ``ljspeech-lj``, never
        make one mixture)."""
        if not 1 <= k <= self.persons():
            raise DataError(f"need {k} distinct speakers; the pool has {self.persons()} persons")
        out, taken = [], set()
        for _ in range(k):
            for _ in range(1000):
                spk = self.draw_speaker(rng, kinds)
                if speaker_identity(spk) not in taken:
                    break
            else:
                raise DataError(f"could not draw {k} distinct persons in 1000 tries; the pools' weights leave "
                                "too few speakers (raise the weight of a larger pool)")
            out.append(spk)
            taken.add(speaker_identity(spk))
        return out

    def draw_others(self, rng: np.random.Generator, talkers: tuple[int, int], exclude: Sequence[str]) -> list[str]:
        """Distinct speakers other than ``exclude``, as many as drawn uniformly in ``talkers`` (at most all of
        them; fewer than 2 raise), for babble. A speaker is excluded by :func:`speaker_identity`: the person
        behind an id of ``exclude`` is left out under any of their ids."""
        gone = {speaker_identity(s) for s in exclude}
        others = [s for s in self.speakers if speaker_identity(s) not in gone]
        k = min(int(rng.integers(talkers[0], talkers[1] + 1)), len(others))
        _enough(k)
        return [others[j] for j in rng.choice(len(others), k, replace=False)]

    def utterance(self, speaker: str, n: int, rng: np.random.Generator,
                  gap: tuple[float, float] = (0.05, 0.3)) -> np.ndarray:
        """``n`` samples (float64) of ``speaker``'s items, concatenated with random gaps and cropped."""
        items = self.by_speaker.get(speaker)
        if not items:
            raise DataError(f"unknown speaker '{speaker}' in the speech pool")
        if speaker in self.whole:
            return self._sentence(items, n, rng)
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

    def _sentence(self, items: list[PoolItem], n: int, rng: np.random.Generator) -> np.ndarray:
        wave = self.load(items[int(rng.integers(0, len(items)))].path)
        if len(wave) == 0:
            raise DataError("cannot cut a segment from an empty signal")
        if len(wave) >= n:
            start = int(rng.integers(0, len(wave) - n + 1))
            return np.asarray(wave[start:start + n], dtype=np.float64)
        out = np.zeros(n)
        start = int(rng.integers(0, n - len(wave) + 1))
        out[start:start + len(wave)] = wave
        return out


def _enough(k: int) -> None:
    if k < 2:
        raise DataError("babble needs at least 2 speakers besides the target ones; add speakers or "
                        "set noise_types without 'babble'")


def _draw(speakers: list[str], by_kind: dict, rng: np.random.Generator, kinds: dict | None) -> str:
    if not kinds:
        return speakers[int(rng.integers(0, len(speakers)))]
    present = [k for k, w in kinds.items() if w > 0 and k in by_kind]
    if not present:
        raise DataError(f"SimConfig.speech_kinds: no speaker of kind {sorted(kinds)} in the pool; "
                        f"its kinds: {sorted(by_kind)}")
    of_kind = by_kind[pick_weighted(rng, present, kinds)]
    return of_kind[int(rng.integers(0, len(of_kind)))]


class MixedSpeechPool(SpeechPool):
    """Several speech pools as one: ``pools`` is a list of ``(items, weight, whole)``.

    A target speaker is drawn by first drawing a pool with probability proportional to its weight, then a speaker
    of that pool as :meth:`SpeechPool.draw_speaker` does (by ``kinds`` where the pool has one of them, else
    uniformly). Babble talkers are drawn the same way, one after the other, without repeating a talker, from
    the pools that have talkers left. Each pool's items are used ``whole`` or concatenated (see
    :class:`SpeechPool`). A speaker id may belong to one pool only.
    """

    def __init__(self, pools: Sequence[tuple[Sequence[PoolItem], float, bool]], sr: int,
                 cache: AudioCache | None = None):
        if not pools:
            raise DataError("no speech pool given")
        owner: dict[str, int] = {}
        for i, (items, weight, _) in enumerate(pools):
            if not items:
                raise DataError(f"speech pool {i + 1} is empty; check its manifest, filters and subset")
            if not weight >= 0:
                raise DataError(f"speech pool {i + 1}: the weight must be >= 0, got {weight}")
            for spk in {it.speaker for it in items}:
                if owner.setdefault(spk, i) != i:
                    raise DataError(f"speaker '{spk}' is in speech pools {owner[spk] + 1} and {i + 1}; "
                                    "list each pool once")
        weights = np.array([float(w) for _, w, _ in pools])
        if weights.sum() <= 0:
            raise DataError("the speech pools' weights are all 0")
        super().__init__([it for items, _, _ in pools for it in items], sr, cache)
        self.weights = weights / weights.sum()
        self.pools = [sorted({it.speaker for it in items}) for items, _, _ in pools]
        self.pool_kinds = [{} for _ in pools]
        for spk_list, by_kind in zip(self.pools, self.pool_kinds):
            for spk in spk_list:
                by_kind.setdefault(self.kind_of[spk], []).append(spk)
        self.whole = {s for (_, _, whole), spk_list in zip(pools, self.pools) if whole for s in spk_list}

    def draw_speaker(self, rng: np.random.Generator, kinds: dict | None = None) -> str:
        i = int(rng.choice(len(self.pools), p=self.weights))
        by_kind = self.pool_kinds[i]
        if kinds and not any(w > 0 and k in by_kind for k, w in kinds.items()):
            kinds = None
        return _draw(self.pools[i], by_kind, rng, kinds)

    def draw_others(self, rng: np.random.Generator, talkers: tuple[int, int], exclude: Sequence[str]) -> list[str]:
        gone = {speaker_identity(s) for s in exclude}
        left = [[s for s in spk if speaker_identity(s) not in gone] if w > 0 else []
                for spk, w in zip(self.pools, self.weights)]
        k = min(int(rng.integers(talkers[0], talkers[1] + 1)), sum(map(len, left)))
        _enough(k)
        out = []
        for _ in range(k):
            w = np.array([wt if spk else 0.0 for wt, spk in zip(self.weights, left)])
            i = int(rng.choice(len(left), p=w / w.sum()))
            out.append(left[i].pop(int(rng.integers(0, len(left[i])))))
        return out


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
