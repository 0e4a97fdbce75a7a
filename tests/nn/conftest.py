"""Shared checks for the complex layers: a layer against a naive complex reference, and gradcheck."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call


def crandn(*shape, dtype=torch.complex64, requires_grad=True):
    z = torch.randn(*shape, dtype=dtype)
    return z.requires_grad_(requires_grad)


def _real_loss(y: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """A real scalar that depends on both parts of ``y``: Re <y, c>."""
    return (y * weights.conj()).real.sum()


def compare_to_reference(layer, reference, inputs, atol=1e-5, rtol=1e-5, params=None):
    """Forward and gradient (inputs and every parameter) of ``layer(*inputs)`` equal ``reference(*inputs)``.

    ``params`` defaults to ``layer.parameters()`` (give it when ``layer`` is a plain function).
    """
    params = [p for p in (layer.parameters() if params is None else params) if p.requires_grad]
    y = layer(*inputs)
    y_ref = reference(*inputs)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, atol=atol, rtol=rtol)
    c = torch.randn(y.shape, dtype=y.dtype) if y.is_complex() else torch.randn(y.shape, dtype=y.dtype)
    leaves = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad] + params
    g = torch.autograd.grad(_real_loss(y, c), leaves, allow_unused=True)
    g_ref = torch.autograd.grad(_real_loss(y_ref, c), leaves, allow_unused=True)
    for a, b in zip(g, g_ref):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


def gradcheck_layer(layer, *inputs, fast=False, **kwargs):
    """``torch.autograd.gradcheck`` in float64 over the inputs AND the parameters of ``layer``.

    ``fast=True`` uses gradcheck's fast mode (Jacobian checked along random directions) for the layers with
    hundreds of parameters (attention, recurrent), to keep the suite quick.
    """
    layer = layer.double()
    names = [n for n, p in layer.named_parameters() if p.requires_grad]
    params = [p.detach().clone().requires_grad_(True) for n, p in layer.named_parameters() if p.requires_grad]
    n_in = len(inputs)

    def fn(*args):
        out = functional_call(layer, dict(zip(names, args[n_in:])), args[:n_in], kwargs)
        return out[0] if isinstance(out, tuple) else out

    assert torch.autograd.gradcheck(fn, (*inputs, *params), eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=fast)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


class Helpers:
    crandn = staticmethod(crandn)
    compare = staticmethod(compare_to_reference)
    gradcheck = staticmethod(gradcheck_layer)


@pytest.fixture
def h():
    """The helpers above, for the test modules (imported as fixtures under --import-mode=importlib)."""
    return Helpers
