"""ONNX export of complex models through a real-pair interface.

ONNX has no complex arithmetic for convolutions, matmuls or recurrences, and exporters break on PyTorch's
complex dtypes. Every layer of :mod:`cspec.nn` computes internally on the real pair ``(re, im)``
(:meth:`ComplexModule.forward_pair`), so a model built only from these layers can be traced without any
complex tensor: :class:`RealPairWrapper` takes a real tensor ``(..., 2)`` (``torch.view_as_real`` layout),
runs ``forward_pair`` and returns ``(..., 2)``. Convert at the edge with :func:`cspec.nn.to_real_pair` /
:func:`cspec.nn.from_real_pair` (or ``np.stack([z.real, z.imag], -1)`` in a numpy runtime).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from cspec.errors import ConfigError
from cspec.nn.base import ComplexModule, check_complex

__all__ = ["RealPairWrapper", "export_onnx"]


class RealPairWrapper(nn.Module):
    """``(..., 2)`` real in, ``(..., 2)`` real out, around a :class:`ComplexModule`."""

    def __init__(self, model: ComplexModule) -> None:
        super().__init__()
        if not isinstance(model, ComplexModule):
            raise ConfigError(f"{type(model).__name__} is not a cspec.nn.ComplexModule: export needs forward_pair; "
                              "wrap the layers in cspec.nn.ComplexSequential or implement forward_pair")
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        re, im = self.model.forward_pair(x[..., 0], x[..., 1])
        return torch.stack([re, im], dim=-1)


def export_onnx(model: ComplexModule, example: Tensor, path: str | Path, opset: int = 18,
                dynamic_batch: bool = False) -> Path:
    """Export ``model`` (in eval mode) to ONNX with input ``pair`` and output ``out_pair``, both ``(..., 2)``.

    ``example`` is a complex tensor of the input's shape. Returns the path written.
    """
    check_complex(example, "example")
    path = Path(path)
    wrapper = RealPairWrapper(model).eval()
    x = torch.view_as_real(example.detach()).contiguous()
    kwargs: dict = {}
    if dynamic_batch:
        kwargs["dynamic_shapes"] = {"x": {0: torch.export.Dim("batch", min=1)}}
    try:
        torch.onnx.export(wrapper, (x,), str(path), input_names=["pair"], output_names=["out_pair"],
                          opset_version=opset, dynamo=True, external_data=False, verbose=False,
                          **kwargs)
    except Exception as err:  # the exporter raises many types; name the model and the cause
        raise ConfigError(f"ONNX export of {type(model).__name__} failed: {err}") from err
    return path
