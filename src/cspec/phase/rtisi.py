"""RTISI-LA: real-time iterative spectrogram inversion with look-ahead, batched in torch.

Zhu, Beauregard & Wyse (2007), "Real-time signal estimation from modified short-time Fourier transform
magnitude spectra", IEEE TASLP 15(5) (RTISI-LA first at ICME 2006).  Frames are reconstructed left to right.
When frame ``n`` arrives, the buffer holds the ``L`` look-ahead frames ``n-L .. n``; frames before ``n-L``
are committed and never change again.  Each of ``J`` passes updates the buffered frames from the newest to the
oldest (the order of LTFAT/phaseret ``rtisila``) by one Griffin-Lim step restricted to that frame:

    y_m    = w * (sum_j w * ifft(c_j))[span of m] / (sum_j w^2)[span of m]     (partial LS reconstruction)
    c_m    = |S_m| * exp(j angle(FFT(y_m)))                                    (Griffin & Lim 1984, eq. 6)

where the sums run over all frames committed or in the buffer.  The newest frame starts with no contribution
of its own, so on its first update it sees the reconstruction of the earlier frames tapered by their partial
window sum: the asymmetric analysis window of RTISI-LA arises by itself.  After the last frame, the look-ahead
drains, so every frame receives ``(L + 1) * J`` updates; ``n_iter`` counts those updates per frame (the
number comparable with GLA's iterations) and ``J = ceil(n_iter / (L + 1))``.

Defaults: ``L = 3`` look-ahead frames (all the frames that overlap the committed one at 75 % overlap, as
LTFAT's default ``ceil(n_fft/hop) - 1``),
``n_iter = 20`` updates per frame (LTFAT's default of J = 5 passes).  Window requirements: the window must
satisfy NOLA (non-zero overlap-add of w^2: any preset does) and ``hop <= win_length <= n_fft``; the frame
that is committed then overlaps every look-ahead frame only while ``L <= ceil(n_fft/hop) - 1`` (a larger L
adds updates, not context).  Centre padding is treated as free signal (the reflection is not enforced).

The frame loop is Python (inherently sequential); every update is vectorised over the batch and, for
batches below 2^18 samples per frame step on the CPU, runs on one intra-op thread (torch's threads are
capped during the loop and restored after it: per-frame FFTs are too small to gain from threads).  Frames are
transformed with ``torch.fft`` on a frame the size of one STFT column; the output is the
:func:`cspec.spectral.stft.istft` of the final coefficients.
"""

from __future__ import annotations

import math

import torch

from cspec.errors import ConfigError
from cspec.phase._threads import intra_op_threads
from cspec.phase.griffin_lim import check_magnitude, signal_length
from cspec.spectral.stft import STFTConfig, get_preset, istft, make_window

__all__ = ["rtisi_la"]


def _frame_window(cfg: STFTConfig, device, dtype) -> torch.Tensor:
    """The analysis window zero-padded to n_fft in the middle, as ``torch.stft`` applies it."""
    w = make_window(cfg, device, dtype)
    left = (cfg.n_fft - cfg.win) // 2
    return torch.nn.functional.pad(w, (left, cfg.n_fft - cfg.win - left))


def _complex_of(real: torch.dtype) -> torch.dtype:
    """The complex dtype of a real one."""
    return torch.complex128 if real == torch.float64 else torch.complex64


