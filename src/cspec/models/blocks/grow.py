"""Function-preserving widening: a trained network grows into a wider one that computes the same function.

After Net2WiderNet (Chen, Goodfellow & Shlens 2016, "Net2Net: Accelerating learning via knowledge transfer", ICLR,
Sec. 2.2): the wider network starts where the trained one is, so the extra capacity is trained from there instead
of from scratch. Net2Net replicates units and divides their outgoing weights among the replicas, which then stay
identical under gradient descent unless noise breaks the symmetry (its Sec. 2.2 adds noise). cspec's variant: every
new unit keeps the wider network's random incoming weights and gets **zero outgoing weights**, so the function is
unchanged exactly, and the gradient on those outgoing weights (the new units' activations times the upstream
gradient) is non-zero from the first step.

:func:`grow_` copies a trained module's tensors into a wider module of the same structure. Along each dimension a
tensor is a stack of ``blocks`` equal blocks (a GRU's three or an LSTM's four gates along its rows; the outputs
of grouped or bidirectional RNNs along the inputs of a linear layer or of a deeper RNN layer), and the trained block
fills the leading part of the wider block. Wherever a weight's input dimension (dimension 1; 0 for a transposed
convolution) grew, the new entries are zero: nothing reads a new unit at first. New normalisation statistics keep
their defaults (mean 0, variance 1). :func:`check_growth` is the models' common check of the two configurations.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cspec.errors import ConfigError

__all__ = ["check_growth", "embed_", "grow_"]

_GATES = {"GRU": 3, "LSTM": 4}  # torch's gate blocks: GRU r, z, n; LSTM i, f, g, o


def _old_index(n_big: int, n_small: int, blocks: int, what: str) -> torch.Tensor:
    if n_big % blocks or n_small % blocks or n_small > n_big:
        raise ConfigError(f"cannot grow {what}: {n_small} -> {n_big} entries in {blocks} blocks")
    big, small = n_big // blocks, n_small // blocks
    return torch.cat([b * big + torch.arange(small) for b in range(blocks)])


@torch.no_grad()
def embed_(big: torch.Tensor, small: torch.Tensor, blocks: Sequence[int] = (), zero_new_inputs: bool = False,
           what: str = "a tensor") -> None:
    """Write ``small`` into ``big`` in place, block by block (see the module's docstring); with ``zero_new_inputs``
    the entries of dimension 1 that are not ``small``'s become zero."""
    if big.dim() != small.dim():
        raise ConfigError(f"cannot grow {what}: shape {tuple(small.shape)} -> {tuple(big.shape)}")
    idx = [_old_index(b, s, blocks[d] if d < len(blocks) else 1, what)
           for d, (b, s) in enumerate(zip(big.shape, small.shape))]
    if zero_new_inputs and big.dim() > 1 and big.shape[1] != small.shape[1]:
        keep = torch.zeros(big.shape[1], dtype=torch.bool)
        keep[idx[1]] = True
        big[:, ~keep] = 0
    if big.dim() == 0:
        big.copy_(small)
    else:
        big[torch.meshgrid(*idx, indexing="ij")] = small.to(big.dtype)


@torch.no_grad()
def grow_(big: nn.Module, small: nn.Module, input_blocks: dict[str, int] | None = None,
          new_modules: Sequence[str] = ()) -> nn.Module:
    """Copy ``small``'s parameters and buffers into ``big`` (same module names; each dimension the same size or
    larger), new units with zero outgoing weights. ``input_blocks`` names the modules whose input dimension is a
    stack of several blocks (a linear layer after a grouped or bidirectional RNN: groups x directions).
    Tensors whose names start with one of ``new_modules`` are ``big``'s alone and keep their values (the caller
    makes those modules start as identities)."""
    input_blocks = input_blocks or {}
    small_tensors = dict(small.named_parameters()) | dict(small.named_buffers())
    big_modules = dict(big.named_modules())
    for name, tensor in list(big.named_parameters()) + list(big.named_buffers()):
        if any(name.startswith(prefix) for prefix in new_modules):
            continue
        if name not in small_tensors:
            raise ConfigError(f"cannot grow: the smaller model has no tensor {name}")
        src = small_tensors[name]
        if tensor.shape == src.shape:
            tensor.copy_(src)
            continue
        owner, _, leaf = name.rpartition(".")
        module = big_modules[owner]
        blocks = [1] * tensor.dim()
        if isinstance(module, nn.RNNBase):
            blocks[0] = _GATES.get(module.mode, 1)  # the gates stacked along the rows
            if module.bidirectional and leaf.startswith("weight_ih_l") and not leaf.startswith("weight_ih_l0"):
                blocks[1] = 2  # a deeper layer reads both directions of the one below
        if owner in input_blocks and tensor.dim() > 1:
            blocks[1] = input_blocks[owner]
        if isinstance(module, nn.modules.conv._ConvTransposeNd) and leaf == "weight":
            # (in, out / groups, ...): the inputs are dimension 0; zero there, keep new outputs' random weights
            embed_(tensor.transpose(0, 1), src.transpose(0, 1), blocks, zero_new_inputs=True, what=name)
            continue
        embed_(tensor, src, blocks, zero_new_inputs=leaf.startswith("weight"), what=name)
    return big


def check_growth(big: nn.Module, small: nn.Module, growing: Sequence[str]) -> None:
    """Refuse, in one line, to grow ``small`` into ``big`` unless both are the same registered architecture whose
    options differ only in ``growing``, none of them smaller in ``big``."""
    kind = getattr(big, "registry_name", type(big).__name__)
    if getattr(small, "registry_name", None) != kind:
        raise ConfigError(f"a {kind} grows only from a {kind}, got {getattr(small, 'registry_name', small)}")
    # configs hold every option (the defaults filled in); a saved one has lists where a built one has tuples
    norm = lambda cfg: {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}  # noqa: E731
    mine, theirs = norm(big.config), norm(small.config)
    other = sorted(k for k in mine if k not in growing and mine[k] != theirs.get(k))
    if other:
        raise ConfigError(f"a {kind} grows only in {', '.join(growing)}; these options differ: {other}")
    for key in growing:
        if int(mine[key]) < int(theirs[key]):
            raise ConfigError(f"cannot grow {key} {theirs[key]} -> {mine[key]}: the new model is smaller")
