"""The offline ONNX graphs of the phase-retrieval models: NSPP (with its fast Griffin-Lim iterations) and DeGLI.

Both models iterate STFT/iSTFT pairs on complex tensors, which ONNX has no type for; their graphs run the same
steps on real/imaginary pairs between :class:`cspec.spectral.export.ConvSTFT` and ``ConvISTFT``, every loop
unrolled with its iteration count fixed at export time. Input ``wave`` ``(batch, samples)``, output ``enhanced``
of the same shape (the waveform rebuilt from the input's magnitude and the retrieved phase), both axes dynamic.

* :class:`NSPPGraph`, the direct phase predictor of Ai & Ling (2023, Sec. 2, Eq. 1-2) that
  :class:`cspec.models.phase_predictor.PhasePredictor` implements: ``|STFT|``, the model's own
  ``predict_phase`` (its ``atan2(I, R)`` written with ``atan`` and the quadrant rules during the export, as
  MP-SENet's: PyTorch's ONNX ``atan2`` gives ``-pi`` at ``(0, x < 0)`` and NaN at the origin), then ``n_iter``
  iterations of fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013: ``t_n = P_C(P_A(c_{n-1}))``,
  ``c_n = t_n - alpha/(1+alpha) t_{n-1}`` as :func:`cspec.phase.fast_griffin_lim` writes it, alpha = 0.99) from
  the predicted phase. ``n_iter`` defaults to the model's ``unroll`` (its ``forward``); any other count gives the
  graph of ``LearnedPhase.reconstruct(|STFT(wave)|, cfg, n_iter)``.
* :class:`DeGLIGraph`, Deep Griffin-Lim iteration (Masuyama et al. 2019/2021, Eq. 10-11): blocks
  ``Y = P_A(X), Z = P_C(Y), X' = Z - F_theta(X, Y, Z)`` with the model's own convolutions. ``n_iter=None`` (the
  default) is the model's ``forward`` in evaluation mode, one block on the input's own spectrogram;
  ``n_iter = k`` is its phase retrieval, ``k`` blocks from a zero phase (``LearnedPhase.reconstruct``).

The magnitude projection of fast Griffin-Lim is ``sgn(c) |S|`` with ``sgn = 0`` on the bins whose ``|Re| + |Im|``
is under :data:`cspec.spectral.features.SILENT_BIN` (the conv-basis STFT leaves ``1e-12`` where the FFT leaves an
exact 0); DeGLI's ``exp(j angle X)`` keeps ``angle 0 = 0``. As in the other whole-model graphs the DC and
Nyquist imaginary parts are set to the FFT's exact 0.

Precision. Run in float64 (with float64 DFT bases) the graphs give PyTorch's float64 results to < 1e-9 after 16
iterations (tests). In float32, onnxruntime equals PyTorch to < 1e-4 for the prediction and for DeGLI's blocks;
fast Griffin-Lim, though, amplifies float32 rounding with its iterations, in PyTorch as much as here: on the first
2 s of the first dev clip, with a random 16-channel NSPP, PyTorch's own float32 result is 4e-5, 1.6e-4 and 3.8e-4
(max abs) from its float64 result after 4, 8 and 16 iterations, the onnxruntime graph's 5e-5, 2.7e-3 and 4.8e-3.
The larger part of the latter is one decision: in a frame where the momentum step leaves the real DC bin at
``5e-6`` of a magnitude of ``0.5``, rounding flips its sign (after which the iterations go on from another, equally
valid estimate). So the export is tested against PyTorch to 1e-4 with up to 4 iterations on real input, and as an
algorithm in float64; after more iterations on real speech expect differences of 1e-3, as between float32 and
float64 PyTorch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from cspec.errors import ConfigError
from cspec.models.mpsenet import atan2
from cspec.spectral.export import ConvISTFT, ConvSTFT
from cspec.spectral.features import SILENT_BIN

__all__ = ["NSPPGraph", "DeGLIGraph", "phase_graph", "PHASE_MODELS"]

#: registry names of the models exported by this module
PHASE_MODELS = ("nspp", "degli")


class _SafeAtan2(TorchFunctionMode):
    """Inside the ``with`` block, ``torch.atan2`` is :func:`cspec.models.mpsenet.atan2` (export-safe)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.atan2:
            return atan2(*args, **(kwargs or {}))
        return func(*args, **(kwargs or {}))


