"""Complex activation functions.

Split (type-A) activations act on the real and imaginary parts separately; amplitude-phase (type-B)
activations act on the modulus and keep the phase. With ``|z| = sqrt(re^2 + im^2 + eps^2)`` (``eps = 1e-12``
in float64, ``1e-8`` otherwise, so that gradients stay finite at ``z = 0``):

* :class:`CReLU`: ``ReLU(Re z) + j ReLU(Im z)`` -- Trabelsi et al. (2018), "Deep Complex Networks", eq. (5).
* :class:`ZReLU`: ``z`` if ``0 <= arg z <= pi/2`` else ``0`` -- Guberman (2016), "On complex valued
  convolutional neural networks", Sec. 4.1.
* :class:`ModReLU`: ``ReLU(|z| + b) z / |z|`` with a learned real bias ``b`` per feature (initialised to 0)
  -- Arjovsky, Shah & Bengio (2016), "Unitary Evolution RNNs", eq. (8).
* :class:`Cardioid`: ``0.5 (1 + cos(arg z)) z`` -- Virtue, Yu & Lustig (2017), "Better than real:
  complex-valued neural nets for MRI fingerprinting", eq. (3).
* :class:`ComplexPReLU`: ``PReLU(Re z; a_r) + j PReLU(Im z; a_i)``, learned slopes initialised to 0.25
  (He et al., 2015, eq. (1) and their default), the split PReLU used by DCCRN's encoder (Hu et al., 2020).
* :class:`SplitTanh` / :class:`SplitSigmoid`: ``f(Re z) + j f(Im z)`` -- Benvenuto & Piazza (1992), "On the
  complex backpropagation algorithm"; Nitta (1997).
* :class:`AmpPhaseTanh` / :class:`AmpPhaseSigmoid`: ``f(|z|) z / |z|`` -- Hirose (1992), "Continuous
  complex-valued back-propagation learning"; the tanh form is DCUNet's bounded mask (Choi et al., 2019,
  eq. (6)). The sigmoid form is discontinuous at ``z = 0`` (``f(0) = 1/2`` with no defined phase; it returns 0
  there).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cspec.errors import ConfigError
from cspec.nn.base import ComplexModule

__all__ = ["CReLU", "ZReLU", "ModReLU", "Cardioid", "ComplexPReLU", "SplitTanh", "SplitSigmoid",
           "AmpPhaseTanh", "AmpPhaseSigmoid", "modulus"]


def modulus(re: Tensor, im: Tensor) -> Tensor:
    """``sqrt(re^2 + im^2 + eps^2)``: the modulus with a finite gradient at 0."""
    eps = 1e-12 if re.dtype == torch.float64 else 1e-8
    return torch.sqrt(re * re + im * im + eps * eps)


def _feature_view(p: Tensor, ndim: int, dim: int) -> Tensor:
    if p.numel() == 1:
        return p.reshape(())
    dim = dim % ndim
    return p.view((-1,) + (1,) * (ndim - dim - 1))


class CReLU(ComplexModule):
    """``ReLU(Re z) + j ReLU(Im z)`` (Trabelsi et al., 2018, eq. 5)."""

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        return torch.relu(re), torch.relu(im)


class ZReLU(ComplexModule):
    """``z`` in the first quadrant (``Re z >= 0`` and ``Im z >= 0``), else 0 (Guberman, 2016)."""

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        keep = ((re >= 0) & (im >= 0)).to(re.dtype)
        return re * keep, im * keep


class ModReLU(ComplexModule):
    """``ReLU(|z| + b) z/|z|`` with one learned bias per feature on axis ``dim`` (Arjovsky et al., 2016, eq. 8).

    ``num_features=1`` shares one bias; ``dim`` is the feature axis (1 for ``(B, C, F, T)``, -1 for
    ``(..., features)``).
    """

    def __init__(self, num_features: int = 1, dim: int = 1) -> None:
        super().__init__()
        if num_features < 1:
            raise ConfigError(f"num_features must be >= 1, got {num_features}")
        self.dim = dim
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        mag = modulus(re, im)
        scale = torch.relu(mag + _feature_view(self.bias, re.ndim, self.dim)) / mag
        return re * scale, im * scale


class Cardioid(ComplexModule):
    """``0.5 (1 + cos(arg z)) z = 0.5 (1 + Re z / |z|) z`` (Virtue et al., 2017, eq. 3)."""

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        scale = 0.5 * (1.0 + re / modulus(re, im))
        return re * scale, im * scale


class ComplexPReLU(ComplexModule):
    """Split PReLU with its own learned slopes for the real and imaginary parts (He et al., 2015)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dim: int = 1) -> None:
        super().__init__()
        if num_parameters < 1:
            raise ConfigError(f"num_parameters must be >= 1, got {num_parameters}")
        self.dim = dim
        self.weight_real = nn.Parameter(torch.full((num_parameters,), float(init)))
        self.weight_imag = nn.Parameter(torch.full((num_parameters,), float(init)))

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        ar = _feature_view(self.weight_real, re.ndim, self.dim)
        ai = _feature_view(self.weight_imag, im.ndim, self.dim)
        return torch.where(re >= 0, re, ar * re), torch.where(im >= 0, im, ai * im)


class SplitTanh(ComplexModule):
    """``tanh(Re z) + j tanh(Im z)`` (Benvenuto & Piazza, 1992)."""

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        return torch.tanh(re), torch.tanh(im)


class SplitSigmoid(ComplexModule):
    """``sigmoid(Re z) + j sigmoid(Im z)`` (Benvenuto & Piazza, 1992)."""

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        return torch.sigmoid(re), torch.sigmoid(im)


class AmpPhaseTanh(ComplexModule):
    """``tanh(|z|) z / |z|`` (Hirose, 1992; DCUNet bounded mask, Choi et al., 2019)."""

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        mag = modulus(re, im)
        scale = torch.tanh(mag) / mag
        return re * scale, im * scale


class AmpPhaseSigmoid(ComplexModule):
    """``sigmoid(|z|) z / |z|`` (Hirose, 1992); 0 at ``z = 0`` where the phase is undefined."""

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        mag = modulus(re, im)
        scale = torch.sigmoid(mag) / mag
        return re * scale, im * scale
