"""Conformer blocks and the two-stage (time, then frequency) conformer of MP-SENet and CMGAN.

Conformer (Gulati et al. 2020, Interspeech, Fig. 1 and eq. 1), as both papers use it:

    x = x + 1/2 FFN(x);   x = x + MHSA(x);   x = x + Conv(x);   x = x + 1/2 FFN(x);   y = LayerNorm(x)

with pre-norm FFN ``LN -> Linear(d, 4d) -> SiLU -> Dropout -> Linear(4d, d) -> Dropout`` and convolution module
``LN -> pointwise conv (d -> 4d) -> GLU -> depthwise conv (k = 31) -> BatchNorm -> SiLU -> pointwise (2d -> d)
-> Dropout``. The attention differs between the papers:

* ``attention="mha"`` (MP-SENet, Lu et al. 2023): pre-norm ``torch.nn.MultiheadAttention`` (biases on q, k, v
  and out, dropout on the attention weights), no positional information. Deviation: the official code feeds
  ``(batch * freq, time, channels)`` to a sequence-first module, so it attends across the batch*freq axis; here
  attention runs along the intended axis (time, or frequency), which changes no parameter.
* ``attention="relpos"`` (CMGAN, Cao et al. 2022): q, k, v without bias, ``dim_head = d / heads``, and Shaw,
  Uszkoreit & Vaswani (2018) relative position embeddings (:class:`RelPosSelfAttention`); dropout on the output.

:class:`TSConformer` (Cao et al. 2022, Fig. 1 "TS-Conformer"; Lu et al. 2023, Sec. 2.3) applies a conformer along
time to every frequency bin, then one along frequency to every frame, each with an extra residual connection.
Sequences are ``(batch, length, dim)``; TF maps ``(batch, channels, time, freq)``.
"""

from __future__ import annotations

import torch
from torch import nn

from cspec.errors import ConfigError

__all__ = ["FeedForward", "ConformerConv", "RelPosSelfAttention", "ConformerBlock", "TSConformer"]


