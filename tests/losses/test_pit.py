"""PIT wrapper against asteroid's PITLossWrapper and against a brute-force minimum over all permutations.

asteroid 0.7 pins torchmetrics<=0.11.4 while the project tests against torchmetrics>=1.0, so it is not in the
``test`` extra: install it with ``pip install --no-deps asteroid``. Its PIT wrapper and SDR losses only need
torch and scipy, so they are loaded from their files without running ``asteroid/__init__`` (which imports the
models and huggingface_hub).
"""

import importlib.util
from itertools import permutations
from pathlib import Path

import pytest
import torch

from cspec.errors import ConfigError
from cspec.losses import PITLoss, SISDRLoss, best_permutation, build, reorder, si_sdr


def _asteroid_module(name):
    root = Path(importlib.util.find_spec("asteroid").submodule_search_locations[0])
    spec = importlib.util.spec_from_file_location(f"_asteroid_{name}", root / "losses" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


AST_PIT = _asteroid_module("pit_wrapper").PITLossWrapper
AST_SDR = _asteroid_module("sdr")


def _batch(n_src, seed, batch=6, samples=400):
    g = torch.Generator().manual_seed(seed)
    ref = torch.randn(batch, n_src, samples, generator=g, dtype=torch.float64)
    # estimates: each a shuffled reference plus noise (so the best permutation is not the identity), or pure noise
    est = torch.empty_like(ref)
    for b in range(batch):
        perm = torch.randperm(n_src, generator=g)
        est[b] = ref[b, perm] + (0.3 + 0.4 * b) * torch.randn(n_src, samples, generator=g, dtype=torch.float64)
    return est, ref


@pytest.mark.parametrize("n_src", [2, 3])
def test_matches_asteroid_with_pairwise_si_sdr(n_src):
    for seed in range(3):
        est, ref = _batch(n_src, seed)
        ours, perm = PITLoss(SISDRLoss().pairwise)(est, ref)
        theirs, reordered = AST_PIT(AST_SDR.pairwise_neg_sisdr, pit_from="pw_mtx")(est, ref, return_est=True)
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
        torch.testing.assert_close(reorder(est, perm), reordered, atol=0, rtol=0)
        # the same pairwise matrix in both wrappers: identical numbers
        same, perm2 = PITLoss(AST_SDR.pairwise_neg_sisdr)(est, ref)
        torch.testing.assert_close(same, theirs, atol=1e-12, rtol=0)
        assert torch.equal(perm2, perm)


@pytest.mark.parametrize("n_src", [2, 3])
def test_wo_src_mode_matches_asteroid_pw_pt(n_src):
    est, ref = _batch(n_src, seed=7)
    single = AST_SDR.SingleSrcNegSDR("sisdr", reduction="none")
    ours, perm = PITLoss(single, mode="wo_src")(est, ref)
    theirs, reordered = AST_PIT(single, pit_from="pw_pt")(est, ref, return_est=True)
    torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)
    torch.testing.assert_close(reorder(est, perm), reordered, atol=0, rtol=0)


def _brute_force(pw):
    """Independent reference: loop over every permutation, mean of pw[b, perm[k], k]."""
    n = pw.shape[-1]
    losses, perms = [], []
    for b in range(pw.shape[0]):
        best = min(permutations(range(n)), key=lambda p: sum(pw[b, p[k], k].item() for k in range(n)))
        losses.append(sum(pw[b, best[k], k].item() for k in range(n)) / n)
        perms.append(best)
    return torch.tensor(losses, dtype=pw.dtype), torch.tensor(perms)


@pytest.mark.parametrize("n_src", [2, 3, 4, 5])
def test_solvers_equal_brute_force(n_src):
    g = torch.Generator().manual_seed(n_src)
    pw = torch.rand(8, n_src, n_src, generator=g, dtype=torch.float64)
    ref_loss, ref_perm = _brute_force(pw)
    loss, perm = best_permutation(pw)  # exhaustive up to 3 sources, Hungarian for 4 and 5
    torch.testing.assert_close(loss, ref_loss, atol=1e-12, rtol=0)
    assert torch.equal(perm, ref_perm)
    loss_h, perm_h = best_permutation(pw, solver="hungarian")
    torch.testing.assert_close(loss_h, ref_loss, atol=1e-12, rtol=0)
    assert torch.equal(perm_h, ref_perm)


def test_hungarian_with_si_sdr_and_known_permutation():
    g = torch.Generator().manual_seed(11)
    ref = torch.randn(3, 5, 300, generator=g, dtype=torch.float64)
    true_perm = torch.stack([torch.randperm(5, generator=g) for _ in range(3)])
    est = reorder(ref, true_perm) + 0.1 * torch.randn(3, 5, 300, generator=g, dtype=torch.float64)
    loss, perm = build("pit", loss="si_sdr")(est, ref)
    # est[b, k] = ref[b, true_perm[b, k]], so reference j is matched with the estimate k where true_perm[k] = j
    assert torch.equal(perm, torch.argsort(true_perm, dim=-1))
    expected = -si_sdr(reorder(est, perm), ref, zero_mean=True).mean()
    torch.testing.assert_close(loss, expected)
    loss_ex, perm_ex = PITLoss(SISDRLoss().pairwise, solver="exhaustive")(est, ref)
    torch.testing.assert_close(loss_ex, loss)
    assert torch.equal(perm_ex, perm)


def test_reduction_and_errors():
    est, ref = _batch(2, seed=3)
    per_item, _ = PITLoss(SISDRLoss().pairwise, reduction="none")(est, ref)
    assert per_item.shape == (6,)
    mean, _ = PITLoss(SISDRLoss().pairwise)(est, ref)
    torch.testing.assert_close(mean, per_item.mean())
    with pytest.raises(ConfigError, match="mode"):
        PITLoss(SISDRLoss().pairwise, mode="pw_mtx")
    with pytest.raises(ConfigError, match="n_src, n_src"):
        PITLoss(SISDRLoss(reduction="none"))(est, ref)  # not a pairwise matrix
    with pytest.raises(ConfigError, match="one value per batch item"):
        PITLoss(SISDRLoss(), mode="wo_src")(est, ref)  # reduced to a scalar
    with pytest.raises(ConfigError, match="same batch"):
        PITLoss(SISDRLoss().pairwise)(est, ref[:, :1])
