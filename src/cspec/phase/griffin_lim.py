"""Griffin-Lim phase retrieval: GLA and fast GLA (with momentum), batched in torch.

* GLA - Griffin & Lim (1984), "Signal estimation from modified short-time Fourier transform", IEEE TASSP,
  eq. (6) iterated:  x_{n+1} = iSTFT( |S| * exp(j * angle(STFT(x_n))) ).  The iSTFT is the least-squares
  overlap-add inverse, so the magnitude distance || |STFT(x_n)| - |S| ||_F never increases (their
  convergence argument: each half-step is a projection).
* FGLA - Perraudin, Balazs & Sondergaard (2013), "A fast Griffin-Lim algorithm", IEEE WASPAA (FGLA):
      t_n = P_C1(P_C2(c_{n-1})),   c_n = t_n + alpha * (t_n - t_{n-1}),   alpha = 0.99 (the paper's default)
  where P_C2 imposes the magnitude and P_C1 = STFT o iSTFT projects onto consistent spectrograms.  The update
  is written the way ``librosa.griffinlim`` writes it (``c = t_n - alpha/(1+alpha) * t_{n-1}``, which differs
  from the line above only by the factor 1 + alpha that the magnitude projection removes), in the same order,
  so that with equal iterations, momentum and initial phase the two give the same signal.

Inputs are magnitudes ``(..., freq, frames)`` with any leading shape; every leading index is reconstructed at
once (one batched ``torch.stft``/``torch.istft`` per iteration), on the magnitude's device and in its
precision (float32 unless a float64 magnitude is given).  All transforms are :mod:`cspec.spectral.stft`.
"""

from __future__ import annotations

from typing import Callable

import torch

from cspec.errors import ConfigError
from cspec.phase import _fused
from cspec.phase._threads import intra_op_threads, threads_for
from cspec.spectral.features import silent_bins
from cspec.spectral.reproject import Reprojector
from cspec.spectral.stft import STFTConfig, get_preset, istft, n_frames

__all__ = ["griffin_lim", "fast_griffin_lim", "check_magnitude", "signal_length", "initial_phasor"]

_INITS = ("random", "zeros")


def check_magnitude(magnitude: torch.Tensor, cfg: STFTConfig) -> torch.Tensor:
    """Validate a magnitude ``(..., freq, frames)`` for ``cfg``; a complex input is replaced by its modulus."""
    if not isinstance(magnitude, torch.Tensor):
        raise ConfigError(f"magnitude must be a torch.Tensor (..., freq, frames), got {type(magnitude).__name__}")
    if magnitude.is_complex():
        magnitude = magnitude.abs()
    if magnitude.dim() < 2:
        raise ConfigError(f"magnitude must have shape (..., freq, frames), got {tuple(magnitude.shape)}")
    if magnitude.shape[-2] != cfg.n_freqs:
        raise ConfigError(
            f"magnitude has {magnitude.shape[-2]} frequency bins but n_fft={cfg.n_fft} needs {cfg.n_freqs}; "
            "pass the STFT config (or preset name) the magnitude was computed with"
        )
    if magnitude.shape[-1] < 1:
        raise ConfigError("magnitude has no frames; it needs at least one")
    if not magnitude.is_floating_point() or magnitude.dtype in (torch.float16, torch.bfloat16):
        magnitude = magnitude.float()  # the STFT needs float32 or float64
    if not torch.isfinite(magnitude).all():
        raise ConfigError("magnitude holds NaN or Inf values; clean the input before phase retrieval")
    if (magnitude < 0).any():
        raise ConfigError("magnitude has negative values; pass |S| (use .abs() on a complex spectrogram)")
    return magnitude


def signal_length(frames: int, cfg: STFTConfig, length: int | None) -> int:
    """The output length: ``length`` if given (checked against the frame count), else the shortest with ``frames``
    frames (``hop * (frames - 1)`` centred with an even ``n_fft``)."""
    if length is None:
        # the shortest signal with that many frames (centred: n_fft // 2 padding each side, one short if n_fft is odd)
        length = cfg.hop_length * (frames - 1) + (cfg.n_fft % 2 if cfg.center else cfg.n_fft)
        if length < 1:
            raise ConfigError("a single centred frame cannot be inverted without 'length'; pass length=")
        return length
    length = int(length)
    if length < 1 or n_frames(length, cfg) != frames:
        raise ConfigError(
            f"length={length} samples gives {n_frames(length, cfg) if length >= 1 else 0} STFT frames, but the "
            f"magnitude has {frames}; pass the length of the signal the magnitude was computed from"
        )
    return length


