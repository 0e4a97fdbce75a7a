"""Model files: ``model.safetensors`` (the weights) plus ``config.json`` (what to build), never a pickle.

``save(model, path)`` writes a folder::

    path/model.safetensors   tensors only (safetensors format: a JSON header and raw bytes)
    path/config.json         {"format": "cspec-model", "name": registry name, "config": model.config,
                              "sample_rate": ..., "cspec_version": ...}

``load(path)`` rebuilds the model through the registry (:func:`cspec.models.build`) and copies the weights in.
Nothing is unpickled: a ``.pt``/``.ckpt``/``.bin`` file or any file that is not a safetensors file is refused
before a byte of it is interpreted, so a crafted checkpoint cannot run code.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch

from cspec.errors import ConfigError, ModelError
from cspec.models.base import SpeechModel, build

__all__ = ["save", "load", "check_safetensors", "atomic_write_text", "model_digest", "WEIGHTS_NAME", "CONFIG_NAME",
           "ONNX_NAME"]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
#: an offline ONNX export of the folder's model (``cspec export``), which ``Enhancer`` may run instead
ONNX_NAME = "model.onnx"
_MAX_HEADER = 100_000_000  # the safetensors library's own limit on the JSON header


def check_safetensors(path: str | os.PathLike) -> Path:
    """Return ``path`` if it is a safetensors file; raise :class:`ConfigError` otherwise, without unpickling.

    A safetensors file starts with an 8-byte little-endian header length followed by a JSON object; pickles
    (``torch.save``'s zip or legacy format, ``.ckpt`` of Lightning) do not.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(9)
    size = struct.unpack("<Q", head[:8])[0] if len(head) >= 8 else 0
    if len(head) < 9 or not 2 <= size <= _MAX_HEADER or head[8:9] != b"{" or size + 8 > path.stat().st_size:
        raise ConfigError(
            f"{path}: not a safetensors file; cspec loads weights only from safetensors and never unpickles "
            "(.pt/.ckpt/.bin files can run code). Convert it where you trust it: "
            "safetensors.torch.save_file(torch.load(f, weights_only=True), 'model.safetensors')"
        )
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (readers never see half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def atomic_save_tensors(tensors: dict, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Write ``tensors`` as a safetensors file at ``path`` through a temporary file and a rename, with the rights
    a plain ``open()`` would give (``0o666`` minus the umask; safetensors alone leaves ``0600``)."""
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    save_file(tensors, str(tmp), metadata=metadata)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, path)
    return path


def read_json(path: Path):
    """The JSON document in ``path``; a file that is not JSON raises :class:`ConfigError` naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None


def save(model: SpeechModel, path: str | os.PathLike, state_dict: dict | None = None) -> Path:
    """Write ``model`` to the folder ``path`` (created if needed): ``model.safetensors`` and ``config.json``.

    ``state_dict`` replaces the model's own weights (e.g. the EMA weights of a training run). Returns the folder.
    """
    from cspec import __version__

    if not isinstance(model, SpeechModel) or not getattr(model, "registry_name", None):
        raise ConfigError("cspec.models.save needs a registered cspec model (built with cspec.models.build)")
    folder = Path(path)
    if folder.suffix in (".safetensors", ".json"):
        raise ConfigError(f"{folder}: give a folder; save writes {WEIGHTS_NAME} and {CONFIG_NAME} inside it")
    folder.mkdir(parents=True, exist_ok=True)
    tensors = state_dict if state_dict is not None else model.state_dict()
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    meta = {"format": "cspec-model", "name": model.registry_name, "config": model.config,
            "sample_rate": int(model.sample_rate), "n_sources": int(model.n_sources), "cspec_version": __version__}
    try:
        config_text = json.dumps(meta, indent=2, sort_keys=True)
    except TypeError as exc:
        raise ConfigError(f"the config of model '{model.registry_name}' is not JSON-serialisable: {exc}") from None
    atomic_save_tensors(tensors, folder / WEIGHTS_NAME, {"format": "pt", "name": model.registry_name})
    atomic_write_text(folder / CONFIG_NAME, config_text + "\n")
    return folder


def read_config(path: str | os.PathLike) -> dict:
    """The ``config.json`` of a model folder, checked."""
    file = Path(path)
    file = file / CONFIG_NAME if file.is_dir() else file.with_name(CONFIG_NAME)
    if not file.is_file():
        raise ConfigError(f"{file}: no such file; a cspec model folder holds {WEIGHTS_NAME} and {CONFIG_NAME}")
    meta = read_json(file)
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not isinstance(meta.get("config"), dict):
        raise ConfigError(f"{file}: expected an object with 'name' (a model name) and 'config' (its options)")
    return meta


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu", strict: bool = True) -> SpeechModel:
    """Rebuild the model saved by :func:`save` from its folder (or its ``model.safetensors`` file).

    The architecture comes from ``config.json`` through the registry; the weights from the safetensors file.
    Pickle-based files are refused with a :class:`ConfigError` (see :func:`check_safetensors`). The model comes
    back in evaluation mode (``model.eval()``), ready to run: normalisation layers use their saved statistics
    instead of the batch's (and do not update them). Call ``model.train()`` to train it on.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    src = Path(path)
    if not src.exists():
        raise ConfigError(f"{src}: no such model file or folder")
    weights = src / WEIGHTS_NAME if src.is_dir() else src
    if src.is_dir() and not weights.is_file():
        others = sorted(p.name for p in src.iterdir() if p.suffix in (".pt", ".pth", ".ckpt", ".bin"))
        hint = f" (found {', '.join(others)}: pickle files are never loaded)" if others else ""
        raise ConfigError(f"{src}: no {WEIGHTS_NAME} in this folder{hint}")
    check_safetensors(weights)
    meta = read_config(weights.parent)
    model = build(meta["name"], **meta["config"])
    try:
        tensors = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError) as exc:
        raise ConfigError(f"{weights}: cannot read the safetensors file ({exc})") from None
    bad = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise ModelError(f"{weights}: {len(bad)} weight tensors hold NaN or Inf (first: {bad[0]}); the model is "
                         "damaged (a diverged training run?): use an earlier checkpoint")
    try:
        result = model.load_state_dict(tensors, strict=False)
    except RuntimeError as exc:
        first = [line.strip() for line in str(exc).splitlines() if "size mismatch" in line][:1]
        raise ConfigError(f"{weights}: weights do not fit model '{meta['name']}' with its config.json "
                          f"({first[0] if first else exc})") from None
    if strict and (result.missing_keys or result.unexpected_keys):
        raise ConfigError(
            f"{weights}: weights do not fit model '{meta['name']}' with its config.json: "
            f"missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}"
        )
    return model.to(map_location).eval()


def model_digest(model: torch.nn.Module) -> str:
    """SHA-256 of what a model computes: its registry name, its config (``model.config``, JSON with sorted keys)
    and its state dict (names, dtypes, shapes and bytes, in name order). An ONNX export records it, so that a
    loader can tell whether the export still computes what the folder's model does (new weights, or a config
    change such as ``mask_gain`` with the same weights, make it stale). Options a model class lists in
    ``added_options`` (introduced after bundled exports were made) count only where they differ from their default,
    so a new option does not make the existing exports stale."""
    import hashlib

    h = hashlib.sha256()
    added = getattr(model, "added_options", {})  # options added after exports were made: left out at their default
    config = {k: v for k, v in getattr(model, "config", {}).items() if not (k in added and v == added[k])}
    config = json.dumps(config, sort_keys=True, default=str)
    h.update(f"{getattr(model, 'name', type(model).__name__)}|{config}|".encode())
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()