class FeedForward(nn.Module):
    """Pre-norm feed-forward module ``LN -> Linear(d, mult d) -> SiLU -> Dropout -> Linear(mult d, d) -> Dropout``."""

    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim * mult), nn.SiLU(), nn.Dropout(dropout),
                                 nn.Linear(dim * mult, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConformerConv(nn.Module):
    """Conformer convolution module (Gulati et al. 2020, Fig. 2) with a centred depthwise kernel."""

    def __init__(self, dim: int, expansion: int = 2, kernel_size: int = 31, dropout: float = 0.0) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ConfigError(f"the conformer's depthwise kernel must be odd for 'same' padding, got {kernel_size}")
        inner = dim * expansion
        self.norm = nn.LayerNorm(dim)
        self.net = nn.Sequential(
            nn.Conv1d(dim, 2 * inner, 1), nn.GLU(dim=1),
            nn.Conv1d(inner, inner, kernel_size, padding=kernel_size // 2, groups=inner),
            nn.BatchNorm1d(inner), nn.SiLU(), nn.Conv1d(inner, dim, 1),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.net(self.norm(x).transpose(1, 2)).transpose(1, 2))


class RelPosSelfAttention(nn.Module):
    """Self-attention with Shaw et al. (2018) relative positions, as in CMGAN's conformer.

        logits[h, i, j] = scale * ( q_i . k_j + q_i . E[clip(i - j, -P, P) + P] ),   scale = dim_head ** -0.5

    with a learnt table ``E`` of ``2P + 1`` rows (``P = max_pos = 512``). The ``q . E`` term is computed once
    against the ``2L - 1`` rows a length-``L`` sequence can use and gathered per ``(i, j)``, instead of
    materialising an ``(L, L, dim_head)`` table.
    """

    def __init__(self, dim: int, heads: int = 4, dim_head: int | None = None, dropout: float = 0.0,
                 max_pos: int = 512) -> None:
        super().__init__()
        dim_head = dim_head or dim // heads
        if heads < 1 or dim_head < 1 or max_pos < 1:
            raise ConfigError(f"RelPosSelfAttention needs heads, dim_head, max_pos >= 1, got {heads}, {dim_head}, "
                              f"{max_pos}")
        inner = heads * dim_head
        self.heads, self.dim_head, self.max_pos = heads, dim_head, max_pos
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim)
        self.rel_pos = nn.Embedding(2 * max_pos + 1, dim_head)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, _ = x.shape
        h, d, p = self.heads, self.dim_head, self.max_pos
        q = self.to_q(x).view(n, length, h, d).transpose(1, 2)
        k, v = self.to_kv(x).view(n, length, 2, h, d).permute(2, 0, 3, 1, 4)
        # rows p - (L-1) .. p + (L-1) clipped to the table, written without a branch (max(a, 0) = (a + |a|) / 2)
        # so that an ONNX export keeps them a function of the length
        a = p - (length - 1)
        lo = (a + abs(a)) // 2
        qe = q @ self.rel_pos.weight[lo:2 * p - lo + 1].t()  # (n, h, L, rows used)
        pos = torch.arange(length, device=x.device)
        idx = (pos[:, None] - pos[None, :]).clamp(-p, p) + (p - lo)
        logits = q @ k.transpose(-1, -2) + qe.gather(-1, idx.expand(n, h, length, length))
        attn = (logits * d ** -0.5).softmax(-1)
        out = (attn @ v).transpose(1, 2).reshape(n, length, h * d)
        return self.dropout(self.to_out(out))


class _MHA(nn.Module):
    """``torch.nn.MultiheadAttention`` over ``(batch, length, dim)`` (MP-SENet's attention module)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return self._explicit(x)
        return self.attn(x, x, x, need_weights=False)[0]

    def _explicit(self, x: torch.Tensor) -> torch.Tensor:
        """The same attention written out (eval mode, no dropout): ``nn.MultiheadAttention`` exports with the
        sequence length frozen into its reshapes, and its fused inference kernel has no ONNX operator."""
        a = self.attn
        n, length, dim = x.shape
        heads = a.num_heads
        qkv = torch.nn.functional.linear(x, a.in_proj_weight, a.in_proj_bias)  # (n, L, 3 dim)
        q, k, v = qkv.view(n, length, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        w = (q @ k.transpose(-1, -2) * (dim // heads) ** -0.5).softmax(-1)
        return a.out_proj((w @ v).transpose(1, 2).reshape(n, length, dim))


class ConformerBlock(nn.Module):
    """One conformer block over ``(batch, length, dim)`` (see the module docstring for the two attentions)."""

    def __init__(self, dim: int, heads: int = 4, attention: str = "mha", ff_mult: int = 4, conv_expansion: int = 2,
                 kernel_size: int = 31, ff_dropout: float = 0.0, attn_dropout: float = 0.0,
                 conv_dropout: float = 0.0, dim_head: int | None = None) -> None:
        super().__init__()
        if dim % heads and attention == "mha":
            raise ConfigError(f"dim {dim} must be divisible by the number of heads {heads}")
        self.ff1 = FeedForward(dim, ff_mult, ff_dropout)
        self.attn_norm = nn.LayerNorm(dim)
        if attention == "mha":
            self.attn: nn.Module = _MHA(dim, heads, attn_dropout)
        elif attention == "relpos":
            self.attn = RelPosSelfAttention(dim, heads, dim_head, attn_dropout)
        else:
            raise ConfigError(f"unknown conformer attention '{attention}'; choose 'mha' or 'relpos'")
        self.conv = ConformerConv(dim, conv_expansion, kernel_size, conv_dropout)
        self.ff2 = FeedForward(dim, ff_mult, ff_dropout)
        self.post_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + 0.5 * self.ff1(x)
        x = x + self.attn(self.attn_norm(x))
        x = x + self.conv(x)
        x = x + 0.5 * self.ff2(x)
        return self.post_norm(x)


class TSConformer(nn.Module):
    """Two-stage conformer on ``(batch, channels, time, freq)``: time conformer per bin, then frequency conformer
    per frame, each as ``x = conformer(x) + x`` (both papers). ``kwargs`` go to both :class:`ConformerBlock`."""

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__()
        self.time = ConformerBlock(channels, **kwargs)
        self.freq = ConformerBlock(channels, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, f = x.shape
        x = x.permute(0, 3, 2, 1).reshape(b * f, t, c)
        x = self.time(x) + x
        x = x.view(b, f, t, c).transpose(1, 2).reshape(b * t, f, c)
        x = self.freq(x) + x
        return x.view(b, t, f, c).permute(0, 3, 1, 2)
