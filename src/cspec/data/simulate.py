"""On-the-fly mixing for enhancement and separation, seeded per item.

Every draw of item ``i`` comes from ``numpy.random.default_rng([seed, i])`` (:func:`rng_for`), so item ``i``
is the same on any DataLoader worker, in any order, on any machine with the same files.

Enhancement (:func:`simulate_enhancement`), the recipe of the DNS Challenge synthesizer (Reddy et al., 2020,
"The INTERSPEECH 2020 Deep Noise Suppression Challenge"): an utterance of one speaker, optionally reverberated
(:mod:`cspec.data.reverb`), scaled to a speech level drawn uniformly in dBFS (RMS), plus noise at an SNR drawn
uniformly in dB, where ``SNR = 10 log10(|speech|^2 / |noise|^2)`` over the whole segment and ``speech`` is the
(reverberant) speech in the mixture. The noise is a crop/loop of a noise file, coloured noise, shaped noise,
tonal noise or babble (:mod:`cspec.data.noise`). The speaker is drawn uniformly or, with ``speech_kinds``, a
manifest kind (sentences, words, digits, ...) first by its weight; with several speech pools
(:class:`cspec.data.pools.MixedSpeechPool`) a pool is drawn first by its weight, and babble talkers are drawn
the same way, distinct and other than the target. Speech and noise are each optionally
equalised by a random second-order filter (Valin, 2018, :func:`cspec.data.noise.random_eq`, probability
``p_eq``); the noise is optionally sped up or slowed down (:func:`cspec.data.noise.change_speed`, probability
``p_noise_speed``, a factor drawn log-uniformly in ``noise_speed``) and optionally the sum of two draws
(probability ``p_noise_mix``). Optionally the mixture is
band-limited to a random bandwidth (resampled down to
twice the bandwidth and back up with soxr), which makes the task include bandwidth extension; the inputs of
audio super-resolution are made the same way (Kuleshov, Enam & Ermon, 2017, "Audio super resolution using
neural networks": low-pass, decimate, interpolate back).

Separation (:func:`simulate_separation`), as in WSJ0-2mix (Hershey et al., 2016) and LibriMix (Cosentino et
al., 2020): utterances of ``n_src`` distinct persons (:func:`cspec.data.manifest.speaker_identity`; with several
pools each drawn by its pool's weight), the first at a level drawn in ``level``, each other one at a level
relative to it drawn in ``relative_level`` dB, summed; one target per source. With ``separation_snr`` noise is
added as in WHAM! (Wichern et al., 2019, "WHAM!: Extending speech separation to noisy environments"), at an SNR
drawn uniformly in that range; ``separation_snr_ref="loudest"`` measures it against the louder source as WHAM!
does (its range there is -6 .. 3 dB), ``"sum"`` against the sum of the sources. With ``p_partial_overlap`` a
talker speaks only on a span covering a share ``overlap`` of the segment (turn-taking, as SparseLibriMix of
Cosentino et al. 2020), its level measured while it talks; each talker on its own coin, so that the mixtures
include partial overlap, talkers in sequence and stretches of one talker alone. With ``p_single`` a mixture holds
one talker only and the other targets are silent (zeros), as the mixtures of MixIT and FUSS with fewer sources than
outputs (Wisdom et al. 2020, 2021): a separator must then leave one output empty instead of spreading the talker
over both, which is what keeps the speakers in their outputs across the chunks of a long file with turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from cspec.audio import resample
from cspec.data.noise import babble, change_speed, coloured_noise, random_eq, shaped_noise, tonal_noise, unit_rms
from cspec.data.pools import NoisePool, SpeechPool, pick_weighted as _pick
from cspec.data.reverb import direct_delay, reverberate, room_rirs, sample_room
from cspec.errors import DataError

__all__ = ["SimConfig", "rng_for", "rms_db", "set_level", "scale_to_snr", "band_limit",
           "simulate_enhancement", "simulate_separation"]

_SILENT_DB = -80.0  # an utterance quieter than this (dBFS RMS) is redrawn


def _valid_weights(weights: dict) -> bool:
    """Sampling weights: at least one, none negative, not all zero."""
    w = np.array(list(weights.values()), dtype=float)
    return w.size > 0 and bool(np.all(w >= 0)) and w.sum() > 0


@dataclass
class SimConfig:
    """The ranges and probabilities of the simulation. The speech level range is the DNS Challenge
    synthesizer's (-35 .. -15 dBFS); its SNR range is 0 .. 40 dB, here -5 .. 20 dB, where models have more
    to learn. Reverberation and band-limiting are off unless their probability is raised."""

    snr: tuple[float, float] = (-5.0, 20.0)
    level: tuple[float, float] = (-35.0, -15.0)
    gap: tuple[float, float] = (0.05, 0.3)
    noise_types: dict = field(default_factory=lambda: {"file": 0.6, "coloured": 0.2, "babble": 0.2})
    colours: tuple[str, ...] = ("white", "pink", "brown")
    babble_talkers: tuple[int, int] = (3, 6)
    p_eq: float = 0.0
    p_noise_speed: float = 0.0
    noise_speed: tuple[float, float] = (0.5, 2.0)
    p_noise_mix: float = 0.0
    noise_mix_level: tuple[float, float] = (-10.0, 5.0)
    p_reverb: float = 0.0
    rt60: tuple[float, float] = (0.2, 0.8)
    reverb_target: str = "early"
    max_order: int | None = 30  # caps Sabine's image order: 10-30x faster, RT60 still within tolerance
    p_bandlimit: float = 0.0
    bandwidths: tuple[float, ...] = (4000.0, 8000.0)
    relative_level: tuple[float, float] = (-5.0, 5.0)
    speech_kinds: dict | None = None
    separation_snr: tuple[float, float] | None = None
    separation_snr_ref: str = "sum"
    p_clean: float = 0.0  # share of enhancement items left without noise (1: clean speech, as phase retrieval needs)
    p_separation_noise: float = 1.0  # with separation_snr: the share of mixtures that get noise (the rest clean)
    p_partial_overlap: float = 0.0  # separation: the chance of each talker to speak on one span only
    overlap: tuple[float, float] = (0.2, 0.8)  # ... the share of the segment that span covers
    p_single: float = 0.0  # separation: the chance that one talker speaks alone (the other targets silent)

    def __post_init__(self):
        for name in ("snr", "level", "gap", "rt60", "relative_level", "babble_talkers", "noise_speed",
                     "noise_mix_level", "overlap"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise DataError(f"SimConfig.{name}: the range {lo} .. {hi} is reversed; give (low, high)")
        if not 0.1 <= self.noise_speed[0] <= self.noise_speed[1] <= 10.0:
            raise DataError(f"SimConfig.noise_speed: factors within 0.1 .. 10, got {self.noise_speed}")
        if self.level[1] > 0 or self.gap[0] < 0 or self.babble_talkers[0] < 2:
            raise DataError("SimConfig: level must be <= 0 dBFS, gap >= 0 s and babble_talkers >= 2")
        unknown = set(self.noise_types) - {"file", "coloured", "babble", "shaped", "tonal"}
        if unknown or not _valid_weights(self.noise_types):
            raise DataError(f"SimConfig.noise_types: weights >= 0 (not all 0) of file, coloured, babble, shaped, "
                            f"tonal; got {self.noise_types}")
        if self.speech_kinds is not None and not _valid_weights(self.speech_kinds):
            raise DataError(f"SimConfig.speech_kinds: weights >= 0 (not all 0) of manifest kinds, got "
                            f"{self.speech_kinds}")
        if self.separation_snr_ref not in ("sum", "loudest"):
            raise DataError(f"SimConfig.separation_snr_ref: 'sum' or 'loudest', got {self.separation_snr_ref!r}")
        if self.separation_snr is not None and self.separation_snr[0] > self.separation_snr[1]:
            raise DataError(f"SimConfig.separation_snr: the range {self.separation_snr} is reversed; give (low, high)")
        if not 0.0 < self.overlap[0] <= self.overlap[1] <= 1.0:
            raise DataError(f"SimConfig.overlap: shares within (0, 1], got {self.overlap}")
        for p in (self.p_eq, self.p_noise_speed, self.p_noise_mix, self.p_reverb, self.p_bandlimit,
                  self.p_separation_noise, self.p_clean, self.p_partial_overlap, self.p_single):
            if not 0.0 <= p <= 1.0:
                raise DataError(f"SimConfig: probabilities must lie in [0, 1], got {p}")


def rng_for(seed: int, index: int, *more: int) -> np.random.Generator:
    """The generator of item ``index`` of a dataset seeded with ``seed`` (independent of workers and order)."""
    if int(seed) < 0 or int(index) < 0 or any(int(m) < 0 for m in more):
        raise DataError(f"seed and index must be non-negative integers, got {seed}, {index}, {more}")
    return np.random.default_rng([int(seed), int(index), *map(int, more)])


def rms_db(x: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (a full-scale square wave is 0 dBFS)."""
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def set_level(x: np.ndarray, db: float) -> tuple[np.ndarray, float]:
    """``(x * g, g)`` with ``g`` such that the RMS of ``x * g`` is ``db`` dBFS."""
    g = 10 ** ((db - rms_db(x)) / 20)
    return x * g, g


