"""Data of a recipe: datasets built from ``data.train`` / ``data.valid``, and an order that survives a crash.

The training order is a pure function of ``(seed, epoch)``: pass ``e`` is ``numpy.random.default_rng([seed,
e]).permutation(n)`` and global step ``s`` reads the ``s``-th global batch of that sequence (each DDP rank its own
slice of it). :class:`StepBatchSampler` therefore starts anywhere: a run resumed at step ``s`` sees exactly the
batches an uninterrupted run would have seen. Items are drawn by the datasets from ``(seed, index)`` (and the
epoch, for random crops), so they do not depend on workers either.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from cspec import data as cdata
from cspec.errors import ConfigError, DataError
from cspec.train.recipe import unknown_key
from cspec.train.schema import DataSource

__all__ = ["data_root", "build_dataset", "StepBatchSampler", "ValidSampler", "make_train_loader",
           "make_valid_loader"]

_READERS = {"paired": cdata.paired_folders, "manifest": cdata.read_manifest, "voicebank_demand": cdata.voicebank_demand,
            "dns_challenge": cdata.dns_challenge, "librimix": cdata.librimix, "wsj0mix": cdata.wsj0mix}


def data_root() -> Path:
    """``$CSPEC_DATA``, else ``<repo>/../shared/data`` (the shared development data)."""
    env = os.environ.get("CSPEC_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _expand(value):
    if isinstance(value, str):
        value = value.replace("${CSPEC_DATA}", str(data_root())).replace("$CSPEC_DATA", str(data_root()))
        return os.path.expanduser(os.path.expandvars(value))
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def _bind(fn, options: dict, path: str, skip: tuple = ()) -> dict:
    params = [p for p in inspect.signature(fn).parameters if p not in skip and p != "self"]
    for key in options:
        if key not in params:
            raise unknown_key(key, params, path)
    return {k: _expand(v) for k, v in options.items()}


class _Items(Dataset):
    """A dataset indexed by ``(epoch, index)`` that returns only ``mixture`` and ``targets`` (and ``length``)."""

    def __init__(self, dataset: Dataset, limit: int | None = None):
        self.dataset = dataset
        self.n = len(dataset) if limit is None else min(int(limit), len(dataset))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        item = self.dataset[index]
        length = item.get("length", item["mixture"].shape[-1])
        return {"mixture": item["mixture"], "targets": item["targets"], "length": int(length), "index": int(index)}


def build_dataset(source: DataSource, path: str, sr: int, n_sources: int, train: bool, seed: int) -> _Items:
    """The dataset of one ``data.train`` / ``data.valid`` section (``path`` names it in errors)."""
    opts = dict(source.options)
    if source.kind in ("simulated", "simulated_separation"):
        sep = source.kind == "simulated_separation"
        cls = cdata.SimulatedSeparationDataset if sep else cdata.SimulatedEnhancementDataset
        allowed = inspect.signature(cdata.SimulatedDataset.__init__).parameters
        names = [p for p in allowed if p not in ("self", "seconds", "sr", "config", "speech_items", "noise_items")]
        names += ["n_src"] if sep else []
        for key in opts:
            if key not in names:
                raise unknown_key(key, names, f"{path}.options")
        sim_fields = list(cdata.SimConfig.__dataclass_fields__)
        for key in source.sim:
            if key not in sim_fields:
                raise unknown_key(key, sim_fields, f"{path}.sim")
        if source.seconds is None:
            raise ConfigError(f"recipe key '{path}.seconds' must be a number for simulated data (item length)")
        opts = {k: _expand(v) for k, v in opts.items()}
        opts.setdefault("manifest", str(data_root()))
        opts.setdefault("seed", seed if train else seed + 1)
        if sep:
            opts.setdefault("n_src", n_sources)
        sim = {k: tuple(v) if isinstance(v, list) else v for k, v in source.sim.items()}
        try:
            dataset = cls(seconds=source.seconds, sr=sr, config=cdata.SimConfig(**sim) if sim else None, **opts)
        except TypeError as exc:
            raise ConfigError(f"recipe key '{path}': {exc}") from None
        return _Items(dataset, source.limit)
    reader = _READERS[source.kind]
    try:
        examples = reader(**_bind(reader, opts, f"{path}.options"))
    except TypeError as exc:
        raise ConfigError(f"recipe key '{path}.options': {exc}") from None
    dataset = cdata.PairedDataset(examples, sr=sr, seconds=source.seconds, random_crop=train, seed=seed)
    return _Items(dataset, source.limit)


class StepBatchSampler(Sampler):
    """Batches of ``(epoch, index)`` for global steps ``start .. total - 1`` of one rank (see module doc)."""

    def __init__(self, n_items: int, batch_size: int, seed: int, start: int, total: int, rank: int = 0,
                 world: int = 1):
        self.per_epoch = n_items // (batch_size * world)
        if self.per_epoch < 1:
            raise DataError(f"the training set has {n_items} items, fewer than one global batch of "
                            f"{batch_size} x {world} processes; lower data.batch_size or add data")
        self.n, self.batch, self.seed = n_items, batch_size, seed
        self.start, self.total, self.rank, self.world = start, total, rank, world

    def __len__(self) -> int:
        return max(0, self.total - self.start)

    def order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def __iter__(self):
        cached = (-1, None)
        for step in range(self.start, self.total):
            epoch, k = divmod(step, self.per_epoch)
            if cached[0] != epoch:
                cached = (epoch, self.order(epoch))
            base = (k * self.world + self.rank) * self.batch
            yield [(epoch, int(i)) for i in cached[1][base:base + self.batch]]


class ValidSampler(Sampler):
    """Fixed batches of the dev set: items ``rank, rank + world, ...`` in order."""

    def __init__(self, n_items: int, batch_size: int, rank: int = 0, world: int = 1):
        mine = list(range(rank, n_items, world))
        self.batches = [mine[i:i + batch_size] for i in range(0, len(mine), batch_size)]

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def _collate(items: list[dict]) -> dict:
    return {"mixture": torch.stack([it["mixture"] for it in items]),
            "targets": torch.stack([it["targets"] for it in items]),
            "length": torch.tensor([it["length"] for it in items]),
            "index": torch.tensor([it["index"] for it in items])}


def make_train_loader(dataset: _Items, batch_size: int, seed: int, start: int, total: int, rank: int, world: int,
                      workers: int) -> DataLoader:
    sampler = StepBatchSampler(len(dataset), batch_size, seed, start, total, rank, world)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=workers, collate_fn=_collate,
                      persistent_workers=workers > 0)


def make_valid_loader(dataset: _Items, batch_size: int, whole_files: bool, rank: int, world: int,
                      workers: int) -> DataLoader:
    sampler = ValidSampler(len(dataset), 1 if whole_files else batch_size, rank, world)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=workers, collate_fn=_collate)
