"""Reading a recipe: YAML -> ``key=value`` overrides -> typed :class:`~cspec.train.schema.Recipe`, all checked.

Every key is looked up in the schema; an unknown one raises :class:`~cspec.errors.ConfigError` naming its
full path and the closest valid key (``difflib``), e.g. ``recipe key 'optim.lrr' is unknown; did you mean
'optim.lr'?``. Values are checked against the field types (YAML's ``1e-3``, which YAML 1.1 reads as a string,
is accepted for a float) and choices. Overrides use the same paths: ``optim.lr=3e-4``, ``model.options.channels=8``,
``loss.weights.si_sdr=1``; their values are parsed as YAML.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import typing
from pathlib import Path
from types import UnionType
from typing import Any, Sequence

from cspec.errors import ConfigError
from cspec.train.schema import Recipe

_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9_]+)[eE][-+]?[0-9]+$")

__all__ = ["load_recipe", "recipe_from_dict", "recipe_to_dict", "apply_override", "parse_override"]


def _hint(key: str, valid: Sequence[str], path: str) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    where = f"{path}." if path else ""
    return f"; did you mean '{where}{close[0]}'?" if close else ""


def unknown_key(key: str, valid: Sequence[str], path: str, what: str = "recipe key") -> ConfigError:
    full = f"{path}.{key}" if path else key
    listing = ", ".join(valid)
    return ConfigError(f"{what} '{full}' is unknown{_hint(key, valid, path)} (valid keys of "
                       f"{path or 'the recipe'}: {listing})")


def _split_optional(tp) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(tp))
    return tp, False


def _describe(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def _convert(value, tp, path: str, choices: tuple = ()):
    base, optional = _split_optional(tp)
    if value is None:
        if optional:
            return None
        if dataclasses.is_dataclass(base):
            value = {}
        else:
            raise ConfigError(f"recipe key '{path}' cannot be empty (null)")
    if dataclasses.is_dataclass(base):
        if not isinstance(value, dict):
            raise ConfigError(f"recipe key '{path}' must be a mapping of keys, got {_describe(value)}")
        return _dataclass(base, value, path)
    if base is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"recipe key '{path}' must be true or false, got {_describe(value)}")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"recipe key '{path}' must be an integer, got {_describe(value)}")
        return value
    if base is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"recipe key '{path}' must be a number, got {_describe(value)}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"recipe key '{path}' must be a number, got {_describe(value)}")
        return float(value)
    if base is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigError(f"recipe key '{path}' must be a string, got {_describe(value)}")
        if choices and value not in choices:
            close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"recipe key '{path}': unknown value '{value}'{hint} (choose one of "
                              f"{', '.join(choices)})")
        return value
    if base is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"recipe key '{path}' must be a list, got {_describe(value)}")
        return list(value)
    if base is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"recipe key '{path}' must be a mapping, got {_describe(value)}")
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise ConfigError(f"recipe key '{path}': keys must be strings, got {bad[0]!r}")
        return dict(value)
    raise ConfigError(f"recipe key '{path}': unsupported schema type {tp!r}")  # pragma: no cover


def _dataclass(cls, raw: dict, path: str):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            raise unknown_key(str(key), list(fields), path)
        sub = f"{path}.{key}" if path else key
        kwargs[key] = _convert(value, hints[key], sub, fields[key].metadata.get("choices", ()))
    return cls(**kwargs)


def recipe_from_dict(raw: dict) -> Recipe:
    """Check ``raw`` (a parsed YAML mapping) against the schema and return the typed recipe."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a recipe must be a mapping of sections (model, loss, data ...), got {_describe(raw)}")
    return _dataclass(Recipe, raw, "")


def recipe_to_dict(recipe: Recipe) -> dict:
    """The recipe as plain data (for the run folder's ``recipe.json`` and checkpoints)."""
    return dataclasses.asdict(recipe)


def yaml_load(text: str):
    """``yaml.safe_load`` that also reads ``1e-3`` as a float (YAML 1.2; YAML 1.1 needs ``1.0e-3``)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optim.lr=3e-4"`` -> ``(["optim", "lr"], 3e-4)``; the value is parsed as YAML."""
    import yaml

    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like key=value, e.g. optim.lr=3e-4 or trainer.max_steps=10")
    key, _, value = text.partition("=")
    keys = [k.strip() for k in key.strip().split(".")]
    if not all(keys):
        raise ConfigError(f"override '{text}': empty key in '{key}'")
    try:
        parsed = yaml_load(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override '{text}': the value is not valid YAML ({exc.__class__.__name__})") from None
    return keys, parsed


def apply_override(raw: dict, keys: list[str], value) -> None:
    """Set ``raw[k1][k2]... = value`` after checking each key against the schema (free below dict fields)."""
    tp: Any = Recipe
    node = raw
    for depth, key in enumerate(keys):
        path = ".".join(keys[:depth])
        base, _ = _split_optional(tp)
        if dataclasses.is_dataclass(base):
            fields = {f.name: f for f in dataclasses.fields(base)}
            if key not in fields:
                raise unknown_key(key, list(fields), path, "override key")
            tp = typing.get_type_hints(base)[key]
        elif base is not dict:
            raise ConfigError(f"override key '{'.'.join(keys)}': '{path}' is a value, not a section")
        if depth == len(keys) - 1:
            node[key] = value
            return
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]


def _unshare(value):
    """A copy of nested dicts and lists in which no two paths share an object (``copy.deepcopy`` keeps sharing)."""
    if isinstance(value, dict):
        return {k: _unshare(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshare(v) for v in value]
    return value


def load_recipe(path: str | os.PathLike | dict, overrides: Sequence[str] = ()) -> Recipe:
    """Read a YAML recipe (or take a dict), apply ``key=value`` overrides and return the checked recipe."""
    import yaml

    if isinstance(path, dict):
        raw = path  # copied below
    else:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"{file}: no such recipe file")
        try:
            raw = yaml_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if raw is None:
            raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of sections (model, loss, data ...)")
    # a copy, never the caller's dict; and a YAML alias (*sim) is one object: an override of one path must not
    # change the other, which copy.deepcopy would keep shared
    raw = _unshare(raw)
    for text in overrides:
        apply_override(raw, *parse_override(text))
    return recipe_from_dict(raw)
