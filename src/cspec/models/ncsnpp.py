"""NCSN++ (Song et al. 2021) as the score network of SGMSE+ (Richter et al. 2023), at the paper's size.

Julius Richter, Simon Welker, Jean-Marie Lemercier, Bunlong Lay, Timo Gerkmann, "Speech enhancement and
dereverberation with diffusion-based generative models", IEEE/ACM TASLP 31, 2023, Sec. IV-B: the score model is
the NCSN++ of Yang Song et al., "Score-based generative modeling through stochastic differential equations",
ICLR 2021 (App. H.1), in the configuration Song et al. used for 256 x 256 CelebA-HQ with the continuous VE SDE,
on the compressed complex STFT (256 frequency bins x 256 frames in training). The input is 4 real channels (real
and imaginary parts of the current state ``x_t`` and of the noisy spectrogram ``y``), the output 2 (the real and
imaginary parts of the score). The defaults of :class:`NCSNpp` are that configuration:

* ``nf = 128`` channels, multipliers ``ch_mult = (1, 1, 2, 2, 2, 2, 2)`` (7 levels, 6 downsamplings:
  ``multiple = 64``), ``num_res_blocks = 2`` BigGAN residual blocks per level (``num_res_blocks + 1`` on the way
  up), resampling inside residual blocks (``resblock_type = biggan``; ``resamp_with_conv`` of the reference
  configuration therefore has no module to act on) with the FIR kernel ``[1, 3, 3, 1]``;
* self-attention at resolution 16 of 256 (``attn_levels = [4]``) and in the middle block;
* progressive input ``input_skip`` (the input downsampled by FIR and added through a 1x1 convolution at each
  level, combine ``sum``) and progressive output ``output_skip`` (an output pyramid: ``GN -> swish -> conv3x3``
  to ``C_in`` channels at each level, FIR-upsampled and summed), then a 1x1 convolution ``C_in -> C_out``;
* skip connections rescaled by ``1/sqrt(2)``, GroupNorm (``min(C/4, 32)`` groups), swish, dropout 0,
  ``init_scale = 0``;
* time conditioning: Gaussian Fourier features (``nf`` frequencies, scale 16) of ``log t`` (the official code
  feeds ``torch.log(t)``; ``log_time=False`` embeds ``t`` itself, for processes whose time reaches 0), two dense
  layers to ``4 nf``, added in every residual block.

The parameter count of that configuration is 65.6 M (65,590,694 here; the SGMSE+ authors give "65M parameters",
sp-uhh/sgmse issue #11). Attention is placed by level rather than by the runtime frequency size, so any
``freq`` that is a multiple of ``multiple`` gives the same network.

:data:`COMPACT` is a small configuration for CPU training (``build_backbone("ncsnpp_compact")``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspec.errors import ConfigError
from cspec.models.backbones import register_backbone
from cspec.models.blocks.ncsnpp_layers import (
    AttnBlock, Combine, FIRResample, GaussianFourierProjection, ResnetBlockBigGAN, _linear, conv3x3, group_norm,
)

__all__ = ["NCSNpp", "COMPACT", "PAPER_PARAMS"]

PAPER_PARAMS = 65_590_694  # trainable parameters of the default (paper) configuration

#: a configuration for CPU training: 4 levels of 16..32 channels, one residual block, attention only in the middle
COMPACT = dict(nf=16, ch_mult=[1, 2, 2, 2], num_res_blocks=1, attn_levels=[])


@register_backbone("ncsnpp")
class NCSNpp(nn.Module):
    """NCSN++ score network ``net(x, t)``; see the module docstring. Defaults: SGMSE+'s configuration.

    Args:
        in_channels / out_channels: real channels in and out (4: state and noisy re/im; 2: score re/im).
        nf: channels of the first level. ch_mult: multipliers per level (levels = ``len(ch_mult)``).
        num_res_blocks: residual blocks per level on the way down (one more on the way up).
        attn_levels: levels (0 = full resolution) with self-attention; mid_attention: attention in the middle.
        fir, fir_kernel: FIR resampling and its 1-D kernel (``False``: nearest up / 2x2 mean down).
        skip_rescale: divide residual sums by sqrt(2). input_skip / output_skip: the progressive pyramids.
        fourier_scale: std of the Fourier frequencies. log_time: embed ``log t`` (needs ``t > 0``).
        dropout: in the residual blocks. init_scale: scale of the last layer of each branch (0: 1e-10).
    """

    def __init__(self, in_channels: int = 4, out_channels: int = 2, nf: int = 128,
                 ch_mult=(1, 1, 2, 2, 2, 2, 2), num_res_blocks: int = 2, attn_levels=(4,),
                 mid_attention: bool = True, fir: bool = True, fir_kernel=(1, 3, 3, 1), skip_rescale: bool = True,
                 input_skip: bool = True, output_skip: bool = True, fourier_scale: float = 16.0,
                 log_time: bool = True, dropout: float = 0.0, init_scale: float = 0.0) -> None:
        super().__init__()
        ch_mult, attn_levels, fir_kernel = [int(m) for m in ch_mult], [int(a) for a in attn_levels], list(fir_kernel)
        _validate(in_channels, out_channels, nf, ch_mult, num_res_blocks, attn_levels, fir_kernel, dropout)
        self._config = dict(
            in_channels=int(in_channels), out_channels=int(out_channels), nf=int(nf), ch_mult=ch_mult,
            num_res_blocks=int(num_res_blocks), attn_levels=attn_levels, mid_attention=bool(mid_attention),
            fir=bool(fir), fir_kernel=fir_kernel, skip_rescale=bool(skip_rescale), input_skip=bool(input_skip),
            output_skip=bool(output_skip), fourier_scale=float(fourier_scale), log_time=bool(log_time),
            dropout=float(dropout), init_scale=float(init_scale))
        self.levels, self.num_res_blocks = len(ch_mult), int(num_res_blocks)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.multiple = 2 ** (self.levels - 1)
        self.input_skip, self.output_skip, self.log_time = bool(input_skip), bool(output_skip), bool(log_time)

        temb_dim = 4 * nf
        self.fourier = GaussianFourierProjection(nf, fourier_scale)
        self.temb1, self.temb2 = _linear(2 * nf, temb_dim), _linear(temb_dim, temb_dim)

        def res(c_in, c_out=None, **kw):
            return ResnetBlockBigGAN(c_in, c_out, temb_dim, dropout=dropout, fir=fir, fir_kernel=fir_kernel,
                                     skip_rescale=skip_rescale, init_scale=init_scale, **kw)

        def attn(c):
            return AttnBlock(c, skip_rescale=skip_rescale, init_scale=init_scale)

        self.conv_in = conv3x3(in_channels, nf)
        hs_c, c = [nf], nf
        self.down = nn.ModuleList()
        for level, mult in enumerate(ch_mult):
            stage = nn.Module()
            stage.blocks, stage.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks):
                stage.blocks.append(res(c, nf * mult))
                c = nf * mult
                if level in attn_levels:
                    stage.attn.append(attn(c))
                hs_c.append(c)
            if level != self.levels - 1:
                stage.resample = res(c, down=True)
                stage.combine = Combine(in_channels, c) if input_skip else None
                hs_c.append(c)
            self.down.append(stage)
        self.pyramid_down = FIRResample("down", fir_kernel, fir) if input_skip else None

        self.mid1, self.mid_attn, self.mid2 = res(c), (attn(c) if mid_attention else None), res(c)

        self.up = nn.ModuleList()  # index 0 is the deepest level
        for level in reversed(range(self.levels)):
            stage = nn.Module()
            stage.blocks = nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                stage.blocks.append(res(c + hs_c.pop(), nf * ch_mult[level]))
                c = nf * ch_mult[level]
            stage.attn = attn(c) if level in attn_levels else None
            if output_skip:
                stage.out_norm, stage.out_conv = group_norm(c), conv3x3(c, in_channels, init_scale=init_scale)
            stage.resample = res(c, up=True) if level != 0 else None
            self.up.append(stage)
        assert not hs_c
        self.pyramid_up = FIRResample("up", fir_kernel, fir) if output_skip else None
        if not output_skip:
            self.out_norm, self.out_conv = group_norm(c), conv3x3(c, in_channels, init_scale=init_scale)
        self.output_layer = nn.Conv2d(in_channels, out_channels, 1)

    @property
    def config(self) -> dict:
        """The keyword arguments that rebuild this network (``build_backbone("ncsnpp", **net.config)``)."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self._config.items()}

    def n_parameters(self) -> int:
        """Trainable parameters (the fixed Fourier frequencies are a buffer, not counted)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _check(self, x: torch.Tensor, t) -> torch.Tensor:
        if not torch.is_tensor(x) or x.dim() != 4 or x.is_complex() or not x.is_floating_point():
            got = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ConfigError(f"NCSN++ takes a real float tensor (batch, {self.in_channels}, freq, frames); got "
                              f"{got}{' complex' if torch.is_tensor(x) and x.is_complex() else ''}")
        b, c, f, n = x.shape
        if c != self.in_channels:
            raise ConfigError(f"NCSN++ was built for {self.in_channels} input channels; got {c}")
        m = self.multiple
        if f % m or n % m:
            raise ConfigError(f"NCSN++ needs freq and frames that are multiples of {m} "
                              f"({self.levels - 1} downsamplings); got {f} x {n}: pad or crop the spectrogram")
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.dim() == 0:
            t = t.expand(b)
        if t.shape != (b,):
            raise ConfigError(f"NCSN++ takes one time per batch item, shape ({b},); got {tuple(t.shape)}")
        if self.log_time and bool((t <= 0).any()):
            raise ConfigError("NCSN++ embeds log(t) (log_time=True) and needs t > 0; build it with log_time=False "
                              "for times that reach 0")
        return t

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        """``x``: (B, C_in, F, T) real; ``t``: (B,) (or a scalar); returns (B, C_out, F, T)."""
        t = self._check(x, t)
        temb = self.fourier(torch.log(t) if self.log_time else t)
        temb = self.temb2(F.silu(self.temb1(temb)))

        pyramid = x
        hs = [self.conv_in(x)]
        for level, stage in enumerate(self.down):
            for i, block in enumerate(stage.blocks):
                h = block(hs[-1], temb)
                if len(stage.attn):
                    h = stage.attn[i](h)
                hs.append(h)
            if level != self.levels - 1:
                h = stage.resample(hs[-1], temb)
                if stage.combine is not None:
                    pyramid = self.pyramid_down(pyramid)
                    h = stage.combine(pyramid, h)
                hs.append(h)

        h = self.mid1(hs[-1], temb)
        if self.mid_attn is not None:
            h = self.mid_attn(h)
        h = self.mid2(h, temb)

        out = None
        for stage in self.up:
            for block in stage.blocks:
                h = block(torch.cat([h, hs.pop()], dim=1), temb)
            if stage.attn is not None:
                h = stage.attn(h)
            if self.output_skip:
                level_out = stage.out_conv(F.silu(stage.out_norm(h)))
                out = level_out if out is None else self.pyramid_up(out) + level_out
            if stage.resample is not None:
                h = stage.resample(h, temb)
        if not self.output_skip:
            out = self.out_conv(F.silu(self.out_norm(h)))
        return self.output_layer(out)


@register_backbone("ncsnpp_compact")
def ncsnpp_compact(**options) -> NCSNpp:
    """NCSN++ in the :data:`COMPACT` configuration for CPU training; ``options`` override it."""
    return NCSNpp(**{**COMPACT, **options})


def _validate(c_in, c_out, nf, ch_mult, nrb, attn_levels, fir_kernel, dropout) -> None:
    if min(c_in, c_out, nf, nrb) < 1 or not ch_mult or min(ch_mult) < 1:
        raise ConfigError("NCSN++: in/out channels, nf, num_res_blocks and ch_mult entries must be >= 1")
    if any(not 0 <= a < len(ch_mult) for a in attn_levels):
        raise ConfigError(f"NCSN++: attn_levels {attn_levels} outside the {len(ch_mult)} levels 0..{len(ch_mult) - 1}")
    if len(fir_kernel) < 2 or sum(fir_kernel) <= 0:
        raise ConfigError(f"NCSN++: fir_kernel needs >= 2 taps with a positive sum; got {fir_kernel}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"NCSN++: dropout must be in [0, 1); got {dropout}")
