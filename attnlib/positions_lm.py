"""A decoder-only language model whose position scheme is a choice: none, added, rotary, ALiBi.

:class:`PositionsLM` is :class:`attnlib.TransformerLM` (the same layers, norms
and head) with ``positions`` picking how order gets in:

- ``"learned"``: a learned embedding per position, added (TransformerLM's own);
- ``"sinusoidal"``: :func:`attnlib.sinusoidal_positional_encoding`, added;
- ``"none"``: nothing at all (NoPE).  A causal decoder still knows order: query
  ``i`` averages over ``i + 1`` keys, so position leaks into the activations
  (Kazemnejad et al., 2023);
- ``"rotary"``: queries and keys rotated by :func:`attnlib.apply_rotary`, with
  frequencies that :meth:`PositionsLM.set_rope` can replace after training
  (:func:`attnlib.rope_frequencies`: interpolation, NTK-aware, YaRN);
- ``"alibi"``: :func:`attnlib.alibi_bias` added to every head's scores.

It keeps no KV cache: :meth:`generate` reruns the model on the whole prefix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _checks
from .alibi import alibi_bias, alibi_slopes
from .dot_product import causal_mask, scaled_dot_product_attention
from .lm import TransformerLM
from .positional import sinusoidal_positional_encoding
from .rotary import apply_rotary
from .rope_scaling import rope_frequencies

POSITIONS = ("none", "learned", "sinusoidal", "rotary", "alibi")
"""The valid values of ``positions``."""


class PositionsLM(TransformerLM):
    """:class:`TransformerLM` with ``positions`` one of :data:`POSITIONS`.

    Args:
        vocab_size, d_model, nhead, num_layers, dim_feedforward, max_len, dropout:
            as :class:`TransformerLM` (``max_len`` bounds every input).
        positions: the position scheme.
        rope_base: the rotary base (``"rotary"`` only).

    Shapes:
        - idx: ``(B, T)`` int64 ids, ``T <= max_len``; logits ``(B, T, V)``
    """

    def __init__(self, vocab_size: int, d_model: int, nhead: int, num_layers: int, *,
                 positions: str = "rotary", dim_feedforward: int | None = None,
                 max_len: int = 512, dropout: float = 0.0, rope_base: float = 10000.0):
        super().__init__(vocab_size, d_model, nhead, num_layers,
                         dim_feedforward=dim_feedforward, max_len=max_len, dropout=dropout)
        if positions not in POSITIONS:
            raise ValueError(f"`positions` must be one of {', '.join(map(repr, POSITIONS))}; "
                             f"got {positions!r}")
        self.positions = positions
        head_dim = d_model // nhead
        if positions != "learned":
            self.position_embedding = None  # no learned table
        if positions == "sinusoidal":
            self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model),
                                 persistent=False)
        if positions == "rotary":
            if head_dim % 2:
                raise ValueError(f"rotary positions need an even head size d_model/nhead; "
                                 f"got d_model {d_model}, nhead {nhead}")
            self.set_rope(rope_frequencies(head_dim, base=rope_base)[0])
        if positions == "alibi":
            self.register_buffer("slopes", alibi_slopes(nhead).float(), persistent=False)

    def set_rope(self, inv_freq: torch.Tensor, attention_scaling: float = 1.0) -> None:
        """Use rotary frequencies ``inv_freq`` ``(E/H/2,)`` and scale queries and keys by
        ``attention_scaling`` (both from :func:`attnlib.rope_frequencies`)."""
        if self.positions != "rotary":
            raise ValueError(f"set_rope needs positions='rotary'; this model has "
                             f"{self.positions!r}")
        _checks.tensor(inv_freq, "inv_freq")
        half = self.d_model // self.nhead // 2
        if tuple(inv_freq.shape) != (half,):
            raise ValueError(f"`inv_freq` must have shape (E/H/2,) = ({half},); "
                             f"got {_checks._shape(inv_freq)}")
        _checks.positive_number(attention_scaling, "attention_scaling")
        self.register_buffer("inv_freq", inv_freq.detach().to(torch.float64).clone(),
                             persistent=False)
        self.attention_scaling = float(attention_scaling)

    def _embed(self, idx: torch.Tensor, start: int) -> torch.Tensor:
        x = self.token_embedding(idx)  # (B, T) -> (B, T, E)
        T = idx.shape[1]
        if self.positions == "learned":
            x = x + self.position_embedding(torch.arange(start, start + T, device=idx.device))
        elif self.positions == "sinusoidal":
            x = x + self.pe[start:start + T].to(x.dtype)
        return x

    def _attend(self, layer, x: torch.Tensor) -> torch.Tensor:
        """One pre-LN layer with this model's positions, causal."""
        mha, T = layer.self_attn, x.shape[1]
        h = layer.norm1(x)
        qkv = F.linear(h, mha.in_proj_weight, mha.in_proj_bias)  # (B, T, E) -> (B, T, 3E)
        q, k, v = (mha._split_heads(t) for t in qkv.chunk(3, dim=-1))  # 3 x (B, H, T, E/H)
        if self.positions == "rotary":
            s = self.attention_scaling
            q = apply_rotary(q, inv_freq=self.inv_freq) * s
            k = apply_rotary(k, inv_freq=self.inv_freq) * s
        if self.positions == "alibi":
            bias = alibi_bias(self.slopes, T, device=x.device, dtype=x.dtype)  # (H, T, T)
            bias = bias.masked_fill(~causal_mask(T, T, device=x.device), float("-inf"))
            heads = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            heads, _ = scaled_dot_product_attention(q, k, v, is_causal=True, need_weights=False)
        x = x + layer.dropout1(mha.out_proj(mha._merge_heads(heads)))  # (B, T, E)
        return x + layer.dropout2(layer._ff_block(layer.norm2(x)))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """The logits of the next token at every position: ``(B, T) -> (B, T, V)``."""
        self._check_idx(idx)
        x = self._embed(idx, 0)
        for layer in self.layers:
            x = self._attend(layer, x)
        return self.head(self.norm(x))

    def new_cache(self, *args, **kwargs):
        raise NotImplementedError("PositionsLM keeps no KV cache; use generate(..., "
                                  "use_cache=False) or TransformerLM for a cached model")

    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, use_cache: bool = False
                 ) -> torch.Tensor:
        """Greedy decoding, rerunning the whole prefix each step (no cache)."""
        if use_cache:
            self.new_cache()  # raises
        return super().generate(idx, max_new_tokens, use_cache=False)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", positions={self.positions!r}"
