"""``Stream``: causal enhancement of audio that arrives in pieces of any size, equal to the offline output.

Frame-by-frame path (GTCRN and two-stage GTCRN, CRN, GCRN, DCCRN-*; the models :mod:`cspec.infer.cores` covers). The
stream keeps the padded input signal the offline STFT would see (left padding first: zeros, or the reflection of the
first samples for a reflect-padded STFT such as DCCRN's), cuts frame ``m`` as soon as the last non-zero sample of
its window has arrived, runs the model's spectral core on the new frames only, and overlap-adds their inverse DFTs
divided by the overlap-added squared window, exactly as :func:`cspec.spectral.istft` does. The recurrent and
convolutional state is carried between calls on a private copy of the model: each causal convolution keeps its last
``(k - 1) d`` input frames (in place of its zero padding), each transposed one its last ``k - 1``, each
unidirectional RNN (the ones along time; the bidirectional ones of GTCRN run across frequency within a frame) its
hidden state, a GTCRN deep filter its last ``df_order - 1`` noisy frames. Cost per frame: one core evaluation on
one frame; memory: one frame of signal and the state.

Latency (``Stream.latency``, samples): output sample ``t`` is final once every frame whose window is non-zero at
``t`` has been processed, and the last of them needs input up to ``t + b - a`` (``a``, ``b``: first and last
non-zero window samples). So ``latency = b - a`` = the model's look-ahead (:meth:`SpeechModel.lookahead`), which
includes the framing: 510 samples (31.9 ms) for GTCRN, 319 (19.9 ms) for CRN/GCRN, 398 (24.9 ms) for DCCRN.
After ``n`` samples in, at least ``n - latency`` samples are out; the rest come with :meth:`Stream.flush`.

An ONNX ``frames`` export (:func:`cspec.infer.export_onnx`, run by :class:`cspec.infer.OnnxModel`) takes the place
of the core and of the carried state: ``Stream(OnnxModel("gtcrn_frames.onnx"))``, one channel.

Other causal models (e.g. causal Conv-TasNet): the model is re-run on a bounded window of the last
``context_seconds`` of input plus the new samples, and only outputs whose look-ahead has arrived are released.
Cost: one pass over ``context + new`` samples per call. Exact when the receptive field is shorter than the
context; models with unbounded memory (cumulative layer norm, RNNs) are approximated.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.infer.cores import get_core, has_core, refuse_frame_lookahead

__all__ = ["Stream"]


def _stateful(model: nn.Module) -> tuple[nn.Module, dict]:
    """A copy of ``model`` whose time-causal layers carry their state between calls in the returned dict."""
    from cspec.models.blocks.crn_common import CausalConv2d, CausalConvTranspose2d
    from cspec.nn.conv import _ComplexConvNd
    from cspec.nn.recurrent import _ComplexRNN

    m, states = copy.deepcopy(model).eval(), {}

    def cat(key, x, dim, keep):  # prepend the stored frames (zeros at first) and store the new last ones
        prev = states.get(key)
        if prev is None:
            shape = list(x.shape)
            shape[dim] = keep
            prev = x.new_zeros(shape)
        xx = torch.cat([prev, x], dim=dim)
        states[key] = xx.narrow(dim, xx.shape[dim] - keep, keep)
        return xx

    for name, mod in m.named_modules():
        if getattr(mod, "df_order", 1) > 1:  # GTCRN's deep filter: the last df_order - 1 frames of the low bins
            def history(re, im, k=name, p=mod.df_order - 1, low=mod.erb.n_low):
                return cat(k + ".df.re", re[:, :low], -1, p), cat(k + ".df.im", im[:, :low], -1, p)
            mod._history = history
        if isinstance(mod, CausalConv2d) and mod.time_pad:
            mod.forward = lambda x, k=name, mod=mod: mod.conv(cat(k, x, 2, mod.time_pad))
        elif isinstance(mod, CausalConvTranspose2d) and mod.conv.kernel_size[0] > 1:
            p = mod.conv.kernel_size[0] - 1
            mod.forward = lambda x, k=name, mod=mod, p=p: mod.conv(cat(k, x, 2, p))[:, :, p: p + x.shape[2]]
        elif isinstance(mod, _ComplexConvNd) and mod.causal and mod.time_trim:
            p, orig = mod.time_trim, mod.forward_pair
            if not mod._transposed:
                mod.time_trim = 0  # the stored frames replace the zero padding

            def conv_pair(re, im, k=name, p=p, orig=orig, tr=mod._transposed):
                yr, yi = orig(cat(k + ".re", re, -1, p), cat(k + ".im", im, -1, p))
                return (yr[..., p:], yi[..., p:]) if tr else (yr, yi)
            mod.forward_pair = conv_pair
        elif isinstance(mod, nn.RNNBase) and not mod.bidirectional:
            if not mod.batch_first:
                raise ConfigError(f"streaming needs batch_first RNNs; {name} is not")

            def rnn(x, hx=None, k=name, orig=mod.forward):
                out, h = orig(x, states.get(k))
                states[k] = h
                return out, h
            mod.forward = rnn
        elif isinstance(mod, _ComplexRNN) and not mod.bidirectional:
            def crnn(re, im, state=None, k=name, orig=mod.forward_pair_state):
                yr, yi, st = orig(re, im, states.get(k))
                states[k] = st
                return yr, yi, st
            mod.forward_pair_state = crnn
    return m, states


class Stream:
    """Streaming enhancement: ``process(chunk)`` returns the samples finished so far, ``flush()`` the rest.

    Chunks are ``(samples,)`` or ``(channels, samples)`` (channels as a batch), at the model's ``sample_rate``,
    of any size (including 0). The concatenated outputs equal ``model(whole input)["wave"]`` to float rounding on
    the frame-by-frame path (see the module docstring). ``latency`` is the algorithmic latency in samples.

    Args:
        model: a causal :class:`cspec.models.SpeechModel`.
        context_seconds: the input window of the re-run path (models without a covered spectral core).
    """

    def __init__(self, model: nn.Module, context_seconds: float = 4.0) -> None:
        if not getattr(model, "causal", False):
            raise ConfigError(f"model '{getattr(model, 'name', type(model).__name__)}' is not causal and cannot "
                              "stream; use cspec.infer.Enhancer (chunked offline processing)")
        refuse_frame_lookahead(model, "use cspec.infer.Enhancer (chunked offline processing)")
        self.model, self.sample_rate = model.eval(), int(model.sample_rate)
        self.onnx = getattr(model, "mode", None) == "frames"  # a frames export run by cspec.infer.OnnxModel
        self.framewise = self.onnx or has_core(model)
        self.latency = int(model.lookahead())
        self.context = int(context_seconds * self.sample_rate)
        if not self.framewise and self.context < 1:
            raise ConfigError(f"context_seconds must be > 0, got {context_seconds}")
        if self.framewise:
            cfg = model.stft_config
            self.cfg, self.hop, self.n_fft = cfg, cfg.hop_length, cfg.n_fft
            from cspec.spectral.stft import _padded_window
            self.window = _padded_window(cfg, None, torch.float32)
            nz = torch.nonzero(self.window).flatten()
            self.a, self.b = int(nz[0]), int(nz[-1])
            self.pad = cfg.n_fft // 2 if cfg.center else cfg.win - cfg.hop_length
            self.reflect = cfg.center and cfg.pad_mode == "reflect"
            self.latency = self.b - self.a
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next chunk starts a new signal."""
        self.n, self._shape1d, self._x, self._out_sent = 0, None, None, 0
        if self.framewise:
            if self.onnx:
                self.model.reset()
            else:
                self._net, self._states = _stateful(self.model)
                self._core = get_core(self._net)
            self._base, self._m, self._left = 0, 0, False  # padded index of _x[0], frames done, left pad in
            self._ola = self._env = None
            self._tail = None  # the last pad + 1 input samples (right reflection at flush)

    # --------------------------------------------------------------------------------------------- public

    @torch.no_grad()
    def process(self, chunk: torch.Tensor) -> torch.Tensor:
        x = self._check(chunk)
        self._x = x if self._x is None else torch.cat([self._x, x], dim=-1)
        self.n += x.shape[-1]
        if self.framewise:  # the last pad + 1 input samples, for the right reflection at the end
            self._tail = (x if self._tail is None else torch.cat([self._tail, x], -1))[:, -(self.pad + 1):]
        out = self._frames(final=False) if self.framewise else self._rerun(final=False)
        return out[0] if self._shape1d else out

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        """The remaining output (the last ``latency`` samples and the signal's end); then :meth:`reset`."""
        if self._x is None or self.n == 0:
            raise ConfigError("nothing to flush: no samples were processed")
        out = self._frames(final=True) if self.framewise else self._rerun(final=True)
        one_d = self._shape1d
        self.reset()
        return out[0] if one_d else out

    # ---------------------------------------------------------------------------------------- internals

    def _check(self, chunk) -> torch.Tensor:
        x = torch.as_tensor(chunk, dtype=torch.float32)
        if x.dim() not in (1, 2):
            raise ConfigError(f"a chunk is (samples,) or (channels, samples), got shape {tuple(x.shape)}")
        one_d = x.dim() == 1
        x = x.reshape(1 if one_d else x.shape[0], x.shape[-1])
        if self._shape1d is None:
            self._shape1d, self._channels = one_d, x.shape[0]
        if self.onnx and x.shape[0] != 1:
            raise ConfigError("an ONNX frames export streams one channel; mix down or use one Stream per channel")
        if x.shape[0] != self._channels:
            raise ConfigError(f"the stream has {self._channels} channels, this chunk {x.shape[0]}; call reset()")
        if not bool(torch.isfinite(x).all()):
            raise ConfigError("the chunk holds NaN or Inf samples")
        return x

    def _frames(self, final: bool) -> torch.Tensor:
        """Move new input into the padded buffer, run the ready frames, release the final samples."""
        if not self._left:
            need = (self.pad - self.a + 1) if self.reflect else 0
            if self.n < need and not final:
                return self._x.new_zeros(self._x.shape[0], 0)
            if self.reflect and self.n <= self.pad:
                raise ConfigError(f"{self.n} samples are too few for the model's reflect-padded STFT "
                                  f"(more than {self.pad} needed)")
            left = self._x.new_zeros(self._x.shape[0], self.pad)
            if self.reflect:
                left[:, self.a:] = self._x[:, 1: self.pad - self.a + 1].flip(-1)
            self._x, self._left = torch.cat([left, self._x], dim=-1), True
        end = self.pad + self.n  # padded length available
        if final:
            n_fr = self._total_frames()
            full = (n_fr - 1) * self.hop + self.n_fft
            right = self._x.new_zeros(self._x.shape[0], full - end)
            if self.reflect:
                k = min(right.shape[-1], self.pad)
                right[:, :k] = self._tail[:, -1 - k: -1].flip(-1)
            self._x = torch.cat([self._x, right], dim=-1)
        else:
            n_fr = max(0, (end - 1 - self.b) // self.hop + 1)  # frames whose window's last non-zero sample is in
        if n_fr > self._m:
            self._run(n_fr)
        release = end if final else min(end, self._m * self.hop + self.a)
        return self._release(release)

    def _total_frames(self) -> int:
        if self.cfg.center:
            return 1 + (self.n + 2 * self.pad - self.n_fft) // self.hop
        return max(1, -(-(self.n + self.pad - self.n_fft) // self.hop) + 1)

    def _run(self, n_fr: int) -> None:
        m0, hop, n = self._m, self.hop, self.n_fft
        start = m0 * hop - self._base
        seg = self._x[:, start: (n_fr - 1) * hop + n - self._base]
        seg = F.pad(seg, (0, (n_fr - 1 - m0) * hop + n - seg.shape[-1]))  # past b: multiplied by zeros
        out = self._frame_fn(seg.unfold(-1, n, hop))  # (B, K, n) raw frames -> windowed output frames
        k = n_fr - m0
        span = (k - 1) * hop + n
        ola = F.fold(out.transpose(1, 2), (1, span), (1, n), stride=(1, hop)).reshape(out.shape[0], span)
        env = F.fold((self.window**2).expand(1, k, n).transpose(1, 2), (1, span), (1, n), stride=(1, hop))
        self._accumulate(m0 * hop, ola, env.reshape(span))
        self._m = n_fr
        keep = self._m * hop - self._base  # input before the next frame's start is no longer needed
        self._x, self._base = self._x[:, keep:], self._base + keep

    def _frame_fn(self, frames: torch.Tensor) -> torch.Tensor:
        if self.onnx:
            return self.model.frames(frames)  # the export's batch is 1: one channel
        spec = torch.fft.rfft(frames * self.window, dim=-1).transpose(1, 2)  # (B, F, K)
        re, im = self._core(spec.real.contiguous(), spec.imag.contiguous())
        return torch.fft.irfft(torch.complex(re, im).transpose(1, 2), n=self.n_fft, dim=-1) * self.window

    def _accumulate(self, pos: int, ola: torch.Tensor, env: torch.Tensor) -> None:
        if self._ola is None:
            self._ola, self._env, self._ola_base = ola.new_zeros(ola.shape[0], 0), env.new_zeros(0), pos
        grow = pos + ola.shape[-1] - (self._ola_base + self._ola.shape[-1])
        if grow > 0:
            self._ola = F.pad(self._ola, (0, grow))
            self._env = F.pad(self._env, (0, grow))
        if pos < self._ola_base:  # already released: the window is zero there, so the frame adds zeros
            ola, env, pos = ola[:, self._ola_base - pos:], env[self._ola_base - pos:], self._ola_base
        i = pos - self._ola_base
        self._ola[:, i: i + ola.shape[-1]] += ola
        self._env[i: i + env.shape[-1]] += env

    def _release(self, upto: int) -> torch.Tensor:
        """Output samples up to padded index ``upto`` (exclusive) that were not sent yet."""
        first = self.pad + self._out_sent
        if self._ola is None or upto <= first:
            return self._x.new_zeros(self._x.shape[0], 0)
        i, j = first - self._ola_base, upto - self._ola_base
        env = self._env[i:j]
        y = torch.where(env > 1e-11, self._ola[:, i:j] / env.clamp_min(1e-11), torch.zeros_like(env))
        self._out_sent += y.shape[-1]
        self._ola, self._env, self._ola_base = self._ola[:, j:], self._env[j:], upto
        return y

    def _rerun(self, final: bool) -> torch.Tensor:
        """Bounded-context path: run the model on the last ``context`` samples before the unreleased output."""
        ready = self.n if final else max(0, self.n - self.latency)
        if ready <= self._out_sent:
            return self._x.new_zeros(self._x.shape[0], 0)
        base = self.n - self._x.shape[-1]  # input index of _x[0]
        cfg = getattr(self.model, "stft_config", None)
        grid = cfg.hop_length if cfg is not None else 1
        start = max(base, (max(0, self._out_sent - self.context) // grid) * grid)
        y = self.model(self._x[:, start - base:])["wave"]
        out = y[..., self._out_sent - start: ready - start]
        self._out_sent = ready
        drop = (max(0, self._out_sent - self.context) // grid) * grid - base
        if drop > 0:
            self._x = self._x[:, drop:]
        return out