def initial_phasor(magnitude: torch.Tensor, init="random", seed: int = 0) -> torch.Tensor:
    """Unit-modulus complex tensor shaped like ``magnitude``: the starting phase of an iterative method.

    ``init`` is ``"random"`` (uniform phase from a ``torch.Generator`` seeded with ``seed``, drawn on the CPU so
    that it is the same on every device, one ``(freq, frames)`` draw shared by all leading indices so that a
    batched call equals per-item calls), ``"zeros"`` (phase 0), a complex tensor (its angle is used) or a real
    tensor of phases in radians, broadcastable to ``magnitude``.
    """
    real = magnitude.dtype
    if isinstance(init, torch.Tensor):
        phase = init.angle() if init.is_complex() else init
        try:
            phase = torch.broadcast_to(phase.to(device=magnitude.device, dtype=real), magnitude.shape)
        except RuntimeError:
            raise ConfigError(
                f"initial phase of shape {tuple(init.shape)} does not match the magnitude {tuple(magnitude.shape)}"
            ) from None
    elif init == "random":
        gen = torch.Generator().manual_seed(int(seed))
        one = 2 * torch.pi * torch.rand(magnitude.shape[-2:], generator=gen, dtype=torch.float64)
        phase = torch.broadcast_to(one.to(device=magnitude.device, dtype=real), magnitude.shape)
    elif init == "zeros":
        phase = torch.zeros_like(magnitude)
    else:
        raise ConfigError(f"unknown init '{init}'; use one of {', '.join(_INITS)}, a complex or a phase tensor")
    return torch.polar(torch.ones_like(phase), phase)


def fast_griffin_lim(
    magnitude: torch.Tensor,
    n_iter: int = 100,
    config: STFTConfig | str = "mpsenet",
    length: int | None = None,
    momentum: float = 0.99,
    init="random",
    seed: int = 0,
    return_spec: bool = False,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    fixed: torch.Tensor | None = None,
):
    """Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013; alpha = 0.99, the paper's default).

    Args:
        magnitude: target magnitude ``|S|`` of shape ``(..., freq, frames)``.
        n_iter: iterations (each one iSTFT + STFT); 0 returns the iSTFT of the initial estimate.
        config: the :class:`~cspec.spectral.stft.STFTConfig` or preset name ``|S|`` was computed with.
        length: samples of the output (default ``hop * (frames - 1)``).
        momentum: alpha; 0 gives plain GLA (Griffin & Lim 1984).  Values above 1 may diverge.
        init: starting phase, see :func:`initial_phasor`.
        seed: seed of the random starting phase.
        return_spec: also return the final complex spectrogram ``|S| * exp(j phase)`` whose iSTFT is returned.
        callback: called as ``callback(n, T_n)`` after iteration ``n`` (1-based) with ``T_n = STFT(x_n)``,
            the consistent spectrogram of the current signal (for monitoring spectral convergence).
        fixed: complex frames ``(..., freq, k)`` held at these values on the first ``k`` frames, in the start
            and after every magnitude projection (the committed frames of block-wise reconstruction, as
            RTISI-LA commits frames: Zhu, Beauregard & Wyse 2007); the other frames are iterated as usual.

    Returns:
        the waveform ``(..., samples)``, or ``(waveform, spectrogram)`` with ``return_spec``.

    On the CPU, a problem below :data:`cspec.phase._threads.SINGLE_THREAD_WORK` samples per iteration runs on one
    intra-op thread (restored afterwards): per-clip FFTs are too small to gain from threads and lose much
    to a busy core.  There, without a gradient to track, the element-wise passes of each iteration run fused
    and compiled (:mod:`cspec.phase._fused`; about 1.7x faster per clip), equal to the torch kernels to rounding.
    """
    cfg = get_preset(config)
    mag = check_magnitude(magnitude, cfg)
    if int(n_iter) < 0:
        raise ConfigError(f"n_iter must be >= 0, got {n_iter}")
    if momentum < 0:
        raise ConfigError(f"momentum must be >= 0 (0 is plain Griffin-Lim, 0.99 the FGLA default), got {momentum}")
    n_samples = signal_length(mag.shape[-1], cfg, length)
    lead, n_freq, n_fr = mag.shape[:-2], mag.shape[-2], mag.shape[-1]
    # frame-major (batch, frames, freq) inside the loop: see cspec.spectral.reproject.Reprojector
    mag_tf = mag.reshape(-1, n_freq, n_fr).transpose(-1, -2).contiguous()
    spec = (mag_tf * initial_phasor(mag, init, seed).reshape(-1, n_freq, n_fr).transpose(-1, -2)).contiguous()
    hold = _fixed_frames(fixed, mag, spec)
    if hold is not None:
        spec[:, : hold.shape[1]] = hold
    project = Reprojector(cfg, n_fr, n_samples, mag.device, mag.dtype)
    # |S| interleaved like a complex tensor's (re, im) pairs: the magnitude projection is then one contiguous
    # real multiply in place (half the time of a complex-by-real product).  Without a gradient to track, every
    # step also runs in place on buffers allocated once: two for the projection's output (this step's and the
    # last, which the momentum reads) and the spectrogram itself.
    in_place = not (torch.is_grad_enabled() and (mag.requires_grad or spec.requires_grad))
    mag_ri = mag_tf.unsqueeze(-1).expand(*mag_tf.shape, 2).contiguous() if in_place else None
    outs = [torch.empty_like(spec), torch.empty_like(spec)] if in_place else [None, None]
    coef = momentum / (1.0 + momentum)
    prev = None
    threads = threads_for(mag_tf.shape[0] * n_fr * cfg.n_fft, mag.device)
    # one CPU thread and nothing to differentiate: the fused, compiled iteration (cspec.phase._fused)
    fused = (in_place and hold is None and threads == 1 and _fused.AVAILABLE and project.bufferable
             and mag.device.type == "cpu" and int(n_iter) > 0)
    with intra_op_threads(threads):
        if fused:
            def monitor(n, rebuilt):
                callback(n, rebuilt.transpose(-1, -2).reshape(*lead, n_freq, n_fr).clone())

            _fused.fgla_loop(spec, mag_tf, int(n_iter), coef, project.window, cfg.hop_length, project.gate,
                             cfg.n_fft // 2 if project.reflect else 0, n_samples,
                             monitor if callback is not None else None)
        for it in range(0 if fused else int(n_iter)):
            rebuilt = project(spec, out=outs[it % 2])  # STFT(iSTFT(spec))
            if callback is not None:
                callback(it + 1, rebuilt.transpose(-1, -2).reshape(*lead, n_freq, n_fr).clone())
            # the momentum step of Perraudin et al. (2013), written as librosa.griffinlim writes it
            if in_place:
                # magnitude projection: sgn(z) = z / |z| (0 at 0), as librosa's z / (|z| + tiny), in one kernel
                if prev is not None and coef != 0.0:
                    torch.add(rebuilt, prev, alpha=-coef, out=spec).sgn_()
                else:
                    torch.sgn(rebuilt, out=spec)
                torch.view_as_real(spec).mul_(mag_ri)
                if hold is not None:
                    spec[:, : hold.shape[1]] = hold
            else:
                update = torch.add(rebuilt, prev, alpha=-coef) if (prev is not None and coef != 0.0) else rebuilt
                spec = _unit(update) * mag_tf
                if hold is not None:
                    spec = torch.cat([hold, spec[:, hold.shape[1]:]], dim=1)
            prev = rebuilt
        spec = spec.transpose(-1, -2).reshape(*lead, n_freq, n_fr)
        wave = istft(spec, cfg, n_samples)
    return (wave, spec) if return_spec else wave