def scale_to_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so that ``10 log10(|speech|^2 / |noise|^2) = snr_db``."""
    return noise * 10 ** ((rms_db(speech) - rms_db(noise) - snr_db) / 20)


def band_limit(x: np.ndarray, sr: int, bandwidth: float) -> np.ndarray:
    """``x`` low-passed to ``bandwidth`` Hz by resampling to ``2 * bandwidth`` and back (soxr, as
    :func:`cspec.audio.resample`); a bandwidth at or above ``sr / 2`` returns ``x`` unchanged."""
    low = int(round(2 * bandwidth))
    if low >= sr:
        return x
    if low <= 0:
        raise DataError(f"bandwidth must be positive, got {bandwidth} Hz")
    t = torch.from_numpy(np.asarray(x, dtype=np.float64))
    y = resample(resample(t, sr, low), low, sr).numpy()
    return y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))


def _utterance(speech: SpeechPool, speaker: str, n: int, rng, cfg: SimConfig) -> np.ndarray:
    for _ in range(10):
        x = speech.utterance(speaker, n, rng, cfg.gap)
        if rms_db(x) > _SILENT_DB:
            return x
    raise DataError(f"speaker '{speaker}': ten utterances in a row were silent; check the speech files")


def _partial(x: np.ndarray, rng, share: tuple[float, float], sr: int) -> tuple[np.ndarray, slice]:
    """``x`` kept on one span covering a share of it drawn in ``share`` (20 ms raised-cosine edges), silent elsewhere:
    the turn-taking of conversation (sparse overlap, as SparseLibriMix), so that a separator also learns to keep a
    lone talker in one output. Also the span; it is redrawn (up to ten times) until the talker is heard in it."""
    n, ramp = len(x), min(int(0.02 * sr), len(x) // 4)
    for _ in range(10):
        m = max(2 * ramp + 1, int(round(rng.uniform(*share) * n)))
        start = int(rng.integers(0, n - m + 1))
        if rms_db(x[start:start + m]) > _SILENT_DB:
            break
    else:
        return x, slice(None)
    gate = np.zeros(n)
    gate[start:start + m] = 1.0
    if ramp:
        edge = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
        gate[start:start + ramp] = edge
        gate[start + m - ramp:start + m] = edge[::-1]
    return x * gate, slice(start, start + m)


def _noise(n: int, rng, cfg: SimConfig, noise: NoisePool | None, speech: SpeechPool,
           exclude: tuple[str, ...]) -> tuple[np.ndarray, str, list[str]]:
    """Noise of RMS 1: one draw, with probability ``p_noise_mix`` plus a second one at a level relative to
    it drawn in ``noise_mix_level`` dB; each draw sped up or slowed down with probability ``p_noise_speed``.
    Also its kind and the babble talkers in it."""
    nz, kind, talkers = _speed_noise(n, rng, cfg, noise, speech, exclude)
    if cfg.p_noise_mix > 0 and rng.random() < cfg.p_noise_mix:
        other, kind2, more = _speed_noise(n, rng, cfg, noise, speech, exclude)
        nz = unit_rms(nz + other * 10 ** (rng.uniform(*cfg.noise_mix_level) / 20))
        kind, talkers = f"{kind}+{kind2}", talkers + more
    return nz, kind, talkers


def _speed_noise(n, rng, cfg: SimConfig, noise, speech, exclude) -> tuple[np.ndarray, str, list[str]]:
    if cfg.p_noise_speed <= 0 or rng.random() >= cfg.p_noise_speed:
        return _one_noise(n, rng, cfg, noise, speech, exclude)
    lo, hi = np.log(cfg.noise_speed)
    factor = float(np.exp(rng.uniform(lo, hi)))
    nz, kind, talkers = _one_noise(int(np.ceil(n * factor)) + 1, rng, cfg, noise, speech, exclude)
    return unit_rms(change_speed(nz, factor)[:n]), f"{kind}@x{factor:.2f}", talkers


def _one_noise(n: int, rng, cfg: SimConfig, noise: NoisePool | None, speech: SpeechPool,
               exclude: tuple[str, ...]) -> tuple[np.ndarray, str, list[str]]:
    kinds = [k for k, w in cfg.noise_types.items() if w > 0 and not (k == "file" and noise is None)]
    if not kinds:
        raise DataError("no noise type left: give a noise pool or allow 'coloured' / 'babble' noise")
    kind = _pick(rng, kinds, cfg.noise_types)
    if kind == "file":
        for _ in range(10):
            seg = noise.segment(n, rng)
            if rms_db(seg) > _SILENT_DB:
                return unit_rms(seg), kind, []
        raise DataError("ten noise segments in a row were silent; check the noise files")
    if kind == "shaped":
        return shaped_noise(n, rng, speech.sr), "shaped", []
    if kind == "tonal":
        return tonal_noise(n, rng, speech.sr), "tonal", []
    if kind == "coloured":
        colour = cfg.colours[int(rng.integers(0, len(cfg.colours)))]
        return coloured_noise(n, colour, rng), f"coloured:{colour}", []
    talkers = speech.draw_others(rng, cfg.babble_talkers, exclude)
    return babble([_utterance(speech, s, n, rng, cfg) for s in talkers]), f"babble:{len(talkers)}", talkers


def _reverb(dry: list[np.ndarray], rng, cfg: SimConfig, sr: int) -> tuple[list, list, float]:
    """Reverberant and target signals of each source, one room for all; RT60 0 when not reverberated."""
    if cfg.p_reverb <= 0 or rng.random() >= cfg.p_reverb:
        return dry, dry, 0.0
    room = sample_room(rng, len(dry), cfg.rt60)
    rirs = room_rirs(room, sr, cfg.max_order)
    out = [reverberate(x, h, direct_delay(room, i, sr), sr, cfg.reverb_target) for i, (x, h) in
           enumerate(zip(dry, rirs))]
    return [o[0] for o in out], [o[1] for o in out], room.rt60


def _bandlimit(x: np.ndarray, rng, cfg: SimConfig, sr: int) -> tuple[np.ndarray, float]:
    if cfg.p_bandlimit <= 0 or rng.random() >= cfg.p_bandlimit:
        return x, sr / 2
    bw = float(cfg.bandwidths[int(rng.integers(0, len(cfg.bandwidths)))])
    return band_limit(x, sr, bw), min(bw, sr / 2)


def simulate_enhancement(rng: np.random.Generator, n: int, speech: SpeechPool, noise: NoisePool | None,
                         cfg: SimConfig) -> dict:
    """One noisy/clean pair of ``n`` samples: ``mixture`` (n,), ``targets`` (1, n), ``noise`` (n,) (the
    additive noise) and what was drawn: ``speaker``, ``level_db``, ``snr_db``, ``rt60``, ``bandwidth``,
    ``noise_type``, ``noise_speakers`` (the babble talkers, joined by ``;``). A share ``cfg.p_clean`` of the items
    gets no noise (``noise`` zero, ``snr_db`` inf, ``noise_type`` ``none``)."""
    sr = speech.sr
    speaker = speech.draw_speaker(rng, cfg.speech_kinds)
    dry = _utterance(speech, speaker, n, rng, cfg)
    if cfg.p_eq > 0 and rng.random() < cfg.p_eq:
        dry = random_eq(dry, rng)
    (wet,), (target,), rt60 = _reverb([dry], rng, cfg, sr)
    level = float(rng.uniform(*cfg.level))
    target, g = set_level(target, level)
    wet = wet * g
    # the coin is drawn only when it can come up clean, so that p_clean = 0 keeps every earlier set the same
    if cfg.p_clean > 0 and (cfg.p_clean >= 1.0 or rng.random() < cfg.p_clean):
        nz, kind, talkers, snr = np.zeros(n), "none", [], float("inf")
    else:
        nz, kind, talkers = _noise(n, rng, cfg, noise, speech, (speaker,))
        if cfg.p_eq > 0 and rng.random() < cfg.p_eq:
            nz = random_eq(nz, rng)
        snr = float(rng.uniform(*cfg.snr))
        nz = scale_to_snr(wet, nz, snr)
    mixture, bandwidth = _bandlimit(wet + nz, rng, cfg, sr)
    return {"mixture": mixture, "targets": target[None], "noise": nz, "speaker": speaker, "level_db": level,
            "snr_db": snr, "rt60": rt60, "bandwidth": bandwidth, "noise_type": kind,
            "noise_speakers": ";".join(talkers)}


def simulate_separation(rng: np.random.Generator, n: int, n_src: int, speech: SpeechPool,
                        noise: NoisePool | None, cfg: SimConfig) -> dict:
    """A mixture of ``n_src`` distinct speakers: ``mixture`` (n,), ``targets`` (n_src, n), ``speakers``,
    ``levels_db`` (n_src,), ``rt60``, ``bandwidth``; with ``cfg.separation_snr`` also ``noise`` and
    ``snr_db`` (noise relative to the sum of the sources, or to the louder one with
    ``cfg.separation_snr_ref="loudest"``; a share ``1 - cfg.p_separation_noise`` of the mixtures stays clean, with
    zero ``noise`` and ``snr_db`` inf). The speakers are distinct persons (:meth:`SpeechPool.draw_distinct`,
    by pool weight and ``cfg.speech_kinds``)."""
    if not 2 <= n_src <= speech.persons():
        raise DataError(f"n_src={n_src}: need 2 <= n_src <= the {speech.persons()} distinct speakers of the pool")
    sr = speech.sr
    speakers = tuple(speech.draw_distinct(rng, n_src, cfg.speech_kinds))
    dry = [_utterance(speech, s, n, rng, cfg) for s in speakers]
    # the coin is drawn only when it can fail, so that every earlier set stays the same with p = 0
    active = [slice(None)] * n_src
    for k in range(n_src):  # each talker on its own coin: overlap in part, turns in sequence, or all at once
        if cfg.p_partial_overlap > 0 and rng.random() < cfg.p_partial_overlap:
            dry[k], active[k] = _partial(dry[k], rng, cfg.overlap, sr)
    # one talker alone: the others silent, their targets zeros (drawn only when it can happen, as above)
    alone = int(rng.integers(n_src)) if cfg.p_single > 0 and rng.random() < cfg.p_single else None
    wet, targets, rt60 = _reverb(dry, rng, cfg, sr)
    first = float(rng.uniform(*cfg.level))
    levels = [first] + [first + float(rng.uniform(*cfg.relative_level)) for _ in range(n_src - 1)]
    if alone is not None:  # the lone talker at the first level, the others silent (gain 10^(-inf) = 0)
        levels = [first if k == alone else -np.inf for k in range(n_src)]
    gains = [10 ** ((lv - rms_db(t[a])) / 20) for t, lv, a in zip(targets, levels, active)]  # level while talking
    targets = [t * g for t, g in zip(targets, gains)]
    wet = [w * g for w, g in zip(wet, gains)]
    mixture = np.sum(wet, axis=0)
    out = {"speakers": ";".join(speakers), "levels_db": np.array(levels), "rt60": rt60}
    # the coin is drawn only when it can fail, so that p_separation_noise = 1 keeps every earlier set the same
    noisy = cfg.separation_snr is not None and (cfg.p_separation_noise >= 1.0 or rng.random() < cfg.p_separation_noise)
    if cfg.separation_snr is not None and not noisy:
        out.update(noise=np.zeros(n), snr_db=float("inf"), noise_type="none", noise_speakers="")
    if noisy:
        nz, kind, talkers = _noise(n, rng, cfg, noise, speech, speakers)
        snr = float(rng.uniform(*cfg.separation_snr))
        ref = max(wet, key=rms_db) if cfg.separation_snr_ref == "loudest" else mixture
        nz = scale_to_snr(ref, nz, snr)
        mixture = mixture + nz
        out.update(noise=nz, snr_db=snr, noise_type=kind, noise_speakers=";".join(talkers))
    mixture, bandwidth = _bandlimit(mixture, rng, cfg, sr)
    out.update(mixture=mixture, targets=np.stack(targets), bandwidth=bandwidth)
    return out