class _Spectral(nn.Module):
    """ConvSTFT / ConvISTFT of ``cfg`` on real pairs, with the FFT's exact zeros at DC and Nyquist."""

    def __init__(self, cfg) -> None:
        super().__init__()
        self.stft, self.istft = ConvSTFT(cfg), ConvISTFT(cfg)
        keep = torch.ones(cfg.n_freqs, 1, dtype=torch.bool)
        keep[0] = False
        if cfg.n_fft % 2 == 0:
            keep[-1] = False
        self.register_buffer("keep", keep, persistent=False)

    def analyse(self, wave: torch.Tensor):
        re, im = self.stft(wave)
        return re, torch.where(self.keep, im, torch.zeros_like(im))

    def synthesise(self, re: torch.Tensor, im: torch.Tensor, length):
        return self.istft(re, im, length=length)

    def project(self, re: torch.Tensor, im: torch.Tensor, length):
        """``P_C``: the STFT of the iSTFT (Griffin & Lim 1984, eq. 6)."""
        return self.analyse(self.synthesise(re, im, length))


def _unit(re: torch.Tensor, im: torch.Tensor):
    """``sgn(z)`` on a pair, 0 on silent bins (:func:`cspec.phase.griffin_lim._unit`)."""
    silent = re.abs() + im.abs() < SILENT_BIN
    r = torch.where(silent, torch.ones_like(re), torch.sqrt(re * re + im * im))
    zero = torch.zeros_like(re)
    return torch.where(silent, zero, re / r), torch.where(silent, zero, im / r)


class NSPPGraph(nn.Module):
    """``wave -> |STFT| -> predict_phase -> n_iter FGLA iterations -> iSTFT`` (module docstring)."""

    def __init__(self, model, n_iter: int | None = None, momentum: float = 0.99) -> None:
        super().__init__()
        self.model, self.spectral = model, _Spectral(model.stft_config)
        self.n_iter = int(model.unroll if n_iter is None else n_iter)
        self.coef = momentum / (1.0 + momentum)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        n = wave.shape[-1]
        re, im = self.spectral.analyse(wave)
        mag = torch.sqrt(re * re + im * im)
        with _SafeAtan2():
            phase = self.model.predict_phase(mag)
        re, im = mag * torch.cos(phase), mag * torch.sin(phase)
        prev = None
        for _ in range(self.n_iter):
            t_re, t_im = self.spectral.project(re, im, n)
            u_re, u_im = (t_re, t_im) if prev is None else (t_re - self.coef * prev[0], t_im - self.coef * prev[1])
            s_re, s_im = _unit(u_re, u_im)
            re, im, prev = mag * s_re, mag * s_im, (t_re, t_im)
        return self.spectral.synthesise(re, im, n)


class DeGLIGraph(nn.Module):
    """DeGLI blocks on real pairs: ``forward`` (``n_iter=None``) or ``n_iter`` blocks from phase 0 (docstring)."""

    def __init__(self, model, n_iter: int | None = None) -> None:
        super().__init__()
        self.model, self.spectral = model, _Spectral(model.stft_config)
        self.n_iter = None if n_iter is None else int(n_iter)

    def block(self, x_re, x_im, mag, length):
        """One block (Eq. 10-11): ``Y = |S| exp(j angle X)``, ``Z = P_C(Y)``, ``X' = Z - F_theta(X, Y, Z)``."""
        phase = atan2(x_im, x_re)
        y_re, y_im = mag * torch.cos(phase), mag * torch.sin(phase)
        z_re, z_im = self.spectral.project(y_re, y_im, length)
        h = torch.stack([x_re, x_im, y_re, y_im, z_re, z_im], dim=1)  # DeGLI.residual's channel order
        layers = self.model.layers
        h = layers[0](h)
        h = h + layers[1](h)
        h = h + layers[2](h)
        res = self.model.out(h)
        return z_re - res[:, 0], z_im - res[:, 1]

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        n = wave.shape[-1]
        re, im = self.spectral.analyse(wave)
        mag = torch.sqrt(re * re + im * im)
        if self.n_iter is None:  # the model's forward in evaluation mode: one block on the clean spectrogram
            re, im = self.block(re, im, mag, n)
        else:
            re, im = mag, torch.zeros_like(mag)
            for _ in range(self.n_iter):
                re, im = self.block(re, im, mag, n)
        return self.spectral.synthesise(re, im, n)


def phase_graph(model, n_iter: int | None = None) -> nn.Module:
    """The offline graph of a phase model (``nspp`` or ``degli``) with ``n_iter`` iterations (module docstring)."""
    if n_iter is not None and (int(n_iter) != n_iter or n_iter < 0):
        raise ConfigError(f"n_iter is a number of iterations >= 0, got {n_iter}")
    if model.name == "nspp":
        return NSPPGraph(model, n_iter)
    if model.name == "degli":
        return DeGLIGraph(model, n_iter)
    raise ConfigError(f"model '{model.name}' is not a phase model ({', '.join(PHASE_MODELS)})")
