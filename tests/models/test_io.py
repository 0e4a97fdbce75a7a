"""Model files: safetensors + config.json round-trip, and pickle payloads refused without being run."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

import cspec
from cspec.errors import ConfigError
from cspec.models import build, load, save
from cspec.train.checkpoint import load_checkpoint


class _Payload:
    """Unpickling this object would create ``path`` (``open(path, "w")``): the test checks it never exists."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_round_trip_same_outputs_and_config(tmp_path):
    torch.manual_seed(0)
    model = build("gtcrn", channels=4, hidden=4, n_dprnn=1).eval()
    folder = save(model, tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    assert meta["name"] == "gtcrn" and meta["cspec_version"] == cspec.__version__ and meta["sample_rate"] == 16000
    assert meta["config"]["channels"] == 4 and meta["config"]["n_dprnn"] == 1
    again = load(folder).eval()
    assert type(again) is type(model) and again.config["hidden"] == 4
    for (k, a), (k2, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = torch.randn(2, 8000)
    with torch.no_grad():
        assert torch.equal(model(x)["wave"], again(x)["wave"])
    assert torch.equal(load(folder / "model.safetensors").state_dict()["encoder.0.0.weight"],
                       model.state_dict()["encoder.0.0.weight"])


def test_loaded_model_runs_in_eval_mode(tmp_path):
    """A loaded model is ready to run: its BatchNorm layers use the saved statistics, so a single input gives the
    saved model's eval output (train mode would normalise with the batch's own statistics and change them)."""
    torch.manual_seed(0)
    model = build("gtcrn", channels=4, hidden=4, n_dprnn=1)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.5)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
    model.eval()
    again = load(save(model, tmp_path / "m"))
    assert not again.training and not any(m.training for m in again.modules())
    before = {k: v.clone() for k, v in again.state_dict().items()}
    x = torch.randn(1, 8000)
    with torch.no_grad():
        assert torch.equal(again(x)["wave"], model(x)["wave"])
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in before.items())  # statistics untouched


def test_separation_model_round_trip(tmp_path):
    model = build("convtasnet", n_filters=16, bn_chan=8, hid_chan=16, skip_chan=8, n_blocks=2, n_repeats=1)
    again = load(save(model, tmp_path / "sep"))
    assert again.n_sources == model.n_sources == 2
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


@pytest.mark.parametrize("name", ["model.pt", "model.ckpt", "model.safetensors"])
def test_pickle_payload_refused_and_never_run(tmp_path, name):
    marker = tmp_path / "pwned.txt"
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / name).write_bytes(pickle.dumps({"state_dict": _Payload(marker)}))
    (folder / "config.json").write_text(json.dumps({"name": "gtcrn", "config": {}}))
    with pytest.raises(ConfigError, match="never unpickles|pickle"):
        load(folder / name)
    with pytest.raises(ConfigError, match="pickle|safetensors"):
        load(folder)
    with pytest.raises(ConfigError, match="pickle|safetensors"):
        load_checkpoint(folder / name)
    assert not marker.exists()


def test_torch_save_zip_checkpoint_refused(tmp_path):
    marker = tmp_path / "pwned.txt"
    torch.save({"payload": _Payload(marker)}, tmp_path / "last.ckpt")
    assert not marker.exists()
    for target in (tmp_path / "last.ckpt", tmp_path):
        with pytest.raises(ConfigError):
            load_checkpoint(target)
    assert not marker.exists()


def test_mismatched_weights_and_bad_config_are_config_errors(tmp_path):
    folder = save(build("gtcrn", channels=4, hidden=4, n_dprnn=1), tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["channels"] = 8
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="do not fit|size mismatch"):
        load(folder)
    (folder / "config.json").write_text(json.dumps({"name": "gtcrm", "config": {}}))
    with pytest.raises(ConfigError, match="Did you mean 'gtcrn'"):
        load(folder)
    with pytest.raises(ConfigError, match="give a folder"):
        save(build("gtcrn"), tmp_path / "x.safetensors")


def test_saved_files_get_the_umask_rights(tmp_path):
    # like a plain open(): 0o666 minus the umask (safetensors alone would leave 0600)
    import os
    import stat

    old = os.umask(0o022)
    try:
        folder = save(build("gtcrn", channels=4, hidden=4, n_dprnn=1), tmp_path / "m")
    finally:
        os.umask(old)
    assert stat.S_IMODE((folder / "model.safetensors").stat().st_mode) == 0o644
