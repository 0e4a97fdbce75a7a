"""Activations against their definitions written with native complex ops (abs, angle, polar)."""

from __future__ import annotations

import math

import pytest
import torch

from cspec.nn import (AmpPhaseSigmoid, AmpPhaseTanh, Cardioid, ComplexPReLU, CReLU, ModReLU, SplitSigmoid,
                      SplitTanh, ZReLU)


def _modrelu():
    m = ModReLU(3, dim=1)
    with torch.no_grad():
        m.bias.copy_(torch.tensor([-0.5, 0.3, -1.2]))
    return m


def _prelu():
    m = ComplexPReLU(3, dim=1)
    with torch.no_grad():
        m.weight_real.copy_(torch.tensor([0.1, 0.2, 0.3]))
        m.weight_imag.copy_(torch.tensor([-0.4, 0.5, 0.05]))
    return m


def _prelu_ref(m, z):
    ar, ai = m.weight_real[:, None], m.weight_imag[:, None]
    re = torch.where(z.real >= 0, z.real, ar * z.real)
    im = torch.where(z.imag >= 0, z.imag, ai * z.imag)
    return torch.complex(re, im)


CASES = {
    "crelu": (CReLU, lambda m, z: torch.complex(torch.relu(z.real), torch.relu(z.imag))),
    "zrelu": (ZReLU, lambda m, z: torch.where((z.angle() >= 0) & (z.angle() <= math.pi / 2), z, torch.zeros_like(z))),
    "modrelu": (_modrelu, lambda m, z: torch.relu(z.abs() + m.bias[:, None]) * z / z.abs()),
    "cardioid": (Cardioid, lambda m, z: 0.5 * (1 + torch.cos(z.angle())) * z),
    "prelu": (_prelu, _prelu_ref),
    "split_tanh": (SplitTanh, lambda m, z: torch.complex(torch.tanh(z.real), torch.tanh(z.imag))),
    "split_sigmoid": (SplitSigmoid, lambda m, z: torch.complex(torch.sigmoid(z.real), torch.sigmoid(z.imag))),
    "ap_tanh": (AmpPhaseTanh, lambda m, z: torch.polar(torch.tanh(z.abs()), z.angle())),
    "ap_sigmoid": (AmpPhaseSigmoid, lambda m, z: torch.polar(torch.sigmoid(z.abs()), z.angle())),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_definition(h, name):
    make, ref = CASES[name]
    m = make()
    z = h.crandn(2, 3, 5) * 1.5
    z = z.detach().requires_grad_(True)
    h.compare(m, lambda x: ref(m, x), [z])


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(h, name):
    h.gradcheck(CASES[name][0](), h.crandn(1, 3, 4, dtype=torch.complex128))


def test_values_worked_by_hand():
    z = torch.tensor([[3 + 4j, -1 + 1j, 0j]], dtype=torch.complex64).T.reshape(1, 1, 3)
    # cardioid: 0.5 (1 + cos(arg z)) z; for 3+4j cos = 3/5, so 0.8 (3+4j)
    torch.testing.assert_close(Cardioid()(z)[0, 0, 0], torch.tensor(2.4 + 3.2j))
    # modReLU with b = -4: |3+4j| - 4 = 1 -> (3+4j)/5; |-1+1j| - 4 < 0 -> 0; z = 0 -> 0 (finite)
    m = ModReLU(1)
    with torch.no_grad():
        m.bias.fill_(-4.0)
    torch.testing.assert_close(m(z)[0, 0], torch.tensor([0.6 + 0.8j, 0j, 0j]))
    # zReLU keeps the first quadrant only
    torch.testing.assert_close(ZReLU()(z)[0, 0], torch.tensor([3 + 4j, 0j, 0j]))
    # amplitude-phase tanh at |z| = 5 keeps the phase: tanh(5) (0.6 + 0.8j)
    torch.testing.assert_close(AmpPhaseTanh()(z)[0, 0, 0], torch.tensor(math.tanh(5) * (0.6 + 0.8j), dtype=torch.complex64))


def test_finite_gradients_at_zero():
    z = torch.zeros(1, 1, 4, dtype=torch.complex64, requires_grad=True)
    for act in (ModReLU(1), Cardioid(), AmpPhaseTanh(), AmpPhaseSigmoid()):
        y = act(z)
        (g,) = torch.autograd.grad(y.abs().sum() + y.real.sum(), z)
        assert torch.isfinite(y).all() and torch.isfinite(torch.view_as_real(g)).all()
