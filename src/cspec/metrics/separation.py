"""Speaker separation scores: permutation-invariant SI-SDR and SDR, and their improvement over the mixture.

A separator returns its sources in an arbitrary order, so every score is taken under the assignment of
estimates to references that maximises the mean SI-SDR over the sources -- utterance-level permutation
invariance (Kolbaek, Yu, Tan & Jensen 2017, IEEE/ACM TASLP, eq. 7), solved by
:func:`cspec.losses.pit.best_permutation` (every permutation up to 3 sources, the Hungarian algorithm beyond).
Then, per reference source ``k`` and its matched estimate ``est[perm[k]]``:

* SI-SDR (Le Roux, Wisdom, Erdogan & Hershey 2019, eq. 1), :func:`cspec.metrics.si_sdr`;
* SDR of BSS-eval (Vincent, Gribonval & Fevotte 2006, eqs. 2-5 and 12; 512-tap distortion filter as in
  bss_eval_sources v3 / mir_eval), :func:`cspec.metrics.sdr`. In ``bss_eval_sources`` the SDR of a source only
  depends on the projection onto its own reference, so it equals this single-source SDR;
* with the mixture, the improvements of both (Luo & Mesgarani 2019, Conv-TasNet, section IV-C: SI-SNRi and
  SDRi): ``SI-SDRi_k = SI-SDR(ref_k, est_perm[k]) - SI-SDR(ref_k, mix)``, and the same for SDR.

mir_eval chooses its permutation by the mean SIR instead; the two agree whenever the sources are separated at
all (they can differ only between assignments that are all poor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cspec.errors import ConfigError
from cspec.metrics._common import LENGTH_TOLERANCE_SECONDS, SILENCE, MetricError, check_flag, check_rate
from cspec.metrics.sdr import SDR_FILTER_LENGTH, sdr, si_sdr

__all__ = ["SeparationScores", "score_separation", "check_signal", "common_length", "MIX_COLUMNS"]

#: the per-file values that need the mixture
MIX_COLUMNS = ("si_sdri", "sdri", "mix_si_sdr", "mix_sdr")


@dataclass(frozen=True)
class SeparationScores:
    """The scores of one separated file, every array in reference order ``(n_src,)``, in dB.

    ``perm[k]`` is the (0-based) index of the estimate matched with reference ``k``; ``pairwise[i, j]`` is the
    SI-SDR of estimate ``i`` against reference ``j``. The ``mix_*`` values (the mixture scored as the estimate
    of every source) and the improvements are ``None`` without a mixture.
    """

    perm: tuple[int, ...]
    si_sdr: np.ndarray
    sdr: np.ndarray
    pairwise: np.ndarray
    mix_si_sdr: np.ndarray | None = None
    mix_sdr: np.ndarray | None = None

    @property
    def si_sdri(self) -> np.ndarray | None:
        return None if self.mix_si_sdr is None else self.si_sdr - self.mix_si_sdr

    @property
    def sdri(self) -> np.ndarray | None:
        return None if self.mix_sdr is None else self.sdr - self.mix_sdr

    def means(self) -> dict[str, float]:
        """The file's values: each score's mean over the sources (``si_sdr``, ``sdr`` and, with a mixture,
        ``si_sdri``, ``sdri``, ``mix_si_sdr``, ``mix_sdr``)."""
        out = {"si_sdr": float(self.si_sdr.mean()), "sdr": float(self.sdr.mean())}
        if self.mix_si_sdr is not None:
            out.update(si_sdri=float(self.si_sdri.mean()), sdri=float(self.sdri.mean()),
                       mix_si_sdr=float(self.mix_si_sdr.mean()), mix_sdr=float(self.mix_sdr.mean()))
        return out


def check_signal(x: np.ndarray, what: str) -> None:
    """:class:`MetricError` ``"<what> is silent"`` (or empty, or holds NaN/Inf samples) for an unusable row."""
    if x.shape[-1] == 0:
        raise MetricError(f"{what} is empty")
    bad = int((~np.isfinite(x)).sum())
    if bad:
        raise MetricError(f"{what} holds {bad} NaN/Inf samples")
    if np.abs(x).max() < SILENCE:
        raise MetricError(f"{what} is silent")


def common_length(lengths: dict[str, int], sr: int) -> int:
    """The shortest of ``{what: samples}``; :class:`MetricError` naming the longest and the shortest signal when
    they differ by more than :data:`~cspec.metrics._common.LENGTH_TOLERANCE_SECONDS`."""
    short = min(lengths, key=lengths.get)
    long = max(lengths, key=lengths.get)
    if lengths[long] - lengths[short] > LENGTH_TOLERANCE_SECONDS * sr:
        raise MetricError(
            f"lengths differ: {long} {lengths[long] / sr:.3f} s vs {short} {lengths[short] / sr:.3f} s "
            f"({lengths[long]} vs {lengths[short]} samples at {sr} Hz), more than the "
            f"{LENGTH_TOLERANCE_SECONDS:g} s tolerance"
        )
    return lengths[short]


def _one(x, what: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise ConfigError(f"{what}: expected real waveforms, got a complex tensor")
        x = x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _rows(x, what: str) -> list[np.ndarray]:
    """``(n_src, samples)`` (tensor or array), or a sequence of 1-D signals of any lengths, as 1-D rows."""
    rows = [_one(row, what) for row in x] if isinstance(x, (list, tuple)) else list(_one(x, what))
    if not rows or any(row.ndim != 1 for row in rows):
        raise ConfigError(f"{what}: expected shape (n_src, samples) or a list of 1-D signals")
    return rows


def score_separation(refs, ests, sr: int, *, mix=None, zero_mean: bool = False,
                     filter_length: int = SDR_FILTER_LENGTH, solver: str = "auto") -> SeparationScores:
    """Permutation-invariant SI-SDR and SDR of one separated file, and their improvements over ``mix``.

    Args:
        refs: the reference sources ``(n_src, samples)``, tensor or array, or a list of 1-D signals.
        ests: the estimated sources, the same way, in any order.
        sr: the sample rate of all signals (only the length tolerance depends on it).
        mix: the mixture ``(samples,)`` or ``(1, samples)``; gives ``mix_*``, ``si_sdri`` and ``sdri``.
        zero_mean: remove each signal's mean before SI-SDR (as :func:`cspec.metrics.si_sdr`).
        filter_length: the BSS-eval distortion filter, in samples (512 as bss_eval_sources).
        solver: :func:`cspec.losses.pit.best_permutation`'s ``"auto"``, ``"exhaustive"`` or ``"hungarian"``.

    Signals whose lengths differ by at most 0.1 s are cut to the shortest; a larger difference, a silent,
    empty or non-finite signal raise :class:`MetricError` naming the signal (``"estimate s2 is silent"``;
    messages about the mixture start with ``"mixture"``). A count of estimates other than of references is a
    :class:`ConfigError`.
    """
    from cspec.losses.pit import best_permutation

    sr = check_rate(sr)
    zero_mean = check_flag("zero_mean", zero_mean)
    refs, ests = _rows(refs, "references"), _rows(ests, "estimates")
    n_src = len(refs)
    if len(ests) != n_src:
        raise ConfigError(f"{len(ests)} estimate(s) for {n_src} reference source(s); the counts must match")
    lengths = {f"reference s{k + 1}": len(x) for k, x in enumerate(refs)}
    lengths.update({f"estimate s{k + 1}": len(x) for k, x in enumerate(ests)})
    m = None
    if mix is not None:
        if np.ndim(mix) not in (1, 2) or (np.ndim(mix) == 2 and np.shape(mix)[0] != 1):
            raise ConfigError(f"mixture: expected one channel (samples,) or (1, samples), got {np.shape(mix)}")
        m = _one(mix, "mixture").reshape(-1)
    n = common_length(lengths, sr)
    if m is not None:
        if abs(len(m) - n) > LENGTH_TOLERANCE_SECONDS * sr:
            raise MetricError(f"mixture length {len(m) / sr:.3f} s differs from the sources' {n / sr:.3f} s "
                              f"by more than the {LENGTH_TOLERANCE_SECONDS:g} s tolerance")
        n = min(n, len(m))
    r, e = np.stack([x[:n] for x in refs]), np.stack([x[:n] for x in ests])
    for k in range(n_src):
        check_signal(r[k], f"reference s{k + 1}")
        check_signal(e[k], f"estimate s{k + 1}")
    if m is not None:
        m = m[None, :n]
        check_signal(m[0], "mixture")
    # pairwise[i, j] = SI-SDR of estimate i against reference j
    pairwise = np.asarray(si_sdr(r[None, :, :], e[:, None, :], sr, zero_mean=zero_mean), dtype=np.float64)
    _loss, best = best_permutation(torch.from_numpy(-pairwise)[None], solver)
    perm = tuple(int(i) for i in best[0])
    matched = e[list(perm)]
    scores = {
        "si_sdr": pairwise[list(perm), np.arange(n_src)].copy(),
        "sdr": np.atleast_1d(sdr(r, matched, sr, filter_length=filter_length)),
    }
    if m is not None:
        mixes = np.broadcast_to(m, r.shape)
        scores["mix_si_sdr"] = np.atleast_1d(si_sdr(r, mixes, sr, zero_mean=zero_mean))
        scores["mix_sdr"] = np.atleast_1d(sdr(r, mixes, sr, filter_length=filter_length))
    return SeparationScores(perm=perm, pairwise=pairwise, **scores)
