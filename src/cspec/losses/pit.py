"""Permutation-invariant training (PIT) around any loss.

Utterance-level PIT (Kolbaek, Yu, Tan & Jensen 2017, IEEE/ACM TASLP, eq. 7; Yu et al. 2017, ICASSP):

    L_PIT = min over permutations pi of  1/S * sum_s  L(est[pi(s)], ref[s])

For ``S <= 3`` sources every permutation is tried (at most 6); beyond that the minimum of the same sum is
found as a linear assignment problem with the Hungarian algorithm (Kuhn 1955; ``scipy.optimize.
linear_sum_assignment``), which gives the same minimum in O(S^3) instead of O(S!). The design follows
asteroid's ``PITLossWrapper``: the wrapped loss either returns the whole pairwise matrix (``"pairwise"``,
asteroid's ``pw_mtx``) or compares one estimate with one reference (``"wo_src"``, asteroid's ``pw_pt``).
"""

from __future__ import annotations

from itertools import permutations
from typing import Callable

import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from cspec.errors import ConfigError
from cspec.losses._common import check_reduction, reduce

__all__ = ["PITLoss", "best_permutation", "pairwise_matrix", "reorder"]

MODES = ("pairwise", "wo_src")
SOLVERS = ("auto", "exhaustive", "hungarian")
#: the most sources for which ``solver="auto"`` tries every permutation
MAX_EXHAUSTIVE = 3


def pairwise_matrix(loss_fn: Callable, est: torch.Tensor, ref: torch.Tensor, **kwargs) -> torch.Tensor:
    """``M[b, i, j] = loss_fn(est[:, i], ref[:, j])[b]`` for a loss that compares single sources (shape (batch,))."""
    batch, n_src = ref.shape[:2]
    rows = []
    for i in range(n_src):
        cols = []
        for j in range(n_src):
            value = loss_fn(est[:, i], ref[:, j], **kwargs)
            if not torch.is_tensor(value) or value.shape != (batch,):
                raise ConfigError(
                    f"a 'wo_src' loss must return one value per batch item, shape ({batch},), got "
                    f"{tuple(value.shape) if torch.is_tensor(value) else type(value).__name__}; "
                    "build it with reduction='none'"
                )
            cols.append(value)
        rows.append(torch.stack(cols, dim=-1))
    return torch.stack(rows, dim=-2)


def best_permutation(pw: torch.Tensor, solver: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Minimum mean loss over the assignments of estimates to references, and the permutation attaining it.

    ``pw[b, i, j]`` is the loss of estimate ``i`` against reference ``j``. Returns ``(loss, perm)`` with loss of
    shape ``(batch,)`` (differentiable through ``pw``) and ``perm`` of shape ``(batch, n_src)``: reference ``k``
    is matched with estimate ``perm[b, k]``, so ``est[b, perm[b]]`` puts the estimates in reference order.
    Ties go to the first permutation in lexicographic order (as ``itertools.permutations`` lists them).
    """
    if solver not in SOLVERS:
        raise ConfigError(f"unknown PIT solver '{solver}'; choose one of {', '.join(SOLVERS)}")
    if pw.dim() != 3 or pw.shape[-1] != pw.shape[-2]:
        raise ConfigError(f"pairwise losses must have shape (batch, n_src, n_src), got {tuple(pw.shape)}")
    n_src = pw.shape[-1]
    cost = pw.transpose(-1, -2)  # cost[b, k, i]: reference k, estimate i
    if solver == "exhaustive" or (solver == "auto" and n_src <= MAX_EXHAUSTIVE):
        perms = torch.tensor(list(permutations(range(n_src))), dtype=torch.long, device=pw.device)
        ks = torch.arange(n_src, device=pw.device)
        per_perm = cost[:, ks[None, :], perms].mean(-1)  # (batch, n_perms)
        loss, idx = per_perm.min(dim=-1)
        return loss, perms[idx]
    host = cost.detach().to("cpu", torch.float64).numpy()
    perm = torch.stack([torch.as_tensor(linear_sum_assignment(c)[1], dtype=torch.long) for c in host]).to(pw.device)
    loss = torch.gather(cost, -1, perm[..., None]).squeeze(-1).mean(-1)
    return loss, perm


def reorder(est: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Estimates ``(batch, n_src, ...)`` put in reference order: ``out[b, k] = est[b, perm[b, k]]``."""
    if perm.shape != est.shape[:2]:
        raise ConfigError(f"permutation of shape {tuple(perm.shape)} does not fit estimates {tuple(est.shape)}")
    return est[torch.arange(est.shape[0], device=est.device)[:, None], perm]


class PITLoss(nn.Module):
    """Permutation-invariant wrapper of any loss (Kolbaek et al. 2017, uPIT); returns ``(loss, perm)``.

    Args:
        loss_fn: ``"pairwise"`` mode: ``loss_fn(est, ref)`` on ``(batch, n_src, ...)`` returns the
            ``(batch, n_src, n_src)`` matrix ``[b, i, j] = loss(est i, ref j)`` (e.g. ``SISDRLoss().pairwise``).
            ``"wo_src"`` mode: ``loss_fn(est_i, ref_j)`` on ``(batch, ...)`` returns ``(batch,)``; called
            ``n_src**2`` times.
        mode: ``"pairwise"`` or ``"wo_src"``.
        solver: ``"auto"`` (all permutations up to 3 sources, Hungarian beyond), ``"exhaustive"`` or ``"hungarian"``.
        reduction: over the batch of per-item best losses: ``mean`` (default), ``sum`` or ``none``.

    ``forward(est, ref, **kwargs)`` passes ``kwargs`` to ``loss_fn`` and returns the reduced loss and the
    permutation ``perm`` ``(batch, n_src)`` with ``est[b, perm[b, k]]`` matched to ``ref[b, k]`` (see :func:`reorder`).
    """

    def __init__(self, loss_fn: Callable, mode: str = "pairwise", solver: str = "auto", reduction: str = "mean"):
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"unknown PIT mode '{mode}'; choose one of {', '.join(MODES)}")
        if solver not in SOLVERS:
            raise ConfigError(f"unknown PIT solver '{solver}'; choose one of {', '.join(SOLVERS)}")
        if not callable(loss_fn):
            raise ConfigError("PITLoss needs a callable loss_fn (a function or an nn.Module)")
        self.loss_fn, self.mode, self.solver = loss_fn, mode, solver
        self.reduction = check_reduction(reduction)

    def forward(self, est: torch.Tensor, ref: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        if not torch.is_tensor(est) or not torch.is_tensor(ref) or est.dim() < 2 or est.shape[:2] != ref.shape[:2]:
            raise ConfigError(
                "PIT expects estimates and references of shape (batch, n_src, ...) with the same batch and "
                f"number of sources, got {tuple(getattr(est, 'shape', ()))} and {tuple(getattr(ref, 'shape', ()))}"
            )
        if self.mode == "pairwise":
            pw = self.loss_fn(est, ref, **kwargs)
            if not torch.is_tensor(pw) or pw.shape != (est.shape[0], est.shape[1], est.shape[1]):
                raise ConfigError(
                    f"a 'pairwise' loss must return (batch, n_src, n_src) = {(est.shape[0], est.shape[1], est.shape[1])}, "
                    f"got {tuple(pw.shape) if torch.is_tensor(pw) else type(pw).__name__}; use mode='wo_src' for a "
                    "loss that compares one estimate with one reference"
                )
        else:
            pw = pairwise_matrix(self.loss_fn, est, ref, **kwargs)
        loss, perm = best_permutation(pw, self.solver)
        return reduce(loss, self.reduction), perm
