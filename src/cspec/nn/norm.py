"""Complex normalisation: whitening batch norm, naive per-part batch norm, complex layer norm.

:class:`ComplexBatchNorm` -- Trabelsi et al. (2018), "Deep Complex Networks", ICLR, Sec. 3.5, eq. (11)-(12):

    x~ = V^(-1/2) (x - E[x]),   V = [[Vrr + eps, Vri], [Vri, Vii + eps]]                     (11)
    BN(x~) = gamma x~ + beta,   gamma = [[g_rr, g_ri], [g_ri, g_ii]]                           (12)

with the closed-form inverse square root of a 2x2 SPD matrix: ``s = sqrt(det V)``, ``t = sqrt(Vrr + Vii +
2 s)``, ``V^(-1/2) = [[Vii + s, -Vri], [-Vri, Vrr + s]] / (s t)``. Defaults are the paper's and its reference
code's: ``g_rr = g_ii = 1/sqrt(2)``, ``g_ri = 0``, ``beta = 0``, running covariance initialised to
``diag(1/sqrt(2))``, moving-average factor 0.9 (``momentum=0.1`` here, PyTorch's convention), ``eps = 1e-4``.

Fixes of the copies circulating in DCCRN / complexPyTorch:

* running statistics are updated under ``torch.no_grad()`` from detached batch statistics, so they never hold
  the autograd graph (the memory leak of DeepComplexCRN#20);
* ``det V`` is clamped at ``eps^2`` (its exact lower bound) before the square root, so round-off on perfectly
  correlated, all-zero or constant channels cannot produce ``sqrt(<0)`` = NaN (complexPyTorch#8);
* statistics are accumulated in at least float32 (AMP-safe).

:class:`NaiveComplexBatchNorm` -- Ioffe & Szegedy (2015), eq. in Alg. 1, applied independently to the real and
the imaginary parts (as in DCUNet, Choi et al. 2019, and DCCRN's ``complex_bn=False`` option), computed as one
real batch norm over ``2C`` stacked channels.

:class:`ComplexLayerNorm` -- Eilers & Jiang (2023), "Building blocks for a complex-valued transformer
architecture", ICASSP, Sec. 3.3: the whitening (11)-(12) with mean and 2x2 covariance taken per sample over the
last ``len(normalized_shape)`` axes, and an element-wise ``gamma``/``beta`` (initialised as above).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cspec.errors import ConfigError
from cspec.nn.base import ComplexModule

__all__ = ["ComplexBatchNorm", "NaiveComplexBatchNorm", "ComplexLayerNorm", "whiten"]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def whiten(cr: Tensor, ci: Tensor, vrr: Tensor, vii: Tensor, vri: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """Eq. (11): multiply the centred pair by ``V^(-1/2)`` for ``V = [[vrr + eps, vri], [vri, vii + eps]]``."""
    vrr, vii = vrr + eps, vii + eps
    det = (vrr * vii - vri * vri).clamp_min(eps * eps)
    s = torch.sqrt(det)
    t = torch.sqrt(vrr + vii + 2.0 * s)
    inv = 1.0 / (s * t)
    wrr, wii, wri = (vii + s) * inv, (vrr + s) * inv, -vri * inv
    return wrr * cr + wri * ci, wri * cr + wii * ci


def _affine(xr: Tensor, xi: Tensor, g: Tensor, b: Tensor, view) -> tuple[Tensor, Tensor]:
    """Eq. (12) with ``g = (g_rr, g_ii, g_ri)`` and ``b = (b_r, b_i)`` stacked on the first axis."""
    grr, gii, gri = view(g[0]), view(g[1]), view(g[2])
    return grr * xr + gri * xi + view(b[0]), gri * xr + gii * xi + view(b[1])


def _init_gamma(shape) -> Tensor:
    g = torch.zeros(3, *shape)
    g[:2] = _INV_SQRT2
    return g


class ComplexBatchNorm(ComplexModule):
    """Whitening complex batch norm over axis 1 of ``(batch, channels, ...)`` (Trabelsi et al., 2018).

    Buffers: ``running_mean`` ``(2, C)`` (re, im) and ``running_covar`` ``(3, C)`` (Vrr, Vii, Vri), the
    latter unbiased; parameters ``weight`` ``(3, C)`` (g_rr, g_ii, g_ri) and ``bias`` ``(2, C)``.
    """

    def __init__(self, num_features: int, eps: float = 1e-4, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True) -> None:
        super().__init__()
        if num_features < 1 or eps <= 0 or not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"need num_features >= 1, eps > 0, 0 <= momentum <= 1; got {num_features}, {eps}, "
                              f"{momentum}")
        self.num_features, self.eps, self.momentum = num_features, float(eps), float(momentum)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(_init_gamma((num_features,)))
            self.bias = nn.Parameter(torch.zeros(2, num_features))
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(2, num_features))
            cov = torch.zeros(3, num_features)
            cov[:2] = _INV_SQRT2
            self.register_buffer("running_covar", cov)

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        if re.ndim < 2 or re.shape[1] != self.num_features:
            raise ConfigError(f"ComplexBatchNorm({self.num_features}) expects (batch, {self.num_features}, ...), "
                              f"got {tuple(re.shape)}")
        shape = (1, -1) + (1,) * (re.ndim - 2)

        def view(p: Tensor) -> Tensor:
            return p.view(shape)

        dtype = re.dtype
        acc = torch.promote_types(dtype, torch.float32)
        re_a, im_a = re.to(acc), im.to(acc)
        if self.training or not self.track_running_stats:
            dims = [0] + list(range(2, re.ndim))
            n = re.numel() // self.num_features
            if self.training and n < 2:
                raise ConfigError("ComplexBatchNorm needs more than one value per channel in training; use a "
                                  "larger batch or call .eval()")
            mr, mi = re_a.mean(dims, keepdim=True), im_a.mean(dims, keepdim=True)
            cr, ci = re_a - mr, im_a - mi
            vrr, vii, vri = (cr * cr).mean(dims, keepdim=True), (ci * ci).mean(dims, keepdim=True), \
                (cr * ci).mean(dims, keepdim=True)
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    unbias = n / (n - 1)
                    self.running_mean.lerp_(torch.stack([mr.flatten(), mi.flatten()]).detach().to(
                        self.running_mean.dtype), self.momentum)
                    cov = torch.stack([vrr.flatten(), vii.flatten(), vri.flatten()]).detach() * unbias
                    self.running_covar.lerp_(cov.to(self.running_covar.dtype), self.momentum)
        else:
            cr, ci = re_a - view(self.running_mean[0]), im_a - view(self.running_mean[1])
            vrr, vii, vri = view(self.running_covar[0]), view(self.running_covar[1]), view(self.running_covar[2])
        xr, xi = whiten(cr, ci, vrr, vii, vri, self.eps)
        xr, xi = xr.to(dtype), xi.to(dtype)
        if self.affine:
            xr, xi = _affine(xr, xi, self.weight, self.bias, view)
        return xr, xi

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class NaiveComplexBatchNorm(ComplexModule):
    """Independent batch norm of the real and imaginary parts (Ioffe & Szegedy, 2015, per part).

    Parameters ``weight``/``bias`` and buffers ``running_mean``/``running_var`` have shape ``(2, C)`` (row 0
    real, row 1 imaginary). PyTorch's defaults: ``eps=1e-5``, ``momentum=0.1``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True) -> None:
        super().__init__()
        if num_features < 1:
            raise ConfigError(f"num_features must be >= 1, got {num_features}")
        self.num_features, self.eps, self.momentum = num_features, float(eps), float(momentum)
        self.weight = nn.Parameter(torch.ones(2, num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(2, num_features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(2, num_features))
        self.register_buffer("running_var", torch.ones(2, num_features))

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        if re.ndim < 2 or re.shape[1] != self.num_features:
            raise ConfigError(f"NaiveComplexBatchNorm({self.num_features}) expects (batch, {self.num_features}, "
                              f"...), got {tuple(re.shape)}")
        w = self.weight.reshape(-1) if self.weight is not None else None
        b = self.bias.reshape(-1) if self.bias is not None else None
        y = F.batch_norm(torch.cat([re, im], dim=1), self.running_mean.view(-1), self.running_var.view(-1), w, b,
                         self.training, self.momentum, self.eps)
        yr, yi = y.chunk(2, dim=1)
        return yr, yi


class ComplexLayerNorm(ComplexModule):
    """Per-sample whitening over the last axes ``normalized_shape`` (Eilers & Jiang, 2023), ``eps=1e-5``."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any(s < 1 for s in shape) or eps <= 0:
            raise ConfigError(f"normalized_shape must be positive ints and eps > 0, got {normalized_shape}, {eps}")
        self.normalized_shape, self.eps = shape, float(eps)
        if elementwise_affine:
            self.weight = nn.Parameter(_init_gamma(shape))
            self.bias = nn.Parameter(torch.zeros(2, *shape))
        else:
            self.weight = self.bias = None

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        k = len(self.normalized_shape)
        if tuple(re.shape[-k:]) != self.normalized_shape:
            raise ConfigError(f"ComplexLayerNorm expects trailing shape {self.normalized_shape}, got {tuple(re.shape)}")
        dims = tuple(range(-k, 0))
        dtype = re.dtype
        acc = torch.promote_types(dtype, torch.float32)
        re_a, im_a = re.to(acc), im.to(acc)
        cr, ci = re_a - re_a.mean(dims, keepdim=True), im_a - im_a.mean(dims, keepdim=True)
        vrr, vii = (cr * cr).mean(dims, keepdim=True), (ci * ci).mean(dims, keepdim=True)
        vri = (cr * ci).mean(dims, keepdim=True)
        xr, xi = whiten(cr, ci, vrr, vii, vri, self.eps)
        xr, xi = xr.to(dtype), xi.to(dtype)
        if self.weight is not None:
            xr, xi = _affine(xr, xi, self.weight, self.bias, lambda p: p)
        return xr, xi
