"""Time-frequency masks: ideal masks as training targets, bounded complex masks, and their application.

Targets are computed from the clean speech ``S`` and the noise ``N`` or the mixture ``Y = S + N`` (complex
spectrograms ``(..., freq, frames)``, any leading dims and device). Ratio masks divide by ``|Y|``; bins where
``|Y| <= eps`` (or, for IRM, where both ``|S|`` and ``|N|`` are) get mask 0 with a zero gradient, never NaN.
A mask is applied with :func:`apply_mask` (real or complex, broadcast) or :func:`apply_mag_phase_mask`.
"""

from __future__ import annotations

import torch

from cspec.errors import ConfigError

__all__ = [
    "ibm", "irm", "iam", "fft_mask", "psm", "cirm", "cirm_compress", "cirm_decompress", "bounded_mask", "bdt_gain",
    "ideal_bounded_mask", "mag_phase_mask", "apply_mask", "apply_mag_phase_mask", "BOUNDED_MASKS",
]

BOUNDED_MASKS = ("UBD", "BDSS", "BDT")


def _complex(*tensors: torch.Tensor, what: str) -> None:
    for t in tensors:
        if not torch.is_tensor(t) or not t.is_complex():
            raise ConfigError(f"{what} expects complex spectrograms (..., freq, frames); use cspec.spectral.stft")


def _power(X: torch.Tensor) -> torch.Tensor:
    return X.real.square() + X.imag.square()


def _ratio(num: torch.Tensor, den: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """``num / den`` where ``ok``, else 0, with finite gradients everywhere."""
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))


def ibm(S: torch.Tensor, N: torch.Tensor, threshold_db: float = 0.0) -> torch.Tensor:
    """Ideal binary mask (Wang 2005, "On ideal binary mask as the computational goal of CASA"):
    1 where the local SNR ``10 log10(|S|^2 / |N|^2)`` exceeds the local criterion ``threshold_db`` (LC, 0 dB
    by default), else 0. Computed as ``|S|^2 > 10**(LC/10) |N|^2`` (no log of zero). Real, same dtype as ``|S|``.
    """
    _complex(S, N, what="ibm")
    return (_power(S) > 10.0 ** (threshold_db / 10.0) * _power(N)).to(S.real.dtype)


def irm(S: torch.Tensor, N: torch.Tensor, beta: float = 0.5) -> torch.Tensor:
    """Ideal ratio mask ``(|S|^2 / (|S|^2 + |N|^2)) ** beta`` (Wang, Narayanan & Wang 2014, eq. 2; beta = 0.5).

    In [0, 1]; bins where both are zero get 0.
    """
    _complex(S, N, what="irm")
    if beta <= 0:
        raise ConfigError(f"irm needs beta > 0 (the paper uses 0.5), got {beta}")
    ps, pn = _power(S), _power(N)
    ratio = _ratio(ps, ps + pn, (ps + pn) > 0)
    pos = ratio > 0
    return torch.where(pos, torch.where(pos, ratio, torch.ones_like(ratio)).pow(beta), torch.zeros_like(ratio))


def iam(S: torch.Tensor, Y: torch.Tensor, eps: float = 1e-8, max_value: float | None = None) -> torch.Tensor:
    """Ideal amplitude mask, also called the FFT mask or spectral magnitude mask: ``|S| / |Y|``
    (Wang, Narayanan & Wang 2014, eq. 4). Unbounded unless ``max_value`` clips it; applied to ``Y`` it
    restores ``|S|`` exactly (with the noisy phase).
    """
    _complex(S, Y, what="iam")
    mag_y = torch.abs(Y)
    m = _ratio(torch.abs(S), mag_y, mag_y > eps)
    return m if max_value is None else m.clamp(max=max_value)


fft_mask = iam


