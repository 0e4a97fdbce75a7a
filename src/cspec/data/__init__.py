"""Data for training and evaluation: corpus readers, manifests, on-the-fly simulation, datasets.

* :mod:`cspec.data.corpora` lists the examples of VoiceBank+DEMAND, DNS Challenge, LibriMix, WSJ0-2mix/3mix
  and plain paired folders; :mod:`cspec.data.manifest` reads and writes CSV/JSONL manifests and the shared
  data's ``manifest.csv``; :mod:`cspec.data.cache` keeps decoded copies of compressed (Ogg Opus) pool files.
* :mod:`cspec.data.simulate` mixes speech, noise (:mod:`~cspec.data.noise`) and reverberation
  (:mod:`~cspec.data.reverb`) on the fly, seeded per item.
* :mod:`cspec.data.datasets` wraps both in ``torch.utils.data.Dataset`` classes.
"""

from cspec.data.cache import DecodedCache
from cspec.data.corpora import Example, dns_challenge, librimix, paired_folders, voicebank_demand, wsj0mix
from cspec.data.datasets import (PairedDataset, SimulatedDataset, SimulatedEnhancementDataset,
                                 SimulatedSeparationDataset, speaker_splits, subset_items)
from cspec.data.manifest import PoolItem, read_manifest, read_pool, speaker_identity, write_manifest
from cspec.data.noise import babble, change_speed, coloured_noise, random_eq, shaped_noise, tonal_noise
from cspec.data.pools import MixedSpeechPool, NoisePool, SpeechPool
from cspec.data.reverb import Room, reverberate, room_rirs, sample_room
from cspec.data.simulate import SimConfig, band_limit, rng_for, simulate_enhancement, simulate_separation
from cspec.errors import DataError

__all__ = [
    "Example", "voicebank_demand", "dns_challenge", "librimix", "wsj0mix", "paired_folders",
    "read_manifest", "write_manifest", "read_pool", "PoolItem", "speaker_identity", "speaker_splits",
    "DecodedCache", "MixedSpeechPool",
    "SimConfig", "rng_for", "band_limit", "simulate_enhancement", "simulate_separation",
    "coloured_noise", "babble", "shaped_noise", "random_eq", "change_speed", "tonal_noise", "Room", "sample_room", "room_rirs", "reverberate", "SpeechPool", "NoisePool",
    "SimulatedDataset", "SimulatedEnhancementDataset", "SimulatedSeparationDataset", "PairedDataset",
    "subset_items", "DataError",
]
