"""Pieces of resuming: pickle-free state files, the step-indexed data order, the schedules, checkpoints on disk."""

from __future__ import annotations

import math

import pytest
import torch

from cspec.errors import ConfigError
from cspec.models import build
from cspec.train.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from cspec.train.data import StepBatchSampler, ValidSampler
from cspec.train.optim import schedule_factor
from cspec.train.schema import ScheduleSection
from cspec.train.state import join_state, read_state, split_state, write_state


def test_optimizer_state_round_trip_without_pickle(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.8, 0.9))
    for _ in range(2):
        net(torch.randn(4, 3)).square().sum().backward()
        opt.step()
    state = {"opt": opt.state_dict(), "pair": (1, 2.5), "nan": math.nan, "none": None, "keys": {(1, 2): "x"}}
    skeleton, tensors = split_state(state)
    assert set(tensors) == {"s.opt.state.1.step", "s.opt.state.1.exp_avg", "s.opt.state.1.exp_avg_sq",
                            "s.opt.state.0.step", "s.opt.state.0.exp_avg", "s.opt.state.0.exp_avg_sq"}
    write_state(tmp_path, "st", state)
    back = read_state(tmp_path, "st")
    assert back["pair"] == (1, 2.5) and math.isnan(back["nan"]) and back["keys"] == {(1, 2): "x"}
    assert back["opt"]["param_groups"][0]["betas"] == (0.8, 0.9)
    assert list(back["opt"]["state"]) == [0, 1]
    assert torch.equal(back["opt"]["state"][1]["exp_avg_sq"], opt.state_dict()["state"][1]["exp_avg_sq"])
    fresh = torch.optim.Adam(net.parameters(), lr=1e-2)
    fresh.load_state_dict(back["opt"])
    assert fresh.state_dict()["param_groups"][0]["betas"] == (0.8, 0.9)
    assert join_state(skeleton, tensors)["pair"] == (1, 2.5)
    with pytest.raises(ConfigError, match="cannot be saved without pickle"):
        split_state({"fn": print})


def test_sampler_resumes_and_splits_ranks():
    full = list(StepBatchSampler(10, 2, seed=5, start=0, total=12))
    assert len(full) == 12 and all(len(b) == 2 for b in full)
    per_epoch = [i for b in full[:5] for _, i in b]
    assert sorted(per_epoch) == list(range(10))  # one pass visits every item once
    assert {e for b in full[5:10] for e, _ in b} == {1} and full[:5] != full[5:10]
    assert list(StepBatchSampler(10, 2, seed=5, start=7, total=12)) == full[7:]
    assert list(StepBatchSampler(10, 2, seed=6, start=0, total=12)) != full
    r0 = list(StepBatchSampler(10, 2, seed=5, start=0, total=4, rank=0, world=2))
    r1 = list(StepBatchSampler(10, 2, seed=5, start=0, total=4, rank=1, world=2))
    order = StepBatchSampler(10, 2, seed=5, start=0, total=4, world=2).order(0)
    assert [i for _, i in r0[0] + r1[0]] == order[:4].tolist()
    assert not {i for _, i in r0[0]} & {i for _, i in r1[0]}
    assert [b for b in ValidSampler(5, 2, rank=1, world=2)] == [[1, 3]]
    with pytest.raises(Exception, match="fewer than one global batch"):
        StepBatchSampler(3, 2, seed=0, start=0, total=1, world=2)


def test_schedules():
    s = ScheduleSection(name="cosine", warmup_steps=10, min_lr_ratio=0.1)
    assert schedule_factor(s, 110, 0) == pytest.approx(0.1) and schedule_factor(s, 110, 9) == 1.0
    assert schedule_factor(s, 110, 60) == pytest.approx(0.55) and schedule_factor(s, 110, 110) == pytest.approx(0.1)
    assert schedule_factor(ScheduleSection(name="exponential", gamma=0.99, step_size=100), 1000, 200) == \
        pytest.approx(0.99 ** 2)
    assert schedule_factor(ScheduleSection(name="step", gamma=0.5, step_size=3), 100, 7) == 0.25
    assert schedule_factor(ScheduleSection(name="linear", min_lr_ratio=0.0), 100, 25) == 0.75


def test_checkpoint_folders_keep_and_latest(tmp_path):
    model = build("gtcrn", channels=4, hidden=4, n_dprnn=1)
    for step in (2, 4, 6):
        save_checkpoint(tmp_path, step, model, {"x": torch.full((2,), float(step))}, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [4, 6]
    assert latest_checkpoint(tmp_path).name == "step-00000006"
    weights, state = load_checkpoint(tmp_path)
    assert state["step"] == 6 and torch.equal(state["x"], torch.tensor([6.0, 6.0]))
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    (tmp_path / "checkpoints" / "latest").write_text("step-00000099\n")  # stale pointer: the scan wins
    assert latest_checkpoint(tmp_path).name == "step-00000006"
    (tmp_path / "checkpoints" / "step-00000006" / "state.json").unlink()  # incomplete folder: skipped
    assert latest_checkpoint(tmp_path).name == "step-00000004"
