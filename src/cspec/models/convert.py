"""Published checkpoints -> cspec model folders, loading tensors only.

A converter is a function ``state_dict -> (name, config, cspec_state_dict)`` registered under the name of the
architecture's official code (:func:`register_converter`); :func:`convert` reads the checkpoint with
``torch.load(weights_only=True)`` (plain containers of tensors, never arbitrary pickles) or safetensors, finds the
weights in it (``model``, ``state_dict`` or the dict itself), runs the converter, loads the result strictly into
the cspec model (every tensor accounted for, shapes checked) and saves the folder with :func:`cspec.models.save`.
Another architecture is one more small function that renames (and where the official code uses another
convolution form, transforms) its tensors.

GTCRN (Rong et al. 2024, ICASSP; official code github.com/Xiaobin-Rong/gtcrn, MIT): the official module tree maps
one to one onto :class:`cspec.models.gtcrn.GTCRN`. Two forms differ: the official decoder's GTConv blocks use
transposed convolutions; with stride 1, a transposed 1 x 1 convolution is a convolution with its weight's two
channel axes swapped, and the transposed depth-wise 3 x 3 convolution (time padding ``2 d`` after ``2 d`` frames of
left padding, frequency padding 1) is the causal convolution with the kernel flipped in time and frequency. The
official fixed ERB matrices are checked against cspec's (they agree to float rounding) and not copied. The
official inference centres frames with reflect padding; cspec's causal STFT pads with zeros, so the spectra the
models see differ in the first and last frame only (the converted network, given the same spectrum, returns the
official output to float precision: tests/models/test_convert.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import torch

from cspec.errors import ConfigError, ModelError

__all__ = ["convert", "convert_state_dict", "register_converter", "CONVERTERS", "read_checkpoint"]

#: official architecture name -> converter(state_dict) -> (cspec model name, config, cspec state dict)
CONVERTERS: dict[str, Callable[[dict], tuple[str, dict, dict]]] = {}


def register_converter(name: str):
    """Decorator: register a converter of an official checkpoint layout under ``name``."""
    def deco(fn):
        CONVERTERS[name] = fn
        return fn
    return deco


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The tensors of a checkpoint file, read without executing pickled code; the weights' dict inside it."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: no such checkpoint file")
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(file))
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types for a bad file
            raise ModelError(f"{file}: not a readable safetensors file ({exc})") from None
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a pickle that needs code, a truncated or foreign file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{file}: not a checkpoint that loads as plain tensors ({reason[:200]})") from None
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{file}: found no dict of tensors (looked at the top level and 'model', 'state_dict')")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def convert_state_dict(state: dict, arch: str = "gtcrn"):
    """Convert an official state dict; returns a cspec model with the weights loaded (eval mode)."""
    from cspec.models import build

    if arch not in CONVERTERS:
        raise ConfigError(f"no converter for '{arch}'; known: {', '.join(sorted(CONVERTERS))}")
    name, config, tensors = CONVERTERS[arch](state)
    model = build(name, **config)
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    if missing:
        raise ModelError(f"the checkpoint is not an official '{arch}' one: no tensor for {', '.join(missing[:3])}"
                         f"{' ...' if len(missing) > 3 else ''}")
    for key, value in tensors.items():
        if key not in own:
            raise ModelError(f"the converter of '{arch}' made an unknown tensor {key}")
        if tuple(value.shape) != tuple(own[key].shape):
            raise ModelError(f"the checkpoint is not an official '{arch}' one: {key} has shape {tuple(value.shape)}, "
                             f"expected {tuple(own[key].shape)}")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()}, strict=True)
    return model.eval()


def convert(checkpoint: str | os.PathLike, out: str | os.PathLike, arch: str = "gtcrn") -> Path:
    """Convert the published checkpoint file ``checkpoint`` of architecture ``arch`` into the cspec model folder
    ``out`` (``model.safetensors`` + ``config.json``); returns the folder."""
    from cspec.models.io import save

    model = convert_state_dict(read_checkpoint(checkpoint), arch)
    return save(model, out)


# -- GTCRN ---------------------------------------------------------------------------------------------------

_GT_PARTS = {  # official GTConvBlock part -> cspec GTConv part
    "point_conv1": "point1.0", "point_bn1": "point1.1", "point_act": "point1.2", "depth_conv": "depth.conv",
    "depth_bn": "depth_post.0", "depth_act": "depth_post.1", "point_conv2": "point2.0", "point_bn2": "point2.1",
    "tra.att_gru": "tra.gru", "tra.att_fc": "tra.fc",
}
_CONV_PARTS = {"conv": "0", "bn": "1", "act": "2"}


def _gtcrn_key(key: str) -> str | None:
    m = re.fullmatch(r"(encoder\.en_convs|decoder\.de_convs)\.(\d)\.(.+)\.([^.]+)", key)
    if m:
        side = "encoder" if m.group(1).startswith("encoder") else "decoder"
        part = m.group(3)
        parts = _GT_PARTS if part in _GT_PARTS else _CONV_PARTS
        if part not in parts:
            return None
        return f"{side}.{m.group(2)}.{parts[part]}.{m.group(4)}"
    m = re.fullmatch(r"dpgrnn(\d)\.(intra|inter)_rnn\.rnn(\d)\.(.+)", key)
    if m:
        return f"dprnn.{int(m.group(1)) - 1}.{m.group(2)}.rnns.{int(m.group(3)) - 1}.{m.group(4)}"
    m = re.fullmatch(r"dpgrnn(\d)\.((?:intra|inter)_(?:fc|ln)\.[^.]+)", key)
    if m:
        return f"dprnn.{int(m.group(1)) - 1}.{m.group(2)}"
    return None


@register_converter("gtcrn")
def _gtcrn(state: dict) -> tuple[str, dict, dict]:
    from cspec.models.gtcrn import GTCRN

    erb = state.get("erb.erb_fc.weight")
    if erb is None:
        raise ModelError("the checkpoint is not an official GTCRN one: it has no 'erb.erb_fc.weight'")
    ref = GTCRN().erb.fb
    if tuple(erb.shape) != tuple(ref.shape) or float((erb.float() - ref).abs().max()) > 1e-5:
        raise ModelError("the checkpoint's ERB filters differ from GTCRN's (65 low bins + 64 bands at 16 kHz)")
    out = {}
    for key, value in state.items():
        if key.startswith("erb."):
            continue
        new = _gtcrn_key(key)
        if new is None:
            raise ModelError(f"the checkpoint is not an official GTCRN one: unexpected tensor {key}")
        decoder_gt = key.startswith("decoder.de_convs.") and int(key.split(".")[2]) < 3
        if decoder_gt and key.endswith("weight") and ".point_conv" in key:
            value = value.transpose(0, 1)  # transposed 1 x 1 conv -> conv: swap in and out channels
        elif decoder_gt and key.endswith("depth_conv.weight"):
            value = value.flip(-1, -2)  # transposed depth-wise conv -> causal conv with the kernel flipped
        out[new] = value
    out["erb.fb"] = ref.clone()
    return "gtcrn", {}, out