@torch.no_grad()
def rtisi_la(
    magnitude: torch.Tensor,
    config: STFTConfig | str = "mpsenet",
    length: int | None = None,
    n_iter: int = 20,
    lookahead: int = 3,
    return_spec: bool = False,
    fixed: torch.Tensor | None = None,
):
    """Waveform ``(..., samples)`` from ``magnitude`` ``(..., freq, frames)`` by RTISI-LA (Zhu et al. 2007).

    Args:
        magnitude: target magnitude, any leading shape (processed together).
        config: STFT config or preset name the magnitude was computed with.
        length: output samples (default ``hop * (frames - 1)``).
        n_iter: updates each frame receives in total (rounded up to a multiple of ``lookahead + 1``).
        lookahead: look-ahead frames ``L`` (0 gives RTISI without look-ahead).
        return_spec: also return the final complex spectrogram.
        fixed: complex frames ``(..., freq, k)``: the first ``k`` frames are committed with these values before
            the first update (block-wise reconstruction continues a previous block this way).

    Runs without autograd (in-place frame updates); FGLA is the differentiable choice when gradients are needed.
    """
    cfg = get_preset(config)
    mag = check_magnitude(magnitude, cfg)
    if int(lookahead) < 0:
        raise ConfigError(f"lookahead must be >= 0 frames (3 for 75 % overlap), got {lookahead}")
    if int(n_iter) < 1:
        raise ConfigError(f"n_iter must be >= 1 update per frame, got {n_iter}")
    lookahead = int(lookahead)
    passes = math.ceil(int(n_iter) / (lookahead + 1))
    n_samples = signal_length(mag.shape[-1], cfg, length)
    lead = mag.shape[:-2]
    n_freq, n_frm = mag.shape[-2:]
    target = mag.reshape(-1, n_freq, n_frm).transpose(1, 2).contiguous()  # (B, frames, freq)
    batch = target.shape[0]
    n_fft, hop, dev, dt = cfg.n_fft, cfg.hop_length, mag.device, mag.dtype

    win = _frame_window(cfg, dev, dt)
    padded = n_fft + hop * (n_frm - 1)
    env = torch.zeros(padded, device=dev, dtype=dt)
    for m in range(n_frm):  # squared-window sum of the full signal: the LS normaliser
        env[m * hop: m * hop + n_fft] += win * win
    inv_env = torch.where(env > 1e-10 * env.max(), 1.0 / env.clamp_min(1e-30), torch.zeros_like(env))
    # analysis weight of each frame: the window over the LS normaliser, w / sum_j w^2 on the frame's span
    weight = torch.stack([win * inv_env[m * hop: m * hop + n_fft] for m in range(n_frm)])
    acc = torch.zeros(batch, padded, device=dev, dtype=dt)  # sum_j w * ifft(c_j)
    zero = torch.zeros(batch, n_fft, device=dev, dtype=dt)
    frames = [zero] * n_frm  # each frame's contribution to acc
    coefs: list[torch.Tensor] = [None] * n_frm  # type: ignore[list-item]
    first = 0
    if fixed is not None:  # committed frames: their contribution is in acc, they are never updated
        if not isinstance(fixed, torch.Tensor) or not fixed.is_complex() or fixed.shape[:-1] != mag.shape[:-1] \
                or fixed.shape[-1] > n_frm:
            raise ConfigError(f"fixed frames must be a complex tensor (..., freq, k <= frames) matching the "
                              f"magnitude {tuple(mag.shape)}, got {getattr(fixed, 'shape', type(fixed).__name__)}")
        held = fixed.to(dev).reshape(-1, n_freq, fixed.shape[-1]).to(_complex_of(dt))
        first = held.shape[-1]
        for m in range(first):
            coefs[m] = held[..., m]
            frames[m] = torch.fft.irfft(coefs[m], n=n_fft) * win
            acc[:, m * hop: m * hop + n_fft] += frames[m]

    def update(m: int) -> None:
        seg = acc[:, m * hop: m * hop + n_fft]
        c = torch.polar(target[:, m], torch.fft.rfft(seg * weight[m], n=n_fft).angle())  # angle(0) = 0
        new = torch.fft.irfft(c, n=n_fft) * win
        seg += new - frames[m]
        frames[m], coefs[m] = new, c

    # one frame is a small FFT: on the CPU, waking worker threads for it costs more than the transform itself
    small = dev.type == "cpu" and batch * n_fft < 2**18
    with intra_op_threads(1 if small else torch.get_num_threads()):
        for newest in range(first, n_frm + lookahead):
            hi, lo = min(newest, n_frm - 1), max(first, newest - lookahead)
            for _ in range(passes):
                for m in range(hi, lo - 1, -1):
                    update(m)
    spec = torch.stack(coefs, dim=-1).reshape(*lead, n_freq, n_frm)
    wave = istft(spec, cfg, n_samples)
    return (wave, spec) if return_spec else wave