def psm(
    S: torch.Tensor, Y: torch.Tensor, truncate: tuple[float, float] | None = (0.0, 1.0), eps: float = 1e-8
) -> torch.Tensor:
    """Phase-sensitive mask ``|S|/|Y| cos(theta_S - theta_Y) = Re(S conj(Y)) / |Y|^2`` (Erdogan, Hershey,
    Watanabe & Le Roux 2015, eq. 9), truncated to ``[0, 1]`` by default as in the paper's training targets.

    The untruncated PSM is the real mask that minimises ``|S - M Y|``; truncated, it is the best real mask in
    the interval. ``truncate=None`` keeps it unbounded.
    """
    _complex(S, Y, what="psm")
    py = _power(Y)
    m = _ratio((S * Y.conj()).real, py, py > eps * eps)
    if truncate is None:
        return m
    lo, hi = truncate
    if not lo < hi:
        raise ConfigError(f"psm truncate must be (low, high) with low < high, got {truncate}")
    return m.clamp(lo, hi)


def cirm_compress(M: torch.Tensor, K: float = 10.0, C: float = 0.1) -> torch.Tensor:
    """Williamson, Wang & Wang 2016 (cIRM, eq. 9): ``K (1 - e^{-C x}) / (1 + e^{-C x}) = K tanh(C x / 2)`` applied to
    the real and imaginary parts separately (K = 10, C = 0.1). Bounded in ``(-K, K)``."""
    _complex(M, what="cirm_compress")
    if K <= 0 or C <= 0:
        raise ConfigError(f"cIRM compression needs K > 0 and C > 0 (paper: K=10, C=0.1), got K={K}, C={C}")
    return torch.complex(K * torch.tanh(0.5 * C * M.real), K * torch.tanh(0.5 * C * M.imag))


def cirm_decompress(M_c: torch.Tensor, K: float = 10.0, C: float = 0.1) -> torch.Tensor:
    """Exact inverse of :func:`cirm_compress`: ``-(1/C) log((K - M_c) / (K + M_c)) = (2/C) atanh(M_c / K)`` per part.

    Parts at or beyond ``+-K`` (a network can output them) are clipped just inside the bound, so the result is
    finite (about ``+-(2/C) atanh(1 - 2**-20)``, i.e. ``+-145`` for C = 0.1).
    """
    _complex(M_c, what="cirm_decompress")
    if K <= 0 or C <= 0:
        raise ConfigError(f"cIRM compression needs K > 0 and C > 0 (paper: K=10, C=0.1), got K={K}, C={C}")
    lim = 1.0 - 2.0**-20

    def inv(part: torch.Tensor) -> torch.Tensor:
        return (2.0 / C) * torch.atanh((part / K).clamp(-lim, lim))

    return torch.complex(inv(M_c.real), inv(M_c.imag))


