"""PyTorch datasets: simulated mixtures from the shared data's manifest, and pairs read from a corpus.

Every item is a dict of float32 tensors (``mixture`` of shape ``(samples,)``, ``targets`` of shape
``(n_targets, samples)``) plus a few numbers and strings describing it, so that the default ``collate_fn``
of ``torch.utils.data.DataLoader`` makes ``(batch, samples)`` and ``(batch, n_targets, samples)`` batches.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from cspec.audio import load
from cspec.data.corpora import Example
from cspec.data.cache import DecodedCache
from cspec.data.manifest import PoolItem, read_pool, speaker_identity
from cspec.data.pools import AudioCache, MixedSpeechPool, NoisePool, SpeechPool
from cspec.data.simulate import SimConfig, rng_for, simulate_enhancement, simulate_separation
from cspec.errors import DataError

__all__ = ["SimulatedDataset", "SimulatedEnhancementDataset", "SimulatedSeparationDataset", "PairedDataset",
           "subset_items", "speaker_splits", "default_data_root"]


_HELD = {"test": 2, "valid": 1, "train": 0}


def speaker_splits(items: Sequence[PoolItem]) -> dict[str, str]:
    """``{identity: split}`` of the items that carry a ``split`` (by :func:`speaker_identity`; a person listed
    in several splits gets the most held-out one: test, then valid)."""
    out: dict[str, str] = {}
    for it in items:
        if it.split:
            ident = speaker_identity(it.speaker)
            if ident not in out or _HELD.get(it.split, 0) > _HELD.get(out[ident], 0):
                out[ident] = it.split
    return out


def subset_items(items: Sequence[PoolItem], subset: str, valid_percent: float = 5.0,
                 splits: dict[str, str] | None = None, split_by: str = "path") -> list[PoolItem]:
    """The items of one subset: ``train``, ``valid``, ``all`` (train and valid) or ``test``.

    An item's split is its manifest's ``split`` column; else the split of its speaker's identity in ``splits``
    (see :func:`speaker_splits`: a person whom another manifest holds out is held out here too); else a fixed
    split by a hash (CRC-32) of its path as the manifest writes it (the same split wherever the data lies), or with ``split_by="speaker"`` of its speaker's identity (so that no
    person is in both, as a separation set needs), that puts about ``valid_percent`` % of the items (speakers) in
    ``valid`` and the rest in ``train``, independent of the order of rows. ``test`` items are never in ``train``, ``valid`` or
    ``all``; an item with neither a split nor a held-out speaker is never in ``test``.
    """
    if subset not in ("all", "train", "valid", "test"):
        raise DataError(f"unknown subset '{subset}'; use all, train, valid or test")
    if split_by not in ("path", "speaker"):
        raise DataError(f"split_by: 'path' or 'speaker', got {split_by!r}")
    splits = splits or {}

    def split_of(it: PoolItem) -> str:
        if it.split:
            return it.split
        if speaker_identity(it.speaker) in splits:
            return splits[speaker_identity(it.speaker)]
        key = speaker_identity(it.speaker) if split_by == "speaker" else (it.key or Path(it.path).as_posix())
        hashed = zlib.crc32(key.encode()) % 10000 < valid_percent * 100
        return "valid" if hashed else "train"

    if subset == "all":
        pick = [it for it in items if split_of(it) != "test"]
    else:
        pick = [it for it in items if split_of(it) == subset]
    if not pick:
        raise DataError(f"subset '{subset}' is empty (valid_percent={valid_percent}); raise valid_percent or "
                        "check the manifest's split column")
    return pick


def default_data_root() -> Path:
    """``$CSPEC_DATA``, else ``<repo>/../shared/data`` (what recipes call ``$CSPEC_DATA``)."""
    env = os.environ.get("CSPEC_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _path(value) -> str:
    value = str(value).replace("${CSPEC_DATA}", str(default_data_root())).replace("$CSPEC_DATA",
                                                                                  str(default_data_root()))
    return os.path.expanduser(os.path.expandvars(value))


_POOL_KEYS = ("manifest", "weight", "whole")


def _pool_spec(entry, i: int) -> tuple[str, float, bool]:
    """``(manifest, weight, whole)`` of one ``speech_pools`` entry: a path, or a mapping of those keys."""
    if isinstance(entry, (str, os.PathLike)):
        return _path(entry), 1.0, False
    if not isinstance(entry, dict) or "manifest" not in entry or set(entry) - set(_POOL_KEYS):
        raise DataError(f"speech_pools[{i}]: give a manifest path or a mapping of {', '.join(_POOL_KEYS)} "
                        f"(manifest required), got {entry!r}")
    try:
        weight = float(entry.get("weight", 1.0))
    except (TypeError, ValueError):
        raise DataError(f"speech_pools[{i}].weight: a number >= 0, got {entry.get('weight')!r}") from None
    whole = entry.get("whole", False)
    if not isinstance(whole, bool):
        raise DataError(f"speech_pools[{i}].whole: true or false, got {whole!r}")
    return _path(entry["manifest"]), weight, whole


def _more(manifests, kind: str, filters: dict) -> list[PoolItem]:
    """The ``kind`` rows of one pool manifest or of each of a list of them."""
    if isinstance(manifests, (str, os.PathLike)):
        manifests = [manifests]
    return [i for m in manifests for i in read_pool(m, kind, **filters)]


def _tensor(v):
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v.astype(np.float32))
    return v


class SimulatedDataset(Dataset):
    """Base of the simulated datasets: ``length`` items of ``seconds`` at ``sr``, item ``i`` drawn from
    :func:`cspec.data.simulate.rng_for` ``(seed, i)``.

    Args:
        manifest: the shared data's ``manifest.csv`` or its folder (ignored where both pools are given).
        seconds, sr, length, seed: duration and rate of every item, number of items, seed.
        config: the :class:`cspec.data.simulate.SimConfig` (defaults when ``None``).
        license, source, exclude_license: filters of :func:`cspec.data.manifest.read_pool`, on both pools.
        subset, valid_percent, split_by: ``all``, ``train``, ``valid`` or ``test`` speech items, rows without a
            split put in ``valid`` by a hash of their ``path`` or of their ``speaker`` (see :func:`subset_items`).
        speech_items, noise_items: pools given directly instead of read from the manifest.
        use_noise_files: read the manifest's noise files (else only generated noise is used).
        noise_manifests: more pool manifests (or their folders) whose noise rows join the noise pool, e.g. the
            one ``recipes/pool/debian_noise.py`` writes.
        speech_manifests: more pool manifests (or their folders) whose clean-speech rows join the speech pool
            (before the train/valid split), e.g. the one ``recipes/pool/debian_speech.py`` writes.
        speech_pools: several speech pools drawn by weight instead (:class:`cspec.data.pools.MixedSpeechPool`):
            each a manifest path or ``{manifest: PATH, weight: W, whole: BOOL}`` (weight 1 and not whole unless
            given; ``whole`` pools of sentences are cropped or padded, never concatenated). Paths may use
            ``$CSPEC_DATA``. ``manifest`` then gives the noise only.
        decode_cache: where compressed files (Ogg Opus ...) are decoded once (:mod:`cspec.data.cache`): ``True``
            for ``$CSPEC_CACHE/decoded`` or ``~/.cache/cspec/decoded``, a folder, or ``False`` to decode on
            every read.

    Subsets (see :func:`subset_items`): a manifest's ``split`` column keeps its speakers apart (``train`` items
    for training, ``valid`` for validation, ``test`` never in either), and a person it holds out is held out of
    the other pools too; rows without a split fall back on the hash of their path. Noise rows whose ``split`` is
    ``test`` (held out for a dev set) are left out of every subset but ``test``.
    """

    def __init__(self, manifest: str | os.PathLike | None = None, seconds: float = 4.0, sr: int = 16000,
                 length: int = 10000, seed: int = 0, config: SimConfig | None = None,
                 license=None, source=None, exclude_license=None, subset: str = "all",
                 valid_percent: float = 5.0, speech_items: Sequence[PoolItem] | None = None,
                 noise_items: Sequence[PoolItem] | None = None, use_noise_files: bool = True,
                 noise_manifests: Sequence[str | os.PathLike] = (),
                 speech_manifests: Sequence[str | os.PathLike] = (),
                 speech_pools: Sequence[str | os.PathLike | dict] = (),
                 decode_cache: bool | str | os.PathLike = True, split_by: str = "path"):
        if seconds <= 0 or length <= 0 or sr <= 0:
            raise DataError(f"seconds, length and sr must be positive, got {seconds}, {length}, {sr}")
        if manifest is None and ((speech_items is None and not speech_pools)
                                 or (use_noise_files and noise_items is None)):
            raise DataError("give the shared data's manifest.csv (or its folder), or the pools themselves")
        if speech_pools and (speech_items is not None or speech_manifests):
            raise DataError("give speech_pools, or speech_items / speech_manifests, not both")
        filters = dict(license=license, source=source, exclude_license=exclude_license)
        if use_noise_files and noise_items is None:
            noise_items = read_pool(manifest, "noise", **filters)
        if use_noise_files and noise_manifests:
            noise_items = list(noise_items) + _more(noise_manifests, "noise", filters)
        decoded = None
        if decode_cache is not False and decode_cache is not None:
            decoded = DecodedCache(None if decode_cache is True else _path(decode_cache), sr)
        cache = AudioCache(sr, decoded=decoded)
        if speech_pools:
            specs = [_pool_spec(e, i) for i, e in enumerate(speech_pools)]
            lists = [read_pool(m, "speech", **filters) for m, _, _ in specs]
            splits = speaker_splits([it for items in lists for it in items])
            chosen = []
            for (m, weight, whole), items in zip(specs, lists):
                try:
                    chosen.append((subset_items(items, subset, valid_percent, splits, split_by), weight, whole))
                except DataError as exc:
                    raise DataError(f"{m}: {exc}") from None
            self.speech = MixedSpeechPool(chosen, sr, cache)
        else:
            if speech_items is None:
                speech_items = read_pool(manifest, "speech", **filters)
            if speech_manifests:
                speech_items = list(speech_items) + _more(speech_manifests, "speech", filters)
            splits = speaker_splits(speech_items)
            self.speech = SpeechPool(subset_items(speech_items, subset, valid_percent, splits, split_by), sr,
                                     cache)
        if use_noise_files and subset != "test":
            noise_items = [it for it in noise_items if it.split != "test"]
        self.noise = NoisePool(noise_items, sr, cache) if use_noise_files else None
        self.config = config or SimConfig()
        self.n, self.sr, self.length, self.seed = int(round(seconds * sr)), int(sr), int(length), int(seed)

    def __len__(self) -> int:
        return self.length

    def _check(self, index: int) -> np.random.Generator:
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of {self.length} items")
        return rng_for(self.seed, index % self.length)


class SimulatedEnhancementDataset(SimulatedDataset):
    """Noisy/clean pairs simulated on the fly (:func:`cspec.data.simulate.simulate_enhancement`):
    ``mixture`` (samples,), ``targets`` (1, samples), ``noise`` (samples,), ``snr_db``, ``level_db``,
    ``rt60``, ``bandwidth``, ``speaker``, ``noise_type``."""

    def __getitem__(self, index: int) -> dict:
        out = simulate_enhancement(self._check(index), self.n, self.speech, self.noise, self.config)
        return {k: _tensor(v) for k, v in out.items()}


class SimulatedSeparationDataset(SimulatedDataset):
    """Mixtures of ``n_src`` distinct speakers (:func:`cspec.data.simulate.simulate_separation`):
    ``mixture`` (samples,), ``targets`` (n_src, samples), ``levels_db`` (n_src,), ``speakers`` (ids joined
    by ``;``), ``rt60``, ``bandwidth`` (and ``noise``, ``snr_db`` when ``config.separation_snr`` is set)."""

    def __init__(self, manifest=None, n_src: int = 2, **kwargs):
        kwargs.setdefault("use_noise_files", kwargs.get("config") is not None
                          and kwargs["config"].separation_snr is not None)
        super().__init__(manifest, **kwargs)
        if not 2 <= n_src <= self.speech.persons():
            raise DataError(f"n_src={n_src}: need 2 <= n_src <= the {self.speech.persons()} distinct speakers of "
                            "the pool")
        self.n_src = int(n_src)

    def __getitem__(self, index: int) -> dict:
        out = simulate_separation(self._check(index), self.n, self.n_src, self.speech, self.noise, self.config)
        return {k: _tensor(v) for k, v in out.items()}


class PairedDataset(Dataset):
    """Examples of a corpus reader or manifest, loaded with :func:`cspec.audio.load` (mono, resampled to
    ``sr``).

    With ``seconds`` every item has that length: a longer file is cropped (at a random offset drawn from
    ``rng_for(seed, epoch, index)`` when ``random_crop``, else at ``offset`` seconds, clipped to the file), a
    shorter one zero-padded at the end; ``length`` holds the number of real samples. Without ``seconds`` the
    whole file is returned (batch size 1, or a collate function that pads). Items: ``mixture`` (samples,),
    ``targets`` (n, samples), ``length``, ``name``. Call :meth:`set_epoch` to draw new random crops.
    """

    def __init__(self, examples: Sequence[Example], sr: int = 16000, seconds: float | None = None,
                 random_crop: bool = True, offset: float = 0.0, seed: int = 0, max_mismatch: float = 0.1):
        if not examples:
            raise DataError("PairedDataset: no examples; check the corpus reader's root and split")
        if seconds is not None and seconds <= 0:
            raise DataError(f"seconds must be positive or None, got {seconds}")
        self.examples, self.sr, self.random_crop = list(examples), int(sr), bool(random_crop)
        self.n = None if seconds is None else int(round(seconds * sr))
        self.offset, self.seed, self.epoch, self.max_mismatch = float(offset), int(seed), 0, float(max_mismatch)

    def set_epoch(self, epoch: int) -> None:
        """Make the random crops of the following items depend on ``epoch`` (call once per epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict:
        ex = self.examples[index]
        waves = [load(p, sr=self.sr, mono=True)[0][0] for p in (ex.mixture, *ex.targets)]
        lengths = [len(w) for w in waves]
        n = min(lengths)
        if max(lengths) - n > self.max_mismatch * max(lengths):
            raise DataError(f"{ex.name}: mixture and targets differ in length ({lengths} samples at {self.sr} Hz); "
                            "is the pairing right? (raise max_mismatch to accept it)")
        sig = torch.stack([w[:n] for w in waves])
        valid = n
        if self.n is not None:
            if n > self.n:
                if self.random_crop:
                    start = int(rng_for(self.seed, self.epoch, index % len(self)).integers(0, n - self.n + 1))
                else:
                    start = min(int(round(self.offset * self.sr)), n - self.n)
                sig, valid = sig[:, start:start + self.n], self.n
            elif n < self.n:
                sig = torch.nn.functional.pad(sig, (0, self.n - n))
        return {"mixture": sig[0].contiguous(), "targets": sig[1:].contiguous(), "length": valid,
                "name": ex.name}
