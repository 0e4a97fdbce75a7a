"""Initialisation of complex weights held as two real tensors ``(weight_real, weight_imag)``.

Trabelsi et al. (2018), "Deep Complex Networks", ICLR, Sec. 3.6: a complex weight is drawn in polar form,
``W = |W| exp(j theta)`` with ``|W| ~ Rayleigh(sigma)`` and ``theta ~ U(-pi, pi)``. Its variance is
``Var(W) = E|W|^2 = 2 sigma^2`` (eq. 13-16, ``E[W] = 0`` by the uniform phase), so

* Glorot (Glorot & Bengio, 2010) criterion ``Var(W) = 2 / (fan_in + fan_out)``  ->  ``sigma = 1/sqrt(fan_in + fan_out)``
* He (He et al., 2015) criterion ``Var(W) = 2 / fan_in``                         ->  ``sigma = 1/sqrt(fan_in)``

The reference implementation (deep_complex_networks, issue #35) passes ``1/(fan_in + fan_out)`` as the
Rayleigh scale, i.e. forgets the square root and yields weights far too small; here ``sigma`` is the square
root, as the paper's equations require.

Unitary initialisation (Arjovsky, Shah & Bengio, 2016, "Unitary Evolution RNNs"; Trabelsi et al. 2018 Sec.
3.6 "unitary" variant): the weight reshaped to ``(out, in * prod(kernel))`` is the Q factor of the QR
decomposition of a complex Gaussian matrix, with the phases of ``diag(R)`` folded back (Mezzadri, 2007) so
that Q is Haar-distributed; rows (or columns when wider than tall) are orthonormal: ``W W^H = I``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from cspec.errors import ConfigError

__all__ = ["fans", "rayleigh_polar_", "complex_glorot_", "complex_he_", "unitary_"]


def fans(weight: Tensor, transposed: bool = False) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight ``(out, in, *kernel)`` (``(in, out, *kernel)`` when ``transposed``)."""
    if weight.ndim < 2:
        raise ConfigError(f"a weight needs at least 2 dimensions (out, in, ...), got shape {tuple(weight.shape)}")
    receptive = math.prod(weight.shape[2:]) if weight.ndim > 2 else 1
    n_out, n_in = weight.shape[0], weight.shape[1]
    if transposed:
        n_out, n_in = n_in, n_out
    return n_in * receptive, n_out * receptive


@torch.no_grad()
def rayleigh_polar_(weight_real: Tensor, weight_imag: Tensor, sigma: float,
                    generator: torch.Generator | None = None) -> None:
    """Fill ``weight_real + j weight_imag = r exp(j theta)``, ``r ~ Rayleigh(sigma)``, ``theta ~ U(-pi, pi)``."""
    if weight_real.shape != weight_imag.shape:
        raise ConfigError(f"real and imaginary weights differ in shape: {weight_real.shape} vs {weight_imag.shape}")
    u = torch.rand(weight_real.shape, generator=generator, dtype=torch.float64)
    modulus = sigma * torch.sqrt(-2.0 * torch.log1p(-u))  # inverse CDF of the Rayleigh law
    theta = (torch.rand(weight_real.shape, generator=generator, dtype=torch.float64) * 2.0 - 1.0) * math.pi
    weight_real.copy_(modulus * torch.cos(theta))
    weight_imag.copy_(modulus * torch.sin(theta))


def complex_glorot_(weight_real: Tensor, weight_imag: Tensor, transposed: bool = False,
                    generator: torch.Generator | None = None) -> None:
    """Trabelsi et al. (2018) complex Glorot: Rayleigh scale ``sigma = 1/sqrt(fan_in + fan_out)``."""
    fan_in, fan_out = fans(weight_real, transposed)
    rayleigh_polar_(weight_real, weight_imag, 1.0 / math.sqrt(fan_in + fan_out), generator)


def complex_he_(weight_real: Tensor, weight_imag: Tensor, transposed: bool = False,
                generator: torch.Generator | None = None) -> None:
    """Trabelsi et al. (2018) complex He: Rayleigh scale ``sigma = 1/sqrt(fan_in)``."""
    fan_in, _ = fans(weight_real, transposed)
    rayleigh_polar_(weight_real, weight_imag, 1.0 / math.sqrt(fan_in), generator)


@torch.no_grad()
def unitary_(weight_real: Tensor, weight_imag: Tensor, gain: float = 1.0,
             generator: torch.Generator | None = None) -> None:
    """Fill the weight with a (semi-)unitary matrix: ``W W^H = gain^2 I`` on the shorter side."""
    if weight_real.shape != weight_imag.shape or weight_real.ndim < 2:
        raise ConfigError(f"unitary_ needs two equal weights of >= 2 dims, got {tuple(weight_real.shape)}")
    rows = weight_real.shape[0]
    cols = weight_real[0].numel()
    g = torch.randn(max(rows, cols), min(rows, cols), 2, generator=generator, dtype=torch.float64)
    a = torch.view_as_complex(g) / math.sqrt(2.0)
    q, r = torch.linalg.qr(a)
    d = torch.diagonal(r)
    q = q * (d / d.abs().clamp_min(1e-30)).unsqueeze(0)  # Haar measure (Mezzadri, 2007)
    if rows < cols:
        q = q.mH
    q = gain * q
    weight_real.copy_(q.real.reshape(weight_real.shape))
    weight_imag.copy_(q.imag.reshape(weight_imag.shape))


INITS = {"glorot": complex_glorot_, "he": complex_he_, "unitary": unitary_}


def init_complex_(weight_real: Tensor, weight_imag: Tensor, scheme: str, transposed: bool = False) -> None:
    """Apply the named scheme (``glorot``, ``he`` or ``unitary``) to a complex weight."""
    if scheme not in INITS:
        raise ConfigError(f"unknown complex init '{scheme}'; choose one of {', '.join(INITS)}")
    if scheme == "unitary":
        unitary_(weight_real, weight_imag)
    else:
        INITS[scheme](weight_real, weight_imag, transposed=transposed)
