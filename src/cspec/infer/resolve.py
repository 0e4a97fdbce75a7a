"""Where a model comes from: the bundled folders, a folder written by :func:`cspec.models.save`, and which backend
runs it (PyTorch, or the folder's ``model.onnx`` through onnxruntime while it computes the same model)."""

from __future__ import annotations

import os
from pathlib import Path

from cspec.errors import ConfigError

__all__ = ["PRETRAINED_DIR", "BACKENDS", "available_pretrained", "locate", "resolve_model"]

#: the package's folder of bundled models, one sub-folder per name
PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
#: what runs a model folder: see :func:`resolve_model`
BACKENDS = ("auto", "torch", "onnx")


def available_pretrained() -> list[str]:
    """Names of the bundled models (sub-folders of :data:`PRETRAINED_DIR` holding a ``config.json``)."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.json").is_file())


def locate(name_or_path: str | os.PathLike, family: bool = False) -> Path:
    """The folder (or file) of a model: ``name_or_path`` itself where it exists, else the bundled folder of that
    name. ``family=True`` also accepts a bundled folder of model folders (one model per STFT, as ``phase``).
    Anything else is a one-line :class:`ConfigError` listing the bundled names."""
    text = str(name_or_path)
    path = Path(text)
    if path.exists():
        return path
    bundled = PRETRAINED_DIR / text
    if (bundled / "config.json").is_file() or (family and bundled.is_dir()):
        return bundled
    names = available_pretrained()
    if family and PRETRAINED_DIR.is_dir():
        names += [p.name for p in sorted(PRETRAINED_DIR.iterdir()) if p.is_dir() and p.name not in names
                  and any((q / "config.json").is_file() for q in p.iterdir())]
    listed = ", ".join(names) if names else "none are bundled in this version"
    raise ConfigError(f"no pretrained model or model folder '{text}'; bundled names: {listed}. "
                      "Pass a folder written by cspec.models.save (model.safetensors + config.json)")


def resolve_model(name_or_path: str | os.PathLike, backend: str = "torch", threads: int = 0):
    """Load a bundled model by name, or a model folder/file written by :func:`cspec.models.save`.

    ``backend`` (default ``"torch"``; :meth:`Enhancer.from_pretrained` defaults to ``"auto"``) picks what runs
    it: ``"torch"`` (the :class:`~cspec.models.SpeechModel`), ``"onnx"`` (the
    folder's ``model.onnx`` through onnxruntime, :class:`~cspec.infer.onnx.OnnxModel` with ``threads`` intra-op
    threads, 0 = onnxruntime's choice) or ``"auto"`` (ONNX when onnxruntime is installed and the folder holds an
    offline export of this very model, else torch). An export is used only while the digest it records
    (:func:`cspec.models.io.model_digest`: name, config and weights) matches the folder's model, so a stale
    ``model.onnx`` is never run in its place; with ``"auto"`` a stale, unreadable or streaming-only export means
    PyTorch.
    """
    from cspec.models import load

    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}")
    text = str(name_or_path)
    path = locate(text)
    model = load(path)
    if backend == "torch":
        return model
    onnx, why = _matching_export(path if path.is_dir() else path.parent, model, threads)
    if onnx is None and backend == "onnx":
        raise ConfigError(f"{text}: cannot run through onnxruntime: {why}")
    return model if onnx is None else onnx


def _matching_export(folder: Path, model, threads: int):
    """``(OnnxModel, "")`` for the folder's offline export of ``model`` (same digest), else ``(None, reason)``."""
    from cspec.models.io import ONNX_NAME, model_digest

    file = folder / ONNX_NAME
    if not file.is_file():
        return None, f"no {ONNX_NAME} in {folder} (write one with: cspec export {folder} -o {file})"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None, "onnxruntime is not installed (pip install onnxruntime)"
    from cspec.infer.onnx import OnnxModel

    try:
        onnx = OnnxModel(file, threads=threads)
    except ConfigError as err:  # not an ONNX file onnxruntime can load, or not a cspec export
        return None, str(err)
    if onnx.mode != "offline":
        return None, f"{file} is a '{onnx.mode}' export; Enhancer runs an 'offline' one"
    if onnx.meta.get("model_sha256") != model_digest(model):
        return None, (f"{file} was exported from another model (other weights or config); export it again "
                      f"(cspec export {folder} -o {file} --overwrite)")
    return onnx, ""


def resolve_on(name_or_path: str | os.PathLike, backend: str, threads: int, device) -> object:
    """:func:`resolve_model` for a model that will run on ``device``: a device other than the CPU always runs
    PyTorch (``backend="onnx"`` there is an error)."""
    import torch

    if torch.device(device).type != "cpu":
        if backend == "onnx":
            raise ConfigError("backend='onnx' runs on the CPU; use backend='torch' for another device")
        backend = "torch"
    return resolve_model(name_or_path, backend, threads)


def backend_of(model) -> str:
    """``"onnx"`` when an onnxruntime export runs the model, ``"torch"`` for a module (else the type's name)."""
    import torch

    from cspec.infer.onnx import OnnxModel

    if isinstance(model, OnnxModel):
        return "onnx"
    return "torch" if isinstance(model, torch.nn.Module) else type(model).__name__


def run_checked(model, wave, device):
    """``model(wave)["wave"]`` on ``device`` in inference mode, back on the CPU as float32; NaN or Inf on a finite
    input blames the model (:class:`cspec.errors.ModelError`), not the output file."""
    import torch

    from cspec.errors import ModelError

    # inference mode skips autograd's version counting as well: 15-20 % faster than no_grad for the cascade
    with torch.inference_mode():
        out = model(wave.to(device))["wave"]
    out = out.to("cpu", torch.float32).clone()  # an ordinary tensor again, usable anywhere afterwards
    if not bool(torch.isfinite(out).all()):
        raise ModelError(f"model '{getattr(model, 'name', type(model).__name__)}' gave NaN or Inf samples on a "
                         "finite input: its weights are damaged (check them, or retrain)")
    return out
