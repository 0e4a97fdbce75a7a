"""Training state without pickle: tensors to safetensors, everything else to tagged JSON.

:func:`split_state` walks a nested structure (an optimiser's ``state_dict``, a scheduler's, counters ...) and
returns a JSON-able skeleton plus a flat ``{key: tensor}`` table; :func:`join_state` rebuilds the structure.
Tags keep what JSON loses: ``{"__tensor__": key}``, ``{"__tuple__": [...]}``, and ``{"__items__": [[k, v]...]}``
for dicts whose keys are not plain strings (an optimiser's ``state`` is keyed by parameter index). Anything
else (functions, arbitrary objects) is refused: it could only be stored by pickling it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from cspec.errors import ConfigError
from cspec.models.io import atomic_save_tensors, atomic_write_text, check_safetensors, read_json

__all__ = ["split_state", "join_state", "write_state", "read_state"]

_TAGS = ("__tensor__", "__tuple__", "__items__")


def split_state(obj, tensors: dict | None = None, prefix: str = "s") -> tuple[object, dict]:
    """``(skeleton, tensors)``: ``skeleton`` is JSON-able, ``tensors`` maps keys to contiguous CPU tensors."""
    tensors = {} if tensors is None else tensors

    def enc(x, key: str):
        if torch.is_tensor(x):
            tensors[key] = x.detach().to("cpu").contiguous().clone()
            return {"__tensor__": key}
        if isinstance(x, (bool, int, float, str)) or x is None:
            return x
        if isinstance(x, tuple):
            return {"__tuple__": [enc(v, f"{key}.{i}") for i, v in enumerate(x)]}
        if isinstance(x, list):
            return [enc(v, f"{key}.{i}") for i, v in enumerate(x)]
        if isinstance(x, dict):
            if all(isinstance(k, str) and k not in _TAGS for k in x):
                return {k: enc(v, f"{key}.{k}") for k, v in x.items()}
            return {"__items__": [[enc(k, f"{key}.k{i}"), enc(v, f"{key}.{i}")] for i, (k, v) in enumerate(x.items())]}
        raise ConfigError(f"training state '{key}' holds a {type(x).__name__}, which cannot be saved without "
                          "pickle; keep states to tensors, numbers, strings, lists and dicts")

    return enc(obj, prefix), tensors


def join_state(skeleton, tensors: dict):
    """Inverse of :func:`split_state`."""

    def dec(x):
        if isinstance(x, list):
            return [dec(v) for v in x]
        if isinstance(x, dict):
            if set(x) == {"__tensor__"}:
                if x["__tensor__"] not in tensors:
                    raise ConfigError(f"training state refers to a missing tensor '{x['__tensor__']}'")
                return tensors[x["__tensor__"]]
            if set(x) == {"__tuple__"}:
                return tuple(dec(v) for v in x["__tuple__"])
            if set(x) == {"__items__"}:
                return {_key(dec(k)): dec(v) for k, v in x["__items__"]}
            return {k: dec(v) for k, v in x.items()}
        return x

    return dec(skeleton)


def _key(k):
    return tuple(k) if isinstance(k, list) else k


def write_state(folder: str | os.PathLike, name: str, state) -> None:
    """Write ``state`` as ``folder/name.json`` and ``folder/name.safetensors`` (through temporary files)."""
    folder = Path(folder)
    skeleton, tensors = split_state(state)
    atomic_save_tensors(tensors, folder / f"{name}.safetensors")
    atomic_write_text(folder / f"{name}.json", json.dumps(skeleton, indent=1) + "\n")


def read_state(folder: str | os.PathLike, name: str, device: str = "cpu"):
    """Read what :func:`write_state` wrote; the tensor file is checked to be safetensors (never unpickled)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = folder / f"{name}.json"
    if not meta.is_file():
        raise ConfigError(f"{meta}: missing; is {folder} a cspec training checkpoint?")
    skeleton = read_json(meta)
    tensors = load_file(str(check_safetensors(folder / f"{name}.safetensors")), device=device)
    return join_state(skeleton, tensors)
