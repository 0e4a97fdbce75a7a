"""ONNX export of models with their STFT and iSTFT inside, and an onnxruntime runner.

``export_onnx(model, path, mode)`` wraps the model's spectral core on real/imaginary pairs
(:mod:`cspec.infer.cores`) between :class:`cspec.spectral.export.ConvSTFT` and ``ConvISTFT`` (conv1d bases, no
complex dtype anywhere in the graph):

* ``mode="offline"``: input ``wave`` ``(batch, samples)``, output ``enhanced`` of the same shape, both axes
  dynamic; the model's own causal framing is kept (zero left padding of ``win - hop`` samples for CRN/GCRN).
* ``mode="frames"``: one streaming step. Inputs ``frames`` ``(1, K, n_fft)`` (raw samples of K consecutive
  analysis frames of the padded signal, K dynamic) and the carried states ``state_0 ...``; outputs
  ``out_frames`` ``(1, K, n_fft)`` (windowed inverse DFTs, to be overlap-added and divided by the squared-window
  envelope) and ``new_state_0 ...``. :class:`cspec.infer.Stream` drives it (``Stream(OnnxModel(path))``): the
  same framing, overlap-add and latency as the PyTorch stream.

The exporter is PyTorch's TorchScript-based one (``dynamo=False``): in torch 2.13 the dynamo exporter cannot
trace ``nn.GRU`` with a dynamic time axis, while the TorchScript one emits ONNX ``GRU``/``LSTM`` operators with
dynamic axes in seconds. The file carries a ``cspec`` metadata entry (JSON: model name, rate, STFT, look-ahead,
mode, state shapes, and the SHA-256 of the model's name, config and state dict,
:func:`cspec.models.io.model_digest`) that :class:`OnnxModel` reads; ``Enhancer`` runs a folder's ``model.onnx``
only while that digest matches the folder's model.

Which models export: every registered model. The causal STFT models GTCRN (one or two stages), CRN, GCRN and
DCCRN-E/R/C/CL export through their spectral cores (:mod:`cspec.infer.cores`), offline and frame by frame; the
non-causal STFT models MP-SENet, CMGAN and DCUNet-10/16/20/Large, and the separators TF-GridNet, DPRNN and
Conv-TasNet export whole and offline only (:mod:`cspec.infer.onnx_graphs`; a separator's output is ``separated``
``(batch, n_sources, samples)`` and the metadata records ``n_sources``); the phase-retrieval models NSPP and DeGLI
with their iterations unrolled (:mod:`cspec.infer.onnx_phase`; ``n_iter`` exports their phase retrieval with that
many iterations instead of their ``forward``); the generative enhancers SGMSE+, the Schrödinger bridge, FlowSE and
the predictive twin with ``model.steps`` network passes unrolled and the sampler's random draws as a second input
``noise``, which :class:`OnnxModel` draws as PyTorch does (:mod:`cspec.infer.onnx_generative`). onnxruntime equals
PyTorch to < 1e-4 in the tests (``tests/infer/test_onnx*.py``, random and real input). Other models (a user's
:class:`cspec.models.SpeechModel`) raise :class:`ConfigError` naming the covered ones.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cspec.audio.fs import os_reason, remove_stale, temp_path
from cspec.errors import ConfigError
from cspec.infer.cores import get_core, has_core, refuse_frame_lookahead
from cspec.infer.onnx_graphs import graph_for
from cspec.spectral.export import ConvISTFT, ConvSTFT
from cspec.spectral.stft import STFTConfig

__all__ = ["export_onnx", "OnnxModel", "MODES"]

MODES = ("offline", "frames")


class _Offline(nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        cfg = model.stft_config
        self.model, self.core = model, get_core(model)
        self.left = 0 if cfg.center else cfg.win - cfg.hop_length  # causal framing of CRN/GCRN
        self.stft, self.istft = ConvSTFT(cfg), ConvISTFT(cfg)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        n = wave.shape[-1]
        if self.left:  # causal_stft: max(1, ceil((n + left - n_fft) / hop) + 1) frames, counted in the graph
            cfg = self.stft.config
            x = nn.functional.pad(wave, (self.left, cfg.n_fft))
            length = torch._shape_as_tensor(wave)[-1]
            n_fr = torch.div(length + self.left - cfg.n_fft + cfg.hop_length - 1, cfg.hop_length,
                             rounding_mode="floor") + 1
            re, im = (z.index_select(-1, torch.arange(n_fr.clamp(min=1))) for z in self.stft(x))
        else:
            re, im = self.stft(wave)
        re, im = self.core(re, im)
        y = self.istft(re, im, length=n + self.left) if self.left else self.istft(re, im, length=n)
        return y[..., self.left:] if self.left else y


class _Frames(nn.Module):
    def __init__(self, model, keys: list[str], states: dict) -> None:
        super().__init__()
        cfg = model.stft_config
        self.model, self.core, self.keys, self.states = model, get_core(model), keys, states
        self.stft, self.istft = ConvSTFT(cfg.replace(center=False)), ConvISTFT(cfg.replace(center=False))

    def forward(self, frames: torch.Tensor, *state_in: torch.Tensor):
        b, k, n = frames.shape
        self.states.clear()
        self.states.update(zip(self.keys, state_in))
        re, im = self.stft(frames.reshape(b * k, n))  # (B K, F, 1): one DFT per frame
        re, im = (z.reshape(b, k, -1).transpose(1, 2) for z in (re, im))  # (B, F, K)
        re, im = self.core(re, im)
        spec = torch.cat([re, im], dim=1).transpose(1, 2).reshape(b * k, -1, 1)
        out = nn.functional.conv_transpose1d(spec, self.istft.basis.to(spec.dtype))  # windowed inverse DFTs
        return (out.reshape(b, k, n), *[self.states[key] for key in self.keys])


def _flat_states(states: dict) -> tuple[list[str], dict]:
    """Recurrent states may be tuples (LSTM ``(h, c)``) or lists (complex RNNs): flatten to named tensors."""
    flat: dict = {}
    for key, value in states.items():
        if isinstance(value, torch.Tensor):
            flat[key] = value
        else:
            for j, v in enumerate(value):
                flat[f"{key}#{j}"] = v
    return list(flat), flat


def export_onnx(model, path: str | os.PathLike, mode: str = "offline", opset: int = 17,
                n_iter: int | None = None) -> Path:
    """Export ``model`` (STFT, core and iSTFT) to ``path``; see the module docstring. Returns the path.

    ``n_iter``: for a phase model (``nspp``, ``degli``), the iterations of its phase retrieval instead of its
    ``forward`` (:mod:`cspec.infer.onnx_phase`); other models refuse it."""
    import onnx

    from cspec.infer.stream import _stateful
    from cspec.models.io import model_digest

    if mode not in MODES:
        raise ConfigError(f"unknown export mode '{mode}'; choose one of {', '.join(MODES)}")
    if n_iter is not None and mode != "offline":
        raise ConfigError("n_iter applies to the offline export of a phase model")
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise ConfigError(f"{path}: the output of an ONNX export must end in .onnx")
    model = model.eval()
    separator = int(getattr(model, "n_sources", 1)) > 1
    if separator and mode != "offline":
        raise ConfigError("a separation model exports with mode='offline' only")
    if mode == "frames" and not separator:
        if not model.causal:
            raise ConfigError("mode='frames' streams a causal model; this one is not causal")
        get_core(model)  # raises for models without a real-pair core
    whole = separator or not has_core(model)  # exported whole by cspec.infer.onnx_graphs
    wrapper = graph_for(model, n_iter).eval() if whole else None  # raises for models not covered
    cfg = model.stft_config
    meta = {"format": "cspec-onnx", "mode": mode, "name": getattr(model, "name", type(model).__name__),
            "config": getattr(model, "config", {}), "sample_rate": int(model.sample_rate),
            "causal": bool(model.causal), "lookahead": int(model.lookahead()),
            "stft": None if cfg is None else {k: getattr(cfg, k) for k in ("n_fft", "hop_length", "win_length",
                                                                      "window", "center", "pad_mode", "sample_rate")},
            "n_sources": int(getattr(model, "n_sources", 1)), "model_sha256": model_digest(model)}
    if whole and mode == "offline":
        example = (torch.randn(2, 4 * (cfg.n_fft if cfg is not None else 1000)) * 0.1,)
        names_in, names_out = ["wave"], ["separated" if separator else "enhanced"]
        axes = {"wave": {0: "batch", 1: "samples"}, names_out[0]: {0: "batch", (2 if separator else 1): "samples"}}
        if hasattr(wrapper, "n_iter"):  # a phase model: the iterations of its graph
            meta["n_iter"] = wrapper.n_iter
        if hasattr(wrapper, "draws"):  # a generative enhancer: its passes, and its random draws as an input
            from cspec.infer.onnx_generative import draw_noise

            meta["generative"] = {"draws": wrapper.draws, "multiple": wrapper.multiple, "seed": model.seed,
                                  "steps": model.steps}
            if wrapper.draws:
                example += (draw_noise(meta, *example[0].shape),)
                names_in.append("noise")
                axes["noise"] = {1: "batch", 3: "padded_bins", 4: "padded_frames"}
    elif mode == "offline":
        wrapper, example = _Offline(model).eval(), (torch.randn(2, 4 * cfg.n_fft) * 0.1,)
        names_in, names_out = ["wave"], ["enhanced"]
        axes = {"wave": {0: "batch", 1: "samples"}, "enhanced": {0: "batch", 1: "samples"}}
    else:
        refuse_frame_lookahead(model, "export it with mode='offline'")
        net, states = _stateful(model)
        with torch.no_grad():  # one dry step makes every state exist, with its shape
            get_core(net)(torch.zeros(1, cfg.n_freqs, 1), torch.zeros(1, cfg.n_freqs, 1))
        keys, flat = _flat_states(states)
        raw_keys = list(states)
        wrapper = _FramesFlat(net, raw_keys, states, keys).eval()
        example = (torch.randn(1, 3, cfg.n_fft) * 0.1, *[torch.zeros_like(flat[k]) for k in keys])
        names_in = ["frames"] + [f"state_{i}" for i in range(len(keys))]
        names_out = ["out_frames"] + [f"new_state_{i}" for i in range(len(keys))]
        axes = {"frames": {1: "frames"}, "out_frames": {1: "frames"}}
        meta["states"] = [list(flat[k].shape) for k in keys]
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent)  # what a killed export left
    tmp = temp_path(path, "onnx")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, example, str(tmp), input_names=names_in, output_names=names_out,
                              opset_version=opset, dynamo=False, dynamic_axes=axes)
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key, entry.value = "cspec", json.dumps(meta)
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    except ConfigError:
        raise
    except OSError as err:  # the file system said no: the path and the reason (disk full, read-only ...)
        raise ConfigError(f"{path}: cannot write ({os_reason(err)})") from None
    except Exception as err:  # the exporter raises many types; name the model and the cause
        raise ConfigError(f"ONNX export of '{meta['name']}' failed: {str(err).strip().splitlines()[0]}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return path


class _FramesFlat(_Frames):
    """:class:`_Frames` with tuple/list states flattened to single tensors (ONNX inputs are tensors)."""

    def __init__(self, model, raw_keys: list[str], states: dict, flat_keys: list[str]) -> None:
        super().__init__(model, raw_keys, states)
        self.flat_keys = flat_keys
        self.kinds = {k: type(v) for k, v in states.items()}

    def forward(self, frames: torch.Tensor, *state_in: torch.Tensor):
        named = dict(zip(self.flat_keys, state_in))
        grouped = []
        for key in self.keys:
            if key in named:
                grouped.append(named[key])
            else:
                parts = [named[k] for k in self.flat_keys if k.rsplit("#", 1)[0] == key]
                grouped.append(self.kinds[key](parts))
        out, *new = super().forward(frames, *grouped)
        flat_new = []
        for v in new:
            flat_new.extend([v] if isinstance(v, torch.Tensor) else list(v))
        return (out, *flat_new)


class OnnxModel:
    """An exported file run with onnxruntime, usable where a model is: ``Enhancer(OnnxModel(path))`` for an
    ``offline`` export, ``Stream(OnnxModel(path))`` for a ``frames`` export."""

    def __init__(self, path: str | os.PathLike, threads: int = 0) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such ONNX file")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as err:
            raise ConfigError(f"{path}: onnxruntime cannot load it ({str(err).strip().splitlines()[0]})") from None
        raw = self.session.get_modelmeta().custom_metadata_map.get("cspec")
        if raw is None:
            raise ConfigError(f"{path}: not exported by cspec (no 'cspec' metadata); use cspec export")
        self.meta = meta = json.loads(raw)
        self.mode, self.name, self.path = meta["mode"], meta["name"], path
        self.sample_rate, self.causal = int(meta["sample_rate"]), bool(meta["causal"])
        self.n_sources = int(meta.get("n_sources", 1))  # separators: "wave" (batch, n_sources, samples)
        self.stft_config = STFTConfig(**meta["stft"]) if meta.get("stft") else None
        self.states = [np.zeros(s, np.float32) for s in meta.get("states", [])]
        self._inputs = {i.name for i in self.session.get_inputs()}

    def lookahead(self) -> int:
        return int(self.meta["lookahead"])

    @property
    def steps(self) -> int | None:
        """A generative export's network passes (fixed at export); ``None`` for other models."""
        return self.meta.get("generative", {}).get("steps")

    @steps.setter
    def steps(self, value: int) -> None:
        if self.steps is None:
            raise ConfigError(f"steps: model '{self.name}' is not generative; it runs in one pass (drop --steps)")
        if int(value) != self.steps:
            raise ConfigError(f"{self.path}: this export of '{self.name}' makes {self.steps} network passes, fixed "
                              f"at export; export the model built with steps={value}, or run it with PyTorch")

    def eval(self) -> "OnnxModel":
        return self

    def __call__(self, wave: torch.Tensor) -> dict:
        if self.mode != "offline":
            raise ConfigError(f"{self.path}: a '{self.mode}' export runs through cspec.infer.Stream, not offline")
        x = np.ascontiguousarray(torch.as_tensor(wave, dtype=torch.float32).reshape(-1, wave.shape[-1]).numpy())
        feed = {"wave": x}
        if "noise" in self._inputs:  # a generative sampler: the draws its PyTorch forward makes
            from cspec.infer.onnx_generative import draw_noise

            feed["noise"] = draw_noise(self.meta, *x.shape).numpy()
        return {"wave": torch.from_numpy(self.session.run(None, feed)[0])}

    def reset(self) -> None:
        """Zero the carried states (a new stream)."""
        self.states = [np.zeros_like(s) for s in self.states]

    def frames(self, frames: torch.Tensor) -> torch.Tensor:
        """One streaming step of a ``frames`` export: raw frames ``(1, K, n_fft)`` -> windowed output frames."""
        feed = {"frames": np.ascontiguousarray(frames.numpy(), dtype=np.float32)}
        feed.update({f"state_{i}": s for i, s in enumerate(self.states) if f"state_{i}" in self._inputs})
        names = [o.name for o in self.session.get_outputs()]
        results = dict(zip(names, self.session.run(names, feed)))
        for i in range(len(self.states)):  # a state the graph does not read is not an input: keep it
            self.states[i] = results.get(f"new_state_{i}", self.states[i])
        return torch.from_numpy(results["out_frames"])
