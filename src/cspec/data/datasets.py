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
from cspec.data.manifest import PoolItem, read_pool
from cspec.data.pools import AudioCache, NoisePool, SpeechPool
from cspec.data.simulate import SimConfig, rng_for, simulate_enhancement, simulate_separation
from cspec.errors import DataError

__all__ = ["SimulatedDataset", "SimulatedEnhancementDataset", "SimulatedSeparationDataset", "PairedDataset",
           "subset_items"]


def subset_items(items: Sequence[PoolItem], subset: str, valid_percent: float = 5.0) -> list[PoolItem]:
    """A fixed split of pool items by a hash of their path (CRC-32): ``valid`` holds about ``valid_percent``
    % of the items, ``train`` the rest, ``all`` every item. The split does not depend on the order of rows."""
    if subset == "all":
        return list(items)
    if subset not in ("train", "valid"):
        raise DataError(f"unknown subset '{subset}'; use all, train or valid")
    pick = [it for it in items
            if (zlib.crc32(Path(it.path).as_posix().encode()) % 10000 < valid_percent * 100) == (subset == "valid")]
    if not pick:
        raise DataError(f"subset '{subset}' is empty with valid_percent={valid_percent}; raise it")
    return pick


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
        subset, valid_percent: ``all``, ``train`` or ``valid`` speech items (see :func:`subset_items`).
        speech_items, noise_items: pools given directly instead of read from the manifest.
        use_noise_files: read the manifest's noise files (else only generated noise is used).
        noise_manifests: more pool manifests (or their folders) whose noise rows join the noise pool, e.g. the
            one ``recipes/pool/debian_noise.py`` writes.
        speech_manifests: more pool manifests (or their folders) whose clean-speech rows join the speech pool
            (before the train/valid split), e.g. the one ``recipes/pool/debian_speech.py`` writes.
    """

    def __init__(self, manifest: str | os.PathLike | None = None, seconds: float = 4.0, sr: int = 16000,
                 length: int = 10000, seed: int = 0, config: SimConfig | None = None,
                 license=None, source=None, exclude_license=None, subset: str = "all",
                 valid_percent: float = 5.0, speech_items: Sequence[PoolItem] | None = None,
                 noise_items: Sequence[PoolItem] | None = None, use_noise_files: bool = True,
                 noise_manifests: Sequence[str | os.PathLike] = (),
                 speech_manifests: Sequence[str | os.PathLike] = ()):
        if seconds <= 0 or length <= 0 or sr <= 0:
            raise DataError(f"seconds, length and sr must be positive, got {seconds}, {length}, {sr}")
        if manifest is None and (speech_items is None or (use_noise_files and noise_items is None)):
            raise DataError("give the shared data's manifest.csv (or its folder), or the pools themselves")
        filters = dict(license=license, source=source, exclude_license=exclude_license)
        if speech_items is None:
            speech_items = read_pool(manifest, "speech", **filters)
        if use_noise_files and noise_items is None:
            noise_items = read_pool(manifest, "noise", **filters)
        if speech_manifests:
            speech_items = list(speech_items) + _more(speech_manifests, "speech", filters)
        if use_noise_files and noise_manifests:
            noise_items = list(noise_items) + _more(noise_manifests, "noise", filters)
        cache = AudioCache(sr)
        self.speech = SpeechPool(subset_items(speech_items, subset, valid_percent), sr, cache)
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
        if not 2 <= n_src <= len(self.speech):
            raise DataError(f"n_src={n_src}: need 2 <= n_src <= the {len(self.speech)} speakers of the pool")
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
