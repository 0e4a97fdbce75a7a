"""The table of metrics that :func:`cspec.metrics.evaluate` and ``cspec eval`` know, and the canonical preprocessing.

Canonical preprocessing (printed by every report, so that two reports can be compared):

1. multi-channel audio is averaged to mono;
2. an estimate at another rate than its reference is resampled to the reference's rate;
3. each metric sees both signals at *its own* rate: PESQ (both modes), the composite measures and DNSMOS at
   16 kHz, STOI/ESTOI at 10 kHz; SI-SDR, SDR, SNR, scale, segSNR, LSD and spectral convergence at the file's rate.
   Every change of rate is done by one resampler, soxr at very high quality (``soxr-VHQ``), never by the
   metric packages' own resamplers;
4. reference and estimate whose lengths differ by at most 0.1 s
   (:data:`~cspec.metrics._common.LENGTH_TOLERANCE_SECONDS`: resampling, STFT framing and codec padding) are cut to
   the shorter of the two (no delay compensation); a larger difference gives NaN and a reason naming both lengths;
5. PESQ of a signal longer than 10 s is the duration-weighted mean over consecutive 5-10 s segments cut in the
   reference's pauses (ITU-T P.862.3 clauses 7.1 and 10.1; :func:`cspec.metrics.intrusive.pesq_segments`);
6. STOI/ESTOI of an estimate whose every frame is 40 dB below the reference's loudest is NaN ("silent for STOI").
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from cspec.audio import RESAMPLER
from cspec.metrics._common import LENGTH_TOLERANCE_SECONDS, MetricError

__all__ = ["Metric", "METRICS", "DEFAULT_METRICS", "ALIASES", "resolve", "preprocessing", "versions"]


@dataclass(frozen=True)
class Metric:
    """One column of an evaluation: how it is computed and read."""

    name: str
    group: str  #: the computation that yields it (several metrics may share one, e.g. CSIG/CBAK/COVL)
    rate: int | None  #: the rate it is computed at (None: the file's rate)
    higher_is_better: bool | None  #: None: neither way, a target value is ideal (scale: 1)
    intrusive: bool  #: needs a reference
    unit: str
    source: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("pesq_wb", "pesq_wb", 16000, True, True, "MOS-LQO", "ITU-T P.862.2 (pesq)"),
        Metric("pesq_nb", "pesq_nb", 16000, True, True, "MOS-LQO", "ITU-T P.862 + P.862.1 (pesq)"),
        Metric("stoi", "stoi", 10000, True, True, "", "Taal et al. 2011 (pystoi)"),
        Metric("estoi", "estoi", 10000, True, True, "", "Jensen & Taal 2016 (pystoi)"),
        Metric("si_sdr", "si_sdr", None, True, True, "dB", "Le Roux et al. 2019"),
        Metric("sdr", "sdr", None, True, True, "dB", "Vincent et al. 2006, 512 taps"),
        Metric("snr", "snr", None, True, True, "dB", "global SNR"),
        Metric("scale", "scale", None, None, True, "", "<est, ref> / ||ref||^2; 1 is ideal, < 0 inverted"),
        Metric("ssnr", "ssnr", None, True, True, "dB", "segmental SNR, Hu & Loizou 2008"),
        Metric("csig", "composite", 16000, True, True, "MOS", "Hu & Loizou 2008, eq. 9"),
        Metric("cbak", "composite", 16000, True, True, "MOS", "Hu & Loizou 2008, eq. 10"),
        Metric("covl", "composite", 16000, True, True, "MOS", "Hu & Loizou 2008, eq. 11"),
        Metric("llr", "llr", 16000, False, True, "", "Hu & Loizou 2008, eq. 2"),
        Metric("wss", "wss", 16000, False, True, "", "Klatt 1982"),
        Metric("lsd", "lsd", None, False, True, "log10 power", "Kuleshov et al. 2017"),
        Metric("sc", "sc", None, False, True, "", "Sturmel & Daudet 2011"),
        Metric("dnsmos_sig", "dnsmos", 16000, True, False, "MOS", "DNSMOS P.835 (speechmos)"),
        Metric("dnsmos_bak", "dnsmos", 16000, True, False, "MOS", "DNSMOS P.835 (speechmos)"),
        Metric("dnsmos_ovrl", "dnsmos", 16000, True, False, "MOS", "DNSMOS P.835 (speechmos)"),
        Metric("dnsmos_p808", "dnsmos", 16000, True, False, "MOS", "DNSMOS P.808 (speechmos)"),
    ]
}

#: what ``evaluate`` and ``cspec eval`` compute when no metrics are named (everything intrusive but LLR/WSS/SC)
DEFAULT_METRICS = (
    "pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "sdr", "snr", "ssnr", "csig", "cbak", "covl", "lsd",
)

#: other spellings and groups accepted by :func:`resolve`
ALIASES: dict[str, tuple[str, ...]] = {
    "pesq": ("pesq_wb",),
    "wb_pesq": ("pesq_wb",),
    "nb_pesq": ("pesq_nb",),
    "sisdr": ("si_sdr",),
    "si-sdr": ("si_sdr",),
    "segsnr": ("ssnr",),
    "seg_snr": ("ssnr",),
    "composite": ("csig", "cbak", "covl"),
    "dnsmos": ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"),
    "intrusive": DEFAULT_METRICS,
    "default": DEFAULT_METRICS,
}


def resolve(metrics: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Metric names from a comma-separated string or a list (aliases expanded, order kept, no duplicates)."""
    if metrics is None:
        return DEFAULT_METRICS
    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    out: list[str] = []
    for raw in items:
        key = raw.strip().lower()
        if not key:
            continue
        names = ALIASES.get(key, (key,))
        for name in names:
            if name not in METRICS:
                known = ", ".join(list(METRICS) + sorted(ALIASES))
                raise MetricError(f"unknown metric '{raw.strip()}'; choose from: {known}")
            if name not in out:
                out.append(name)
    if not out:
        raise MetricError("no metric named; pass e.g. --metrics pesq,stoi,si_sdr")
    return tuple(out)


def versions() -> str:
    """The versions of the packages that compute the numbers (metric versions drift: report them)."""
    parts = []
    for pkg in ("pesq", "pystoi", "speechmos", "onnxruntime", "soxr"):
        try:
            parts.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            parts.append(f"{pkg} (not installed)")
    return ", ".join(parts)


def preprocessing(names: tuple[str, ...] | None = None) -> str:
    """One line stating the canonical preprocessing for ``names`` (print it with every table of numbers)."""
    names = resolve(names) if names is None or isinstance(names, str) else names
    by_rate: dict[str, list[str]] = {}
    for n in names:
        rate = METRICS[n].rate
        key = f"{rate // 1000 if rate % 1000 == 0 else rate / 1000} kHz" if rate else "file rate"
        by_rate.setdefault(key, []).append(n)
    rates = "; ".join(f"{k}: {', '.join(v)}" for k, v in by_rate.items())
    pesq = "; PESQ beyond 10 s: duration-weighted mean of 5-10 s segments" if any(
        METRICS[n].group in ("pesq_wb", "pesq_nb", "composite") for n in names) else ""
    return (f"mono, resampler {RESAMPLER}, lengths within {LENGTH_TOLERANCE_SECONDS:g} s cut to the shorter signal "
            f"(larger differences: NaN){pesq}; rates: {rates}")
