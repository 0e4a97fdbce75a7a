"""Checkpoints of a run: one folder per saved step, written atomically, nothing pickled.

Layout of ``<run>/checkpoints/step-00001000/``::

    model.safetensors, config.json   the model's raw weights and config (a folder cspec.models.load reads)
    state.safetensors, state.json    everything else needed to resume: optimiser and scheduler states, EMA
                                     weights, discriminator, step and counters, the recipe

A checkpoint is assembled in a hidden temporary folder and renamed into place, then ``checkpoints/latest``
(a text file naming the folder) is replaced atomically, so a run killed at any instant leaves either the
previous or the new checkpoint complete. Old checkpoints are renamed to a hidden name before they are deleted,
so a kill during pruning leaves no visible ``step-N/`` without its files. Resuming reads ``latest`` (or the
highest complete step folder); whatever a killed save left is removed at the next save or resume
(:func:`clean_checkpoints`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from cspec.audio.fs import process_running
from cspec.errors import ConfigError
from cspec.models.io import CONFIG_NAME, WEIGHTS_NAME, atomic_write_text
from cspec.models.io import save as save_model
from cspec.train.state import read_state, write_state

__all__ = ["save_checkpoint", "load_checkpoint", "latest_checkpoint", "list_checkpoints", "export_checkpoint",
           "clean_checkpoints", "CKPT_DIR"]

CKPT_DIR = "checkpoints"
_STEP = re.compile(r"^step-(\d+)$")
_HIDDEN = re.compile(r"^\.(tmp|old)-step-\d+-(\d+)$")
_PICKLES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")


def _complete(folder: Path) -> bool:
    return all((folder / n).is_file() for n in (WEIGHTS_NAME, CONFIG_NAME, "state.json", "state.safetensors"))


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoint folders of a run, sorted by step."""
    root = Path(run_dir) / CKPT_DIR
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP.match(p.name)) and p.is_dir()]
    return sorted((s, p) for s, p in found if _complete(p))


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The checkpoint named by ``checkpoints/latest``, else the complete one with the highest step."""
    root = Path(run_dir) / CKPT_DIR
    pointer = root / "latest"
    if pointer.is_file():
        target = root / pointer.read_text(encoding="utf-8").strip()
        if _STEP.match(target.name) and _complete(target):
            return target
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def clean_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Remove what a run killed while saving or pruning left in ``<run>/checkpoints``; return what was removed.

    That is: hidden ``.tmp-step-*`` / ``.old-step-*`` folders of processes that no longer run (a kill during a
    write, or during the removal of an old or replaced checkpoint), and visible ``step-N`` folders that are not
    complete. Neither can be resumed from; complete checkpoints and ``latest`` are never touched.
    """
    root = Path(run_dir) / CKPT_DIR
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for p in root.iterdir():
        m = _HIDDEN.match(p.name)
        stale = m is not None and not process_running(int(m.group(2)))
        broken = _STEP.match(p.name) is not None and p.is_dir() and not _complete(p)
        if stale or broken:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _discard(root: Path, folder: Path) -> None:
    """Remove a checkpoint folder so that a kill at any instant leaves no visible, incomplete ``step-N``: rename
    it to a hidden name first (atomic), then delete it."""
    old = root / f".old-{folder.name}-{os.getpid()}"
    os.replace(folder, old)
    shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(run_dir: str | os.PathLike, step: int, model, state: dict, keep: int = 3,
                    model_state: dict | None = None) -> Path:
    """Write the checkpoint of ``step`` (model, then ``state``) and keep the ``keep`` most recent ones.

    What an earlier, killed save left behind is removed first (:func:`clean_checkpoints`).
    """
    root = Path(run_dir) / CKPT_DIR
    root.mkdir(parents=True, exist_ok=True)
    clean_checkpoints(run_dir)
    name = f"step-{int(step):08d}"
    tmp = root / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(model, tmp, state_dict=model_state)
    write_state(tmp, "state", {**state, "step": int(step)})
    final = root / name
    if final.exists():  # the same step saved again (a resumed run): move the old one out of the way first
        _discard(root, final)
    os.replace(tmp, final)
    atomic_write_text(root / "latest", name + "\n")
    if keep > 0:
        for _, path in list_checkpoints(run_dir)[:-keep]:
            if path != final:
                _discard(root, path)
    return final


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[dict, dict]:
    """``(model_weights, state)`` of a checkpoint folder (or a run folder: its latest checkpoint).

    Pickle files (``.ckpt``, ``.pt`` ...) are refused without being opened.
    """
    from safetensors.torch import load_file

    from cspec.models.io import check_safetensors

    src = Path(path)
    if src.is_file() and src.suffix.lower() in _PICKLES:
        raise ConfigError(f"{src}: a pickle checkpoint; cspec resumes only from its own safetensors + JSON "
                          "checkpoint folders (pickles can run code when loaded)")
    if src.is_file():
        src = src.parent
    if not src.is_dir():
        raise ConfigError(f"{src}: no such checkpoint folder")
    if not _complete(src):
        found = latest_checkpoint(src)
        if found is None:
            raise ConfigError(f"{src}: neither a checkpoint folder ({WEIGHTS_NAME}, state.json ...) nor a run "
                              f"folder with complete checkpoints in {CKPT_DIR}/")
        src = found
    weights = load_file(str(check_safetensors(src / WEIGHTS_NAME)), device=device)
    return weights, read_state(src, "state", device=device)


def export_checkpoint(path: str | os.PathLike, out: str | os.PathLike, ema: bool = True) -> Path:
    """Write the model of a checkpoint (or of a run folder's latest one) to the model folder ``out``, with
    the EMA weights when the run kept them and ``ema`` is true: what ``<run>/model`` holds after a finished
    run, for a run stopped early. ``out`` must not exist yet. Returns ``out``."""
    from cspec.models.io import load as load_model

    dst = Path(out)
    if dst.exists():
        raise ConfigError(f"{dst}: already exists; give a new folder for the exported model")
    src = Path(path)
    folder = src if _complete(src) else latest_checkpoint(src)
    if folder is None:
        raise ConfigError(f"{src}: neither a checkpoint folder nor a run folder with complete checkpoints")
    _, state = load_checkpoint(folder)
    model = load_model(folder)
    shadow = state.get("ema") if ema else None
    return save_model(model, dst, state_dict=shadow or None)
