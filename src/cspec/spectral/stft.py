"""STFT and iSTFT with the named presets of the headline papers.

The complex spectrogram is PyTorch's native complex tensor of shape ``(..., freq, frames)`` with
``freq = n_fft // 2 + 1``; a waveform is ``(..., samples)``. Any leading shape (batch, channels) is kept.

Frames follow ``torch.stft``: frame ``m`` covers samples ``[m*hop, m*hop + n_fft)`` of the (centre-padded)
signal, the window of length ``win_length`` is zero-padded to ``n_fft`` in the middle, and

    X[k, m] = sum_n x[m*hop + n] * w[n] * exp(-2j*pi*k*n / n_fft)            (no normalisation)

The iSTFT is the least-squares overlap-add inverse of Griffin & Lim (1984), eq. (6), which reconstructs
exactly whenever the squared window overlap-adds to a non-zero sum (NOLA).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from cspec.errors import ConfigError

__all__ = ["STFTConfig", "PRESETS", "get_preset", "list_presets", "make_window", "stft", "istft", "n_frames"]

_WINDOWS = ("hann", "sqrt_hann", "hamming", "rect")


@dataclass(frozen=True)
class STFTConfig:
    """Everything that defines a complex spectrogram.

    Attributes:
        n_fft: DFT size; the spectrogram has ``n_fft // 2 + 1`` bins.
        hop_length: frame shift in samples.
        win_length: analysis window length (``<= n_fft``; ``None`` means ``n_fft``).
        window: ``hann`` (periodic), ``sqrt_hann``, ``hamming`` (periodic) or ``rect``.
        center: pad ``n_fft // 2`` samples on both sides so that frame ``m`` is centred on sample ``m*hop``.
        pad_mode: padding used by ``center`` (``reflect`` or ``constant``).
        sample_rate: the rate the preset was designed for, in Hz.
        compress: power-law exponent ``c`` applied to the magnitude by the model (``None``: none).
        compress_scale: factor ``beta`` in ``beta * |X|**c`` (SGMSE+ uses 0.15).
        source: the paper the preset comes from.
    """

    n_fft: int = 512
    hop_length: int = 128
    win_length: int | None = None
    window: str = "hann"
    center: bool = True
    pad_mode: str = "reflect"
    sample_rate: int = 16000
    compress: float | None = None
    compress_scale: float = 1.0
    source: str = ""

    def __post_init__(self) -> None:
        win = self.win_length if self.win_length is not None else self.n_fft
        if self.n_fft < 2 or self.hop_length < 1:
            raise ConfigError(f"n_fft must be >= 2 and hop_length >= 1, got {self.n_fft} and {self.hop_length}")
        if not 1 <= win <= self.n_fft:
            raise ConfigError(f"win_length must lie in [1, n_fft={self.n_fft}], got {win}")
        if self.hop_length > win:
            raise ConfigError(f"hop_length {self.hop_length} exceeds the window length {win}: frames would leave gaps")
        if self.window not in _WINDOWS:
            raise ConfigError(f"unknown window '{self.window}'; choose one of {', '.join(_WINDOWS)}")
        if self.pad_mode not in ("reflect", "constant"):
            raise ConfigError(f"pad_mode must be 'reflect' or 'constant', got '{self.pad_mode}'")

    @property
    def win(self) -> int:
        """The analysis window length in samples."""
        return self.win_length if self.win_length is not None else self.n_fft

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def replace(self, **changes) -> "STFTConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, STFTConfig] = {
    "mpsenet": STFTConfig(
        400, 100, 400, "hann", sample_rate=16000, compress=0.3,
        source="Lu et al. 2023, MP-SENet (Interspeech): 25 ms Hann window, 6.25 ms hop, magnitude**0.3",
    ),
    "semamba": STFTConfig(
        400, 100, 400, "hann", sample_rate=16000, compress=0.3,
        source="Chao et al. 2024, SEMamba (SLT): MP-SENet's front end, magnitude**0.3",
    ),
    "cmgan": STFTConfig(
        400, 100, 400, "hamming", sample_rate=16000, compress=0.3,
        source="Cao et al. 2022, CMGAN (Interspeech): 25 ms Hamming window, 6.25 ms hop, magnitude**0.3",
    ),
    "dccrn": STFTConfig(
        512, 100, 400, "sqrt_hann", sample_rate=16000,
        source="Hu et al. 2020, DCCRN (Interspeech): 25 ms window, 6.25 ms hop, 512-point FFT",
    ),
    "fullsubnet": STFTConfig(
        512, 256, 512, "hann", sample_rate=16000,
        source="Hao et al. 2021, FullSubNet (ICASSP): 32 ms Hann window, 16 ms hop",
    ),
    "dcunet": STFTConfig(
        1024, 256, 1024, "hann", sample_rate=16000,
        source="Choi et al. 2019, Phase-aware speech enhancement with DCUNet (ICLR): 64 ms Hann, 16 ms hop",
    ),
    "sgmse": STFTConfig(
        510, 128, 510, "hann", sample_rate=16000, compress=0.5, compress_scale=0.15,
        source="Richter et al. 2023, SGMSE+ (IEEE/ACM TASLP): 510-point periodic Hann, hop 128, 0.15*|z|**0.5",
    ),
    "tfgridnet8k": STFTConfig(
        128, 64, 128, "hann", sample_rate=8000,
        source="Wang et al. 2023, TF-GridNet (IEEE/ACM TASLP), WSJ0-2mix at 8 kHz: 16 ms window, 8 ms hop",
    ),
    "hann512-128": STFTConfig(
        512, 128, 512, "hann", pad_mode="constant", sample_rate=16000,
        source="librosa's defaults for n_fft 512 (periodic Hann, hop n_fft/4, centred with zeros): phase retrieval",
    ),
    "hann512-256": STFTConfig(
        512, 256, 512, "hann", pad_mode="constant", sample_rate=16000,
        source="n_fft 512 periodic Hann at 50 % overlap, centred with zeros: phase retrieval's hard case",
    ),
}


def list_presets() -> list[str]:
    """The names of the built-in presets."""
    return sorted(PRESETS)


def get_preset(name: str | STFTConfig) -> STFTConfig:
    """Look a preset up by name (a config passes through unchanged)."""
    if isinstance(name, STFTConfig):
        return name
    try:
        return PRESETS[str(name).lower()]
    except KeyError:
        raise ConfigError(f"unknown STFT preset '{name}'; choose one of {', '.join(list_presets())}") from None


def make_window(config: STFTConfig, device=None, dtype=torch.float32) -> torch.Tensor:
    """The analysis window of ``config`` (length ``win_length``, periodic)."""
    n = config.win
    if config.window in ("hann", "sqrt_hann"):
        w = torch.hann_window(n, periodic=True, dtype=torch.float64)
        if config.window == "sqrt_hann":
            w = w.sqrt()
    elif config.window == "hamming":
        w = torch.hamming_window(n, periodic=True, dtype=torch.float64)
    else:
        w = torch.ones(n, dtype=torch.float64)
    return w.to(device=device, dtype=dtype)


def n_frames(n_samples: int, config: STFTConfig) -> int:
    """Number of STFT frames for a signal of ``n_samples`` (as ``torch.stft`` counts them)."""
    if config.center:  # n_fft // 2 samples of padding on each side: one short of n_fft when it is odd
        return 1 + (n_samples + 2 * (config.n_fft // 2) - config.n_fft) // config.hop_length
    return 1 + (n_samples - config.n_fft) // config.hop_length


def _real_dtype(x: torch.Tensor) -> torch.dtype:
    return x.real.dtype if x.is_complex() else (x.dtype if x.is_floating_point() else torch.float32)


def stft(wave: torch.Tensor, config: STFTConfig | str = "mpsenet") -> torch.Tensor:
    """Complex spectrogram ``(..., freq, frames)`` of ``wave`` ``(..., samples)``."""
    cfg = get_preset(config)
    if wave.dim() == 0 or wave.shape[-1] == 0:
        raise ConfigError(f"stft needs a signal of shape (..., samples) with samples > 0, got {tuple(wave.shape)}")
    if cfg.center and cfg.pad_mode == "reflect" and wave.shape[-1] <= cfg.n_fft // 2:
        raise ConfigError(
            f"signal of {wave.shape[-1]} samples is too short for reflect padding with n_fft={cfg.n_fft}"
        )
    lead = wave.shape[:-1]
    flat = wave.reshape(-1, wave.shape[-1])
    if not flat.is_floating_point():
        flat = flat.float()
    spec = torch.stft(
        flat, cfg.n_fft, cfg.hop_length, cfg.win, make_window(cfg, flat.device, flat.dtype),
        center=cfg.center, pad_mode=cfg.pad_mode, normalized=False, onesided=True, return_complex=True,
    )
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(spec: torch.Tensor, config: STFTConfig | str = "mpsenet", length: int | None = None) -> torch.Tensor:
    """Waveform ``(..., samples)`` from a complex spectrogram ``(..., freq, frames)``.

    ``length`` trims or zero-pads the output to that many samples (pass the input's length to get it back
    exactly); without it the output has ``hop * (frames - 1)`` samples for centred frames.

    Same result as ``torch.istft`` (windowed overlap-add of the inverse DFTs divided by the overlap-added
    squared window, Griffin & Lim 1984 eq. 6), computed faster: the inverse real FFT runs along contiguous
    frames, the overlap-add is ``ceil(n_fft / hop)`` shifted slice additions instead of ``fold``, and the window
    envelope is cached per (config, frames). Iterative phase retrieval calls this hundreds of times.
    """
    cfg = get_preset(config)
    if not spec.is_complex():
        raise ConfigError("istft expects a complex tensor (..., freq, frames); use torch.complex(real, imag)")
    if spec.shape[-2] != cfg.n_freqs:
        raise ConfigError(f"spectrogram has {spec.shape[-2]} bins but n_fft={cfg.n_fft} needs {cfg.n_freqs}")
    lead, n_fr = spec.shape[:-2], spec.shape[-1]
    flat = spec.reshape(-1, *spec.shape[-2:])
    dtype = _real_dtype(flat)
    window = _padded_window(cfg, flat.device, dtype)
    frames = torch.fft.irfft(flat.transpose(-1, -2), n=cfg.n_fft, dim=-1) * window  # (B, frames, n_fft)
    wave = _overlap_add(frames, cfg.hop_length)
    env = _envelope(cfg, n_fr, flat.device, dtype)
    start = cfg.n_fft // 2 if cfg.center else 0
    full = cfg.n_fft + cfg.hop_length * (n_fr - 1)
    end = full - start if length is None else start + length
    stop = min(end, full)
    env = env[start:stop]
    wave = torch.where(env > 1e-11, wave[:, start:stop] / env.clamp_min(1e-11), torch.zeros_like(env))
    if end > stop:
        wave = torch.nn.functional.pad(wave, (0, end - stop))
    return wave.reshape(*lead, wave.shape[-1])


def _padded_window(cfg: STFTConfig, device, dtype) -> torch.Tensor:
    w = make_window(cfg, device, dtype)
    left = (cfg.n_fft - cfg.win) // 2
    return torch.nn.functional.pad(w, (left, cfg.n_fft - cfg.win - left))


def _overlap_add(frames: torch.Tensor, hop: int) -> torch.Tensor:
    """Sum frames ``(B, T, N)`` placed every ``hop`` samples: ``(B, N + hop*(T-1))`` (padded to whole hops)."""
    batch, n_fr, n = frames.shape
    r = -(-n // hop)
    if r * hop != n:
        frames = torch.nn.functional.pad(frames, (0, r * hop - n))
    parts = frames.reshape(batch, n_fr, r, hop)
    out = frames.new_zeros(batch, n_fr + r - 1, hop)
    for j in range(r):
        out[:, j : j + n_fr] += parts[:, :, j]
    return out.reshape(batch, -1)


_ENVELOPES: dict = {}


def _envelope(cfg: STFTConfig, n_fr: int, device, dtype) -> torch.Tensor:
    """Overlap-added squared window for ``n_fr`` frames; cached.

    It must be non-zero (NOLA) where frames fully overlap, ``[n_fft//2, end - n_fft//2)``. Without centring the
    first and last samples may be covered only by a window's zero end (periodic Hann starts at 0); those samples
    cannot be recovered and come out as 0.
    """
    key = (cfg.n_fft, cfg.hop_length, cfg.win, cfg.window, cfg.center, n_fr, str(device), dtype)
    env = _ENVELOPES.get(key)
    if env is None:
        w2 = _padded_window(cfg, device, torch.float64) ** 2
        env = _overlap_add(w2.expand(1, n_fr, -1), cfg.hop_length)[0]
        inner = env[cfg.n_fft // 2 : cfg.n_fft // 2 + cfg.hop_length * (n_fr - 1)]
        if bool((inner < 1e-11).any()):
            raise ConfigError(
                f"window '{cfg.window}' ({cfg.win} samples) with hop {cfg.hop_length} does not overlap-add to a "
                "non-zero sum (NOLA); use a smaller hop"
            )
        env = env.to(dtype)
        if len(_ENVELOPES) > 64:
            _ENVELOPES.clear()
        _ENVELOPES[key] = env
    return env
