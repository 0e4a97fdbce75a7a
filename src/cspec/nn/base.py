"""The base class of every complex layer and the conversions between representations.

A complex layer of :mod:`cspec.nn` takes and returns PyTorch native complex tensors (``complex64`` /
``complex128``) in :meth:`ComplexModule.forward`, holds only real-valued parameters (so that optimisers, DDP,
AMP and ``state_dict`` work unchanged), and computes internally on the real pair ``(re, im)`` in
:meth:`ComplexModule.forward_pair`. A model built only from these layers can therefore run without ever
creating a complex tensor, which is how it exports to ONNX (see :mod:`cspec.nn.export`).

Representations converted here:

* native complex ``z`` of shape ``S``;
* real pair ``(..., 2)`` (``torch.view_as_real``), last axis ``[re, im]``;
* stacked channels: real and imaginary parts concatenated along one axis (``[re_1..re_C, im_1..im_C]``),
  the layout of DCCRN (Hu et al., 2020) and asteroid.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cspec.errors import ConfigError

__all__ = [
    "ComplexModule",
    "ComplexSequential",
    "check_complex",
    "to_real_pair",
    "from_real_pair",
    "to_channels",
    "from_channels",
]


def check_complex(z: Tensor, name: str = "input") -> None:
    """Raise :class:`ConfigError` unless ``z`` is a native complex tensor."""
    if not isinstance(z, Tensor) or not z.is_complex():
        got = z.dtype if isinstance(z, Tensor) else type(z).__name__
        raise ConfigError(
            f"{name} must be a complex tensor (torch.complex64/complex128), got {got}; build one with "
            "torch.complex(real, imag) or cspec.nn.from_real_pair(x) for a (..., 2) real tensor"
        )


def to_real_pair(z: Tensor) -> Tensor:
    """Complex ``(...)`` -> real ``(..., 2)`` with ``[..., 0]`` the real and ``[..., 1]`` the imaginary part."""
    check_complex(z)
    return torch.view_as_real(z)


def from_real_pair(x: Tensor) -> Tensor:
    """Real ``(..., 2)`` -> complex ``(...)``; the inverse of :func:`to_real_pair`."""
    if x.is_complex() or x.ndim == 0 or x.shape[-1] != 2:
        raise ConfigError(f"expected a real tensor whose last axis has size 2 (re, im), got {tuple(x.shape)} {x.dtype}")
    return torch.complex(x[..., 0], x[..., 1])


def to_channels(z: Tensor, dim: int = 1) -> Tensor:
    """Complex with ``C`` channels on ``dim`` -> real with ``2C`` (real parts first, then imaginary parts)."""
    check_complex(z)
    return torch.cat([z.real, z.imag], dim=dim)


def from_channels(x: Tensor, dim: int = 1) -> Tensor:
    """Real with ``2C`` stacked channels on ``dim`` -> complex with ``C``; inverse of :func:`to_channels`."""
    if x.is_complex() or x.shape[dim] % 2:
        raise ConfigError(f"axis {dim} must hold an even number of real channels (re then im), got {tuple(x.shape)}")
    re, im = x.chunk(2, dim=dim)
    return torch.complex(re, im)


class ComplexModule(nn.Module):
    """A layer with complex input and output and real parameters.

    Subclasses implement :meth:`forward_pair` on the real and imaginary parts; :meth:`forward` wraps it with
    native complex tensors. Layers with several inputs or a state (attention, recurrent) override both.
    """

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, z: Tensor) -> Tensor:
        check_complex(z)
        re, im = self.forward_pair(z.real, z.imag)
        return torch.complex(re, im)


class ComplexSequential(ComplexModule):
    """Layers applied in order, staying in the real-pair representation between them.

    Converting to and from native complex tensors only at the two ends saves one copy per layer compared with
    chaining the layers' complex :meth:`forward`.
    """

    def __init__(self, *layers: ComplexModule) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, ComplexModule):
                raise ConfigError(f"layer {i} ({type(layer).__name__}) is not a cspec.nn.ComplexModule")
        self.layers = nn.ModuleList(layers)

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        for layer in self.layers:
            re, im = layer.forward_pair(re, im)
        return re, im

    def __getitem__(self, i: int) -> ComplexModule:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)
