"""Complex multi-head attention and a complex transformer encoder layer.

:class:`ComplexMultiheadAttention` -- scaled dot-product attention (Vaswani et al., 2017, eq. 1) with complex
projections ``Q = W_q q``, ``K = W_k k``, ``V = W_v v`` and the Hermitian inner product as similarity:

    S = Q K^H / sqrt(d),    A = softmax(rho(S)),    out = W_o (A V)

``softmax`` needs real scores; ``rho`` is the real part (``score="real"``, default) or the modulus
(``score="abs"``), the two real-valued choices compared by Eilers & Jiang (2023), "Building blocks for a
complex-valued transformer architecture", ICASSP, Sec. 3.2 (the real part keeps ``Re <q, k> = <[qr, qi],
[kr, ki]>``, a proper inner product of the real pair, so it penalises phase differences; the modulus is
phase-blind). ``d`` is the complex head dimension. Attention weights ``A`` are real, so ``A V`` is two real
products.

Fast path: ``Re(Q K^H) = [Qr, Qi] [Kr, Ki]^T``, so ``score="real"`` is ONE call of PyTorch's fused
``scaled_dot_product_attention`` on the real pairs concatenated along the head dimension (``[Vr, Vi]`` as
values).

:class:`ComplexTransformerEncoderLayer` -- Vaswani et al. (2017) encoder layer (post-norm, like PyTorch's
default; ``norm_first`` for pre-norm) built from these layers, as in Eilers & Jiang (2023): self-attention,
residual, :class:`ComplexLayerNorm`, feed-forward ``Linear -> CReLU -> Dropout -> Linear``, residual, norm.
Vaswani's defaults: ``dim_feedforward=2048``, ``dropout=0.1``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from cspec.errors import ConfigError
from cspec.nn.activation import CReLU, ModReLU, modulus
from cspec.nn.base import ComplexModule, check_complex
from cspec.nn.dropout_pool import ComplexDropout
from cspec.nn.functional import complex_matmul
from cspec.nn.linear import ComplexLinear
from cspec.nn.norm import ComplexLayerNorm

__all__ = ["ComplexMultiheadAttention", "ComplexTransformerEncoderLayer"]

SCORES = ("real", "abs")


class ComplexMultiheadAttention(ComplexModule):
    """Multi-head attention on complex ``(batch, length, embed_dim)`` tensors (batch first).

    ``attn_mask`` ``(L, S)``: boolean (``True`` = may attend) or real additive; ``key_padding_mask``
    ``(batch, S)``: ``True`` marks padding keys to ignore (PyTorch's convention).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 score: str = "real") -> None:
        super().__init__()
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ConfigError(f"embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})")
        if score not in SCORES:
            raise ConfigError(f"unknown attention score '{score}'; choose one of {', '.join(SCORES)}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.score = float(dropout), score
        self.q_proj = ComplexLinear(embed_dim, embed_dim, bias)
        self.k_proj = ComplexLinear(embed_dim, embed_dim, bias)
        self.v_proj = ComplexLinear(embed_dim, embed_dim, bias)
        self.out_proj = ComplexLinear(embed_dim, embed_dim, bias)

    def _heads(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def _mask(self, attn_mask: Tensor | None, key_padding_mask: Tensor | None, like: Tensor) -> Tensor | None:
        mask = None
        if attn_mask is not None:
            mask = torch.zeros(attn_mask.shape, dtype=like.dtype, device=like.device).masked_fill(
                ~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else attn_mask.to(like.dtype)
        if key_padding_mask is not None:
            kpm = torch.zeros(key_padding_mask.shape, dtype=like.dtype, device=like.device).masked_fill(
                key_padding_mask, float("-inf"))[:, None, None, :]
            mask = kpm if mask is None else mask + kpm
        return mask

    def attend_pair(self, q: tuple[Tensor, Tensor], k: tuple[Tensor, Tensor], v: tuple[Tensor, Tensor],
                    attn_mask: Tensor | None = None, key_padding_mask: Tensor | None = None
                    ) -> tuple[Tensor, Tensor]:
        """The attention on real pairs ``(re, im)`` of query, key and value."""
        if q[0].ndim != 3 or q[0].shape[-1] != self.embed_dim:
            raise ConfigError(f"attention expects (batch, length, {self.embed_dim}), got {tuple(q[0].shape)}")
        qr, qi = (self._heads(t) for t in self.q_proj.forward_pair(*q))
        kr, ki = (self._heads(t) for t in self.k_proj.forward_pair(*k))
        vr, vi = (self._heads(t) for t in self.v_proj.forward_pair(*v))
        mask = self._mask(attn_mask, key_padding_mask, qr)
        p = self.dropout if self.training else 0.0
        scale = self.head_dim ** -0.5
        if self.score == "real":
            out = F.scaled_dot_product_attention(torch.cat([qr, qi], -1), torch.cat([kr, ki], -1),
                                                 torch.cat([vr, vi], -1), attn_mask=mask, dropout_p=p, scale=scale)
            outr, outi = out.chunk(2, dim=-1)
        else:
            sr, si = complex_matmul(qr, qi, kr, ki, conj_b=True)
            logits = modulus(sr, si) * scale
            if mask is not None:
                logits = logits + mask
            a = torch.softmax(logits, dim=-1)
            if p > 0:
                a = F.dropout(a, p)
            outr, outi = a @ vr, a @ vi
        b, _, n, _ = outr.shape
        outr = outr.transpose(1, 2).reshape(b, n, self.embed_dim)
        outi = outi.transpose(1, 2).reshape(b, n, self.embed_dim)
        return self.out_proj.forward_pair(outr, outi)

    def forward_pair(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        """Self-attention on a real pair (used by :class:`ComplexSequential` and the ONNX path)."""
        return self.attend_pair((re, im), (re, im), (re, im))

    def forward(self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None,
                attn_mask: Tensor | None = None, key_padding_mask: Tensor | None = None) -> Tensor:
        """Complex ``query`` ``(B, L, E)``, ``key``/``value`` ``(B, S, E)`` (default: self-attention)."""
        key = query if key is None else key
        value = key if value is None else value
        for name, t in (("query", query), ("key", key), ("value", value)):
            check_complex(t, name)
        yr, yi = self.attend_pair((query.real, query.imag), (key.real, key.imag), (value.real, value.imag),
                                  attn_mask, key_padding_mask)
        return torch.complex(yr, yi)


class ComplexTransformerEncoderLayer(ComplexModule):
    """Complex transformer encoder layer (Vaswani et al., 2017; Eilers & Jiang, 2023) on ``(B, L, d_model)``."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str = "crelu", norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 score: str = "real") -> None:
        super().__init__()
        if activation not in ("crelu", "modrelu"):
            raise ConfigError(f"activation must be 'crelu' or 'modrelu', got '{activation}'")
        self.self_attn = ComplexMultiheadAttention(d_model, nhead, dropout=dropout, score=score)
        self.linear1 = ComplexLinear(d_model, dim_feedforward)
        self.linear2 = ComplexLinear(dim_feedforward, d_model)
        self.activation = CReLU() if activation == "crelu" else ModReLU(dim_feedforward, dim=-1)
        self.norm1 = ComplexLayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = ComplexLayerNorm(d_model, eps=layer_norm_eps)
        self.dropout, self.dropout1, self.dropout2 = (ComplexDropout(dropout) for _ in range(3))
        self.norm_first = norm_first

    def _sa(self, re: Tensor, im: Tensor, attn_mask, key_padding_mask) -> tuple[Tensor, Tensor]:
        yr, yi = self.self_attn.attend_pair((re, im), (re, im), (re, im), attn_mask, key_padding_mask)
        return self.dropout1.forward_pair(yr, yi)

    def _ff(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        h = self.dropout.forward_pair(*self.activation.forward_pair(*self.linear1.forward_pair(re, im)))
        return self.dropout2.forward_pair(*self.linear2.forward_pair(*h))

    def forward_pair(self, re: Tensor, im: Tensor, attn_mask: Tensor | None = None,
                     key_padding_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.norm_first:
            ar, ai = self._sa(*self.norm1.forward_pair(re, im), attn_mask, key_padding_mask)
            re, im = re + ar, im + ai
            fr, fi = self._ff(*self.norm2.forward_pair(re, im))
            return re + fr, im + fi
        ar, ai = self._sa(re, im, attn_mask, key_padding_mask)
        re, im = self.norm1.forward_pair(re + ar, im + ai)
        fr, fi = self._ff(re, im)
        return self.norm2.forward_pair(re + fr, im + fi)

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None) -> Tensor:
        check_complex(src, "src")
        yr, yi = self.forward_pair(src.real, src.imag, src_mask, src_key_padding_mask)
        return torch.complex(yr, yi)
