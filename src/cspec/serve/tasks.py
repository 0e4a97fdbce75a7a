"""What the server computes: the catalogue of models it offers, the three tasks (enhance, separate, reconstruct)
on a decoded waveform with a progress callback, and the extras of the page's jobs (figures from
:func:`cspec.plot.figure`, DNSMOS scores from :func:`cspec.metrics.dnsmos`).

Only models named in the catalogue run: the bundled ones (:data:`cspec.infer.resolve.PRETRAINED_DIR`, so a
separator such as ``sep2`` appears once it is bundled) and the folders given to the server at start
(``cspec serve --model-dir``); a request names a model, never a path. Loaded models are kept (one per name).
"""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Callable

import torch

from cspec import audio
from cspec.errors import ConfigError, CspecError

__all__ = ["Catalogue", "run_task", "figures", "scores", "TASKS"]

TASKS = ("enhance", "separate", "reconstruct")
Progress = Callable[[float, str], None]


def _n_sources(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / "config.json").read_text()).get("n_sources", 1))
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _rate(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / "config.json").read_text())["sample_rate"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


class Catalogue:
    """The models and methods a server offers, and their loaded instances.

    Args:
        model_dirs: extra model folders (written by :func:`cspec.models.save`), offered under their folder names.
        threads: intra-op threads of onnxruntime sessions (0: onnxruntime's choice).
    """

    def __init__(self, model_dirs: list[str | Path] | tuple = (), threads: int = 1) -> None:
        from cspec.infer.resolve import PRETRAINED_DIR

        self.threads = threads
        self.folders: dict[str, Path] = {}
        if PRETRAINED_DIR.is_dir():
            for p in sorted(PRETRAINED_DIR.iterdir()):
                if (p / "config.json").is_file():
                    self.folders[p.name] = p
        for d in model_dirs:
            p = Path(d)
            if _n_sources(p) is None:
                raise ConfigError(f"{p}: not a model folder (no readable config.json); give a folder written by "
                                  "cspec.models.save")
            self.folders[p.name] = p.resolve()
        self._loaded: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def listing(self) -> dict:
        """``{"enhance": [...], "separate": [...], "live": [...], "reconstruct": [...]}``: names and methods."""
        from cspec.phase import METHODS

        enh = [n for n, p in self.folders.items() if _n_sources(p) == 1]
        sep = [n for n, p in self.folders.items() if (_n_sources(p) or 0) >= 2]
        methods = [m for m in METHODS if m != "learned" or "phase" in self.folders]
        default = "default" if "default" in enh else (enh[0] if enh else None)
        rates = {n: _rate(p) for n, p in self.folders.items()}
        return {"enhance": enh, "separate": sep, "live": enh, "reconstruct": methods, "rates": rates,
                "defaults": {"enhance": default, "separate": sep[0] if sep else None, "live":
                             "tiny" if "tiny" in enh else default, "reconstruct": "pghi+fgla"}}

    def _folder(self, name: str, task: str) -> Path:
        names = self.listing()[task]
        if name not in names:
            raise ConfigError(f"no {task} model '{name}' on this server; choose one of: "
                              f"{', '.join(names) or 'none (none is bundled or given with --model-dir)'}")
        return self.folders[name]

    def _get(self, key: tuple[str, str], make):
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = make()
            return self._loaded[key]

    def enhancer(self, name: str):
        from cspec.infer import Enhancer

        folder = self._folder(name, "enhance")
        return self._get(("enhance", name), lambda: Enhancer.from_pretrained(folder, threads=self.threads))

    def separator(self, name: str):
        from cspec.infer import Separator

        folder = self._folder(name, "separate")
        return self._get(("separate", name), lambda: Separator.from_pretrained(folder, threads=self.threads))

    def stream_model(self, name: str):
        """The PyTorch model of an enhancer, for :class:`cspec.infer.Stream` (which refuses a non-causal one)."""
        from cspec.infer import resolve_model

        folder = self._folder(name, "live")
        return self._get(("live", name), lambda: resolve_model(folder, "torch"))


def _chunked(runner, y: torch.Tensor, step: int, progress: Progress, lo: float, hi: float) -> torch.Tensor:
    """Push ``y`` through a chunk runner ``step`` samples at a time, reporting progress from ``lo`` to ``hi``."""
    outs = []
    n = y.shape[-1]
    for i in range(0, n, step):
        outs.append(runner.push(y[..., i: i + step]))
        progress(lo + (hi - lo) * min(n, i + step) / n, "processing")
    outs.append(runner.finish())
    return torch.cat(outs, dim=-1)


def _fit(y: torch.Tensor, n: int) -> torch.Tensor:
    return y[..., :n] if y.shape[-1] >= n else torch.nn.functional.pad(y, (0, n - y.shape[-1]))


def run_task(cat: Catalogue, task: str, wave: torch.Tensor, sr: int, model: str | None, method: str | None,
             progress: Progress = lambda f, s: None) -> tuple[list[str], torch.Tensor]:
    """``(names, outputs (n_outputs, channels, samples))`` at ``sr``: the enhanced signal (``enhanced``, all
    channels), the sources (``s1``, ``s2`` ..., mono) or the reconstruction (``reconstructed``, mono)."""
    n = wave.shape[-1]
    defaults = cat.listing()["defaults"]
    if task == "enhance":
        enh = cat.enhancer(model or defaults["enhance"] or "default")
        y = audio.resample(wave, sr, enh.sample_rate)  # as Enhancer.enhance, pushed in pieces for the progress
        y = _chunked(enh.runner(), y, 2 * enh.sample_rate, progress, 0.1, 0.6)
        return ["enhanced"], _fit(audio.resample(y, enh.sample_rate, sr), n)[None]
    if task == "separate":
        sep = cat.separator(model or defaults["separate"] or "sep2")
        y = audio.resample(audio.to_mono(wave), sr, sep.sample_rate)  # as Separator.separate, in pieces
        y = _chunked(sep.runner(), y, 2 * sep.sample_rate, progress, 0.1, 0.6)
        y = _fit(audio.resample(y, sep.sample_rate, sr), n)
        return [f"s{i + 1}" for i in range(y.shape[0])], y[:, None]
    if task == "reconstruct":
        return ["reconstructed"], reconstruct(wave, sr, method or defaults["reconstruct"])[None, None]
    raise ConfigError(f"unknown task '{task}'; choose one of {', '.join(TASKS)}")


def reconstruct(wave: torch.Tensor, sr: int, method: str) -> torch.Tensor:
    """As ``cspec reconstruct`` (mono, at the preset's rate, seed 0, the method's default iterations), the result
    resampled back to ``sr``: only the STFT magnitude of the input is kept."""
    from cspec.phase import METHODS
    from cspec.phase import reconstruct as rebuild
    from cspec.spectral.stft import get_preset, stft

    if method not in METHODS:
        raise ConfigError(f"unknown phase retrieval method '{method}'; choose one of {', '.join(METHODS)}")
    preset = "hann512-128" if method == "learned" else "mpsenet"
    cfg = get_preset(preset)
    x = audio.resample(audio.to_mono(wave), sr, cfg.sample_rate)[0]
    if x.shape[-1] <= cfg.n_fft // 2:
        raise ConfigError(f"{x.shape[-1]} samples at {cfg.sample_rate} Hz are too few for the preset '{preset}' "
                          f"(n_fft {cfg.n_fft}); use a longer file")
    torch.manual_seed(0)
    with torch.inference_mode():
        y = rebuild(stft(x, cfg).abs(), method=method, n_iter=None, config=cfg, length=x.shape[-1], seed=0)
    return _fit(audio.resample(y[None], cfg.sample_rate, sr)[0], wave.shape[-1])


def figures(wave: torch.Tensor, sr: int, names: list[str], outputs: torch.Tensor, in_name: str) -> dict[str, bytes]:
    """PNG bytes of two figures drawn by :func:`cspec.plot.figure`, input and outputs side by side: the
    magnitude spectrograms (``spectrogram.png``) and the phase (``phase.png``)."""
    from cspec.plot import figure

    waves = [audio.to_mono(wave)[0]] + [audio.to_mono(o)[0] for o in outputs]
    labels = [in_name] + names
    out = {}
    for key, panels in (("spectrogram.png", ("spec",)), ("phase.png", ("phase",))):
        fig = figure(waves, sr, names=labels, panels=panels, dpi=72)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        out[key] = buf.getvalue()
    return out


def scores(wave: torch.Tensor, sr: int, names: list[str], outputs: torch.Tensor) -> dict[str, dict]:
    """DNSMOS P.835 (SIG, BAK, OVRL) and P.808 of the input and of each output, or ``{"error": why}``."""
    from cspec.metrics.dnsmos import dnsmos

    out = {}
    for label, x in [("input", wave)] + list(zip(names, outputs)):
        try:
            vals = dnsmos(audio.to_mono(x)[0].clamp(-1.0, 1.0), sr)
            out[label] = {k.replace("dnsmos_", ""): round(float(v), 3) for k, v in vals.items()}
        except (CspecError, ImportError) as err:
            out[label] = {"error": " ".join(str(err).split())}
    return out
