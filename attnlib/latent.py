"""Multi-head latent attention (DeepSeek-AI, 2024, DeepSeek-V2).

Grouped-query attention shrinks the cache by sharing heads.  Multi-head latent
attention instead caches one small **latent** vector per token,
``c = norm(x W^{DKV})`` of ``r`` numbers (``kv_lora_rank``), from which every
head's key and value are *up-projected*: ``k^C_h = c W^{UK}_h`` (``d_n`` numbers,
``qk_nope_head_dim``) and ``v_h = c W^{UV}_h`` (``d_v``).  Rotary positions do not
pass through a fixed up-projection, so a small **decoupled rotary key**
``k^R = RoPE(x W^{KR})`` of ``d_r`` numbers (``qk_rope_head_dim``) is shared by
all heads, and every query head gets ``d_r`` rotary features of its own:

.. math::

    s_{h, ij} = \\frac{q^C_{h,i} \\cdot k^C_{h,j} + q^R_{h,i} \\cdot k^R_j}
                     {\\sqrt{d_n + d_r}} .

The cache holds ``r + d_r`` numbers per token and layer.  Since
``q^C_h \\cdot (c W^{UK}_h) = (q^C_h W^{UK\\top}_h) \\cdot c``, a decoding step can
**absorb** ``W^{UK}`` into the query and never build the keys; the same for the
values, ``sum_j w_j (c_j W^{UV}_h) = (sum_j w_j c_j) W^{UV}_h``, whose up-projection
then meets the output projection.  Absorbed, the step is multi-query attention
over the cache itself: keys ``[c, k^R]`` of ``r + d_r`` numbers, values ``c``.

Parameter names and shapes are ``transformers``' ``DeepseekV2Attention``'s
(``q_proj``, or ``q_a_proj``, ``q_a_layernorm``, ``q_b_proj`` with a query rank;
``kv_a_proj_with_mqa``, ``kv_a_layernorm``, ``kv_b_proj``, ``o_proj``).  Its rotary
embedding turns feature pairs ``(2i, 2i+1)`` (complex numbers), which is
:func:`attnlib.apply_rotary` with ``base=10000``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import _checks
from .grouped_query import check_input, padding_free_causal
from .masking import masked_softmax
from .rotary import apply_rotary


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last dim (torch < 2.4 has no nn.RMSNorm)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


@dataclass
class LatentState:
    """One layer's latent cache; rows ``0..length-1`` are filled.

    Shapes:
        - latent: ``(B, capacity, r)``; rope_key: ``(B, capacity, d_r)`` (already rotated)
    """

    latent: torch.Tensor
    rope_key: torch.Tensor


class MultiHeadLatentAttention(nn.Module):
    """DeepSeek-V2's attention: keys and values up-projected from a cached latent.

    Args:
        embed_dim: ``E``; num_heads: ``H``.
        kv_lora_rank: ``r``, the latent's size (what the cache stores, with ``d_r``).
        qk_nope_head_dim: ``d_n``, each head's key features without position.
        qk_rope_head_dim: ``d_r``, even: rotary features, the key's shared by all heads.
        v_head_dim: ``d_v``, each head's value size.
        q_lora_rank: if set, queries also pass through a normalised latent of this size.
        rms_norm_eps: the latent norms' epsilon.

    Shapes:
        - x: ``(B, L, E)`` at positions ``0..L-1``
        - mask: broadcastable to ``(B, 1, L, L)``, ``True`` = may attend
        - returns: ``(B, L, E)``
    """

    def __init__(self, embed_dim: int, num_heads: int, *, kv_lora_rank: int,
                 qk_nope_head_dim: int, qk_rope_head_dim: int, v_head_dim: int,
                 q_lora_rank: int | None = None, rms_norm_eps: float = 1e-6):
        super().__init__()
        for name, value in [("embed_dim", embed_dim), ("num_heads", num_heads),
                            ("kv_lora_rank", kv_lora_rank),
                            ("qk_nope_head_dim", qk_nope_head_dim),
                            ("qk_rope_head_dim", qk_rope_head_dim), ("v_head_dim", v_head_dim)]:
            _checks.positive_int(value, name)
        if qk_rope_head_dim % 2:
            raise ValueError(f"`qk_rope_head_dim` must be even (rotary features turn in pairs); "
                             f"got {qk_rope_head_dim}")
        if q_lora_rank is not None:
            _checks.positive_int(q_lora_rank, "q_lora_rank")
        _checks.positive_number(rms_norm_eps, "rms_norm_eps")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kv_lora_rank, self.q_lora_rank = kv_lora_rank, q_lora_rank
        self.nope, self.rope, self.v_dim = qk_nope_head_dim, qk_rope_head_dim, v_head_dim
        self.scale = (qk_nope_head_dim + qk_rope_head_dim) ** -0.5
        qk = qk_nope_head_dim + qk_rope_head_dim
        if q_lora_rank is None:
            self.q_proj = nn.Linear(embed_dim, num_heads * qk, bias=False)
        else:
            self.q_a_proj = nn.Linear(embed_dim, q_lora_rank, bias=False)
            self.q_a_layernorm = RMSNorm(q_lora_rank, rms_norm_eps)
            self.q_b_proj = nn.Linear(q_lora_rank, num_heads * qk, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(embed_dim, kv_lora_rank + qk_rope_head_dim, bias=False)
        self.kv_a_layernorm = RMSNorm(kv_lora_rank, rms_norm_eps)
        self.kv_b_proj = nn.Linear(kv_lora_rank, num_heads * (qk_nope_head_dim + v_head_dim),
                                   bias=False)
        self.o_proj = nn.Linear(num_heads * v_head_dim, embed_dim, bias=False)

    # ------------------------------------------------------------------ the parts
    def queries(self, x: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``q^C`` ``(B, H, L, d_n)`` and rotated ``q^R`` ``(B, H, L, d_r)``."""
        q = self.q_proj(x) if self.q_lora_rank is None else \
            self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        B, L, _ = x.shape
        q = q.view(B, L, self.num_heads, self.nope + self.rope).transpose(1, 2)
        q_nope, q_rope = q.split([self.nope, self.rope], dim=-1)
        return q_nope, apply_rotary(q_rope, offset=start)

    def compress(self, x: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """What the cache stores: the latent ``c`` ``(B, L, r)`` and rotated ``k^R`` ``(B, L, d_r)``."""
        latent, rope_key = self.kv_a_proj_with_mqa(x).split([self.kv_lora_rank, self.rope], -1)
        return self.kv_a_layernorm(latent), apply_rotary(rope_key, offset=start)

    def up_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``W^{UK}`` ``(H, d_n, r)`` and ``W^{UV}`` ``(H, d_v, r)``, views of ``kv_b_proj``."""
        w = self.kv_b_proj.weight.view(self.num_heads, self.nope + self.v_dim, self.kv_lora_rank)
        return w[:, :self.nope], w[:, self.nope:]

    def attend_naive(self, q_nope, q_rope, latent, rope_key, mask) -> torch.Tensor:
        """Up-project every cached latent to keys and values, then rule 3.

        Shapes:
            - q_nope ``(B, H, L, d_n)``, q_rope ``(B, H, L, d_r)``; latent ``(B, S, r)``,
              rope_key ``(B, S, d_r)``; mask to ``(B, 1, L, S)``; returns ``(B, L, E)``
        """
        B, S, H = latent.shape[0], latent.shape[1], self.num_heads
        kv = self.kv_b_proj(latent).view(B, S, H, self.nope + self.v_dim).transpose(1, 2)
        k_nope, v = kv.split([self.nope, self.v_dim], dim=-1)  # (B, H, S, d_n), (B, H, S, d_v)
        scores = (q_nope @ k_nope.transpose(-2, -1)  # (B, H, L, S)
                  + q_rope @ rope_key[:, None].transpose(-2, -1)) * self.scale
        heads = masked_softmax(scores, mask) @ v  # (B, H, L, d_v)
        return self.o_proj(heads.transpose(1, 2).flatten(2))  # (B, L, H d_v) -> (B, L, E)

    def attend_absorbed(self, q_nope, q_rope, latent, rope_key, mask) -> torch.Tensor:
        """The same result without keys or values: ``W^{UK}`` into the query, ``W^{UV}`` out.

        Shapes: as :meth:`attend_naive`.
        """
        w_uk, w_uv = self.up_weights()
        q_latent = q_nope @ w_uk  # (B, H, L, d_n) @ (H, d_n, r) -> (B, H, L, r)
        scores = (q_latent @ latent[:, None].transpose(-2, -1)  # (B, H, L, S)
                  + q_rope @ rope_key[:, None].transpose(-2, -1)) * self.scale
        context = masked_softmax(scores, mask) @ latent[:, None]  # (B, H, L, r)
        heads = context @ w_uv.transpose(-2, -1)  # (B, H, L, r) @ (H, r, d_v) -> (B, H, L, d_v)
        return self.o_proj(heads.transpose(1, 2).flatten(2))  # (B, L, E)

    def forward(self, x: torch.Tensor, *, mask: torch.Tensor | None = None,
                is_causal: bool = False) -> torch.Tensor:
        """Self-attention of ``x`` at positions ``0..L-1`` (the naive form)."""
        check_input(x, self, self.embed_dim, mask, is_causal)
        if is_causal:
            causal = padding_free_causal(0, x.shape[1], x.device)
            mask = causal if mask is None else mask & causal
        latent, rope_key = self.compress(x, 0)
        return self.attend_naive(*self.queries(x, 0), latent, rope_key, mask)

    # ------------------------------------------------------------------ decoding
    def new_state(self, batch_size: int, capacity: int) -> LatentState:
        """An empty cache for ``capacity`` tokens: ``r + d_r`` numbers per token."""
        p = self.o_proj.weight
        return LatentState(p.new_zeros(batch_size, capacity, self.kv_lora_rank),
                           p.new_zeros(batch_size, capacity, self.rope))

    def forward_cached(self, x: torch.Tensor, state: LatentState, start: int, *,
                       absorbed: bool = True) -> torch.Tensor:
        """New tokens ``x`` ``(B, T, E)`` at positions ``start..start+T-1``, causal.

        Stores their latents and rotary keys in rows ``start..start+T-1`` and
        attends over rows ``0..start+T-1``, absorbed (default) or naive.
        """
        end = start + x.shape[1]
        state.latent[:, start:end], state.rope_key[:, start:end] = self.compress(x, start)
        attend = self.attend_absorbed if absorbed else self.attend_naive
        return attend(*self.queries(x, start), state.latent[:, :end], state.rope_key[:, :end],
                      padding_free_causal(start, end, x.device))

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"kv_lora_rank={self.kv_lora_rank}, q_lora_rank={self.q_lora_rank}, "
                f"qk_nope_head_dim={self.nope}, qk_rope_head_dim={self.rope}, "
                f"v_head_dim={self.v_dim}")
