"""A run killed (SIGKILL) in the middle of writing or pruning a checkpoint: the next save or resume finds only
complete checkpoints, and nothing of the killed save is left behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from cspec.train.checkpoint import CKPT_DIR, clean_checkpoints, latest_checkpoint, list_checkpoints

_SCRIPT = textwrap.dedent("""
    import os, signal, shutil, sys
    import torch
    import cspec.train.checkpoint as ck
    from cspec.models import build

    run, when = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    model = build("crn", channels=(4, 4, 8, 8, 8))
    for step in (1, 2, 3):
        ck.save_checkpoint(run, step, model, {"n": step}, keep=3)

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if when == "writing":  # the model is written, the state is not
        ck.write_state = die
    else:  # pruning: the oldest checkpoint has lost one file when the process dies
        def half_rmtree(path, ignore_errors=False):
            os.remove(os.path.join(path, "state.json"))
            die()
        ck.shutil.rmtree = half_rmtree
    ck.save_checkpoint(run, 4, model, {"n": 4}, keep=3)
""")


@pytest.mark.parametrize("when", ["writing", "pruning"])
def test_kill_while_saving_leaves_nothing_visible_and_is_cleaned(tmp_path, when):
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(run), when], capture_output=True, timeout=120)
    assert proc.returncode == -9
    root = run / CKPT_DIR
    visible = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    complete = [p.name for _, p in list_checkpoints(run)]
    assert visible == sorted(complete + ["latest"])  # no step-N/ without its files, whatever the moment of the kill
    assert latest_checkpoint(run) is not None
    hidden = [p.name for p in root.iterdir() if p.name.startswith(".")]
    assert hidden  # SIGKILL cannot be caught: the half-written or half-deleted folder stays, hidden ...
    removed = clean_checkpoints(run)  # ... until the next save or resume
    assert sorted(p.name for p in removed) == sorted(hidden)
    assert sorted(p.name for p in root.iterdir()) == sorted(complete + ["latest"])