def cirm(
    S: torch.Tensor, Y: torch.Tensor, K: float = 10.0, C: float = 0.1, compress: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """Complex ideal ratio mask ``M = S / Y = S conj(Y) / |Y|^2`` (Williamson, Wang & Wang 2016, eq. 7),
    compressed by :func:`cirm_compress` (K = 10, C = 0.1) unless ``compress=False``. Complex tensor.

    Recover the mask with :func:`cirm_decompress` and apply it with :func:`apply_mask`: ``M Y = S`` exactly
    wherever the compression is not saturated.
    """
    _complex(S, Y, what="cirm")
    py = _power(Y)
    ok = py > eps * eps
    num = S * Y.conj()
    m = torch.complex(_ratio(num.real, py, ok), _ratio(num.imag, py, ok))
    return cirm_compress(m, K, C) if compress else m


def _kind(kind: str) -> str:
    k = str(kind).upper()
    if k not in BOUNDED_MASKS:
        raise ConfigError(f"unknown bounded mask kind '{kind}'; choose one of {', '.join(BOUNDED_MASKS)}")
    return k


def bounded_mask(raw: torch.Tensor, kind: str = "BDT") -> torch.Tensor:
    """A network's complex output ``O`` turned into a mask as in DCUNet (Choi et al. 2019, sec. 3.2, eq. 9-11).

    ``"UBD"``: unbounded, ``M = O``. ``"BDSS"``: bounded sigmoid per part, ``M = sigmoid(Re O) + j sigmoid(Im O)``
    (each part in (0, 1), so phase only in the first quadrant). ``"BDT"`` (the paper's choice): bounded tanh of the
    magnitude with the phase kept, ``M = tanh(|O|) O / |O|`` (``|M| < 1``; ``M = 0`` at ``O = 0``, smooth there).
    """
    _complex(raw, what="bounded_mask")
    k = _kind(kind)
    if k == "UBD":
        return raw
    if k == "BDSS":
        return torch.complex(torch.sigmoid(raw.real), torch.sigmoid(raw.imag))
    return raw * bdt_gain(torch.abs(raw))


def bdt_gain(r: torch.Tensor) -> torch.Tensor:
    """``tanh(r) / r`` for magnitudes ``r >= 0``, by its series ``1 - r^2/3`` near 0: the real gain that turns
    ``O`` into the BDT mask (:func:`bounded_mask`). Real-valued, so models that keep real and imaginary parts apart
    (for ONNX export) apply the same mask to ``(Re O, Im O)``."""
    small = r < 1e-4
    safe = torch.where(small, torch.ones_like(r), r)
    return torch.where(small, 1.0 - r.square() / 3.0, torch.tanh(safe) / safe)


def ideal_bounded_mask(S: torch.Tensor, Y: torch.Tensor, kind: str = "BDT", eps: float = 1e-8) -> torch.Tensor:
    """The best mask a bounded family can reach: the complex ratio ``S / Y`` projected onto its range.

    ``|S - M Y| = |Y| |S/Y - M|``, so the minimiser over a closed convex set is the Euclidean projection of
    ``S/Y``: onto the unit disk for ``"BDT"`` (``M / max(1, |M|)``), onto the square ``[0, 1] + j[0, 1]`` for
    ``"BDSS"`` (each part clipped), and ``S/Y`` itself for ``"UBD"``. Use it as the ceiling of a bounded mask's
    achievable error (the open bounds of tanh and sigmoid approach it arbitrarily closely).
    """
    k = _kind(kind)
    m = cirm(S, Y, compress=False, eps=eps)
    if k == "UBD":
        return m
    if k == "BDSS":
        return torch.complex(m.real.clamp(0.0, 1.0), m.imag.clamp(0.0, 1.0))
    r = torch.abs(m)
    return m / torch.where(r > 1, r, torch.ones_like(r))


def mag_phase_mask(S: torch.Tensor, Y: torch.Tensor, eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """Ideal magnitude-and-phase mask ``(|S| / |Y|, wrap(theta_S - theta_Y))``: the cIRM of Williamson et al. 2016
    (eq. 7) in polar form, the target of networks that predict a magnitude mask and a phase correction.
    Apply with :func:`apply_mag_phase_mask`."""
    _complex(S, Y, what="mag_phase_mask")
    m = cirm(S, Y, compress=False, eps=eps)
    return torch.abs(m), torch.angle(m)


def apply_mask(Y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mask * Y`` for a real or complex mask that broadcasts against ``Y`` (e.g. one mask for all channels)."""
    _complex(Y, what="apply_mask")
    try:
        torch.broadcast_shapes(Y.shape, mask.shape)
    except RuntimeError:
        raise ConfigError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the spectrogram {tuple(Y.shape)}"
        ) from None
    return Y * mask


def apply_mag_phase_mask(Y: torch.Tensor, mag_mask: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """``Y * mag_mask * exp(j * phase)``: scale the magnitude and rotate the phase of every bin."""
    if mag_mask.is_complex() or phase.is_complex():
        raise ConfigError("apply_mag_phase_mask expects a real magnitude mask and a real phase (radians)")
    rot = torch.complex(mag_mask * torch.cos(phase), mag_mask * torch.sin(phase))
    return apply_mask(Y, rot)