def _unit(z: torch.Tensor) -> torch.Tensor:
    """``sgn(z)`` with a finite gradient: bins below :data:`cspec.spectral.features.SILENT_BIN` give 0 and no
    gradient (``torch.sgn``'s is ``1 / |z|``, infinite at 0), so that unrolled iterations train (deep unfolding of
    the loop through a learned initial phase, :class:`cspec.models.phase_predictor.PhasePredictor`)."""
    silent = silent_bins(z)
    return torch.where(silent, torch.zeros_like(z), z / torch.where(silent, torch.ones_like(z.real), z.abs()))


def _fixed_frames(fixed: torch.Tensor | None, mag: torch.Tensor, spec: torch.Tensor) -> torch.Tensor | None:
    """``fixed`` ``(..., freq, k)`` in the loop's frame-major layout ``(batch, k, freq)``, checked."""
    if fixed is None:
        return None
    if not isinstance(fixed, torch.Tensor) or not fixed.is_complex() or fixed.dim() < 2 \
            or fixed.shape[:-1] != mag.shape[:-1] or fixed.shape[-1] > mag.shape[-1]:
        raise ConfigError(f"fixed frames must be a complex tensor (..., freq, k <= frames) matching the magnitude "
                          f"{tuple(mag.shape)}, got {getattr(fixed, 'shape', type(fixed).__name__)}")
    return fixed.to(device=spec.device, dtype=spec.dtype).reshape(-1, *fixed.shape[-2:]).transpose(-1, -2)


def griffin_lim(
    magnitude: torch.Tensor,
    n_iter: int = 100,
    config: STFTConfig | str = "mpsenet",
    length: int | None = None,
    init="random",
    seed: int = 0,
    return_spec: bool = False,
    callback: Callable[[int, torch.Tensor], None] | None = None,
):
    """Griffin-Lim algorithm (Griffin & Lim 1984, eq. 6 iterated): :func:`fast_griffin_lim` with momentum 0.

    ``x_{n+1} = iSTFT(|S| exp(j angle STFT(x_n)))``.  With ``pad_mode="constant"`` in the config (zero centre
    padding) every step is an exact projection and the spectral convergence never increases; with reflect
    padding the border frames can break that by a hair.  Arguments as in :func:`fast_griffin_lim`.
    """
    return fast_griffin_lim(
        magnitude, n_iter, config, length, momentum=0.0, init=init, seed=seed, return_spec=return_spec,
        callback=callback,
    )
