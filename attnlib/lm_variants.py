"""One decoder, every attention variant: :class:`VariantLM` and the cache's size.

:class:`attnlib.TransformerLM`'s embeddings, final norm, output layer, forward
pass and greedy :meth:`~attnlib.TransformerLM.generate`, with each layer's
attention chosen by name:

- ``"mha"``: :class:`~attnlib.GroupedQueryAttention` with ``G = H`` (multi-head);
- ``"gqa"``: the same with ``num_kv_heads`` key-value heads (``1`` is multi-query);
- ``"mla"``: :class:`~attnlib.MultiHeadLatentAttention`;
- ``"window"``: :class:`~attnlib.SlidingWindowAttention` (``window``, ``sinks``);
- ``"linear"``: :class:`~attnlib.LinearSelfAttention`.

Each attention module keeps its own decoding state (keys and values, a latent, a
rolling buffer or a fixed-size matrix); :class:`VariantCache` holds one per layer.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .grouped_query import GroupedQueryAttention, KVState
from .latent import LatentState, MultiHeadLatentAttention
from .linear_attention import LinearSelfAttention
from .lm import TransformerLM
from .sliding_window import RollingKVState, SlidingWindowAttention

VARIANTS = ("mha", "gqa", "mla", "window", "linear")


def make_attention(attention: str, d_model: int, nhead: int, **kwargs) -> nn.Module:
    """The attention module called ``attention`` (one of :data:`VARIANTS`); ``kwargs`` go to it."""
    if attention == "mha":
        return GroupedQueryAttention(d_model, nhead, nhead, **kwargs)
    if attention == "gqa":
        return GroupedQueryAttention(d_model, nhead, **kwargs)
    if attention == "mla":
        return MultiHeadLatentAttention(d_model, nhead, **kwargs)
    if attention == "window":
        return SlidingWindowAttention(d_model, nhead, **kwargs)
    if attention == "linear":
        return LinearSelfAttention(d_model, nhead, **kwargs)
    raise ValueError(f"`attention` must be one of {', '.join(map(repr, VARIANTS))}; "
                     f"got {attention!r}")


class VariantBlock(nn.Module):
    """A pre-LN decoder layer around any attention module: ``x + attn(norm1(x))``, then the FFN.

    Shapes:
        - x: ``(B, L, E)``; returns ``(B, L, E)``
    """

    def __init__(self, d_model: int, attn: nn.Module, dim_feedforward: int):
        super().__init__()
        self.norm1, self.attn, self.norm2 = nn.LayerNorm(d_model), attn, nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)

    def _ff(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.linear2(F.gelu(self.linear1(self.norm2(x))))

    def forward(self, x: torch.Tensor, *, is_causal: bool = True) -> torch.Tensor:
        return self._ff(x + self.attn(self.norm1(x), is_causal=is_causal))

    def forward_cached(self, x: torch.Tensor, state, start: int) -> torch.Tensor:
        return self._ff(x + self.attn.forward_cached(self.norm1(x), state, start))


def state_nbytes(state, length: int) -> int:
    """Bytes a layer's decoding state holds after ``length`` tokens (filled rows only)."""
    if isinstance(state, KVState):
        return 2 * state.keys[:, :, :length].nbytes
    if isinstance(state, LatentState):
        return state.latent[:, :length].nbytes + state.rope_key[:, :length].nbytes
    if isinstance(state, RollingKVState):
        filled = int((state.positions >= 0).sum())
        return 2 * state.keys[:, :, :filled].nbytes
    return sum(getattr(state, f.name).nbytes for f in fields(state))  # a fixed-size state


@dataclass
class VariantCache:
    """Every layer's decoding state after ``length`` tokens, for ``batch_size`` sequences of
    up to ``capacity`` tokens."""

    states: list
    batch_size: int
    capacity: int
    length: int = 0

    def nbytes(self) -> int:
        """The bytes the states hold (filled rows of growing caches, all of a fixed one)."""
        return sum(state_nbytes(s, self.length) for s in self.states)


class VariantLM(TransformerLM):
    """:class:`attnlib.TransformerLM` with the attention of every layer chosen by name.

    Args:
        vocab_size, d_model, nhead, num_layers, dim_feedforward, max_len: as
            :class:`~attnlib.TransformerLM` (learned positions added to the tokens).
        attention: one of :data:`VARIANTS`.
        **attention_kwargs: the attention module's own arguments, e.g.
            ``num_kv_heads=1``, ``window=8``, ``kv_lora_rank=16, qk_nope_head_dim=8,
            qk_rope_head_dim=4, v_head_dim=8``.

    Shapes:
        - idx: ``(B, T)`` int64 ids; logits: ``(B, T, V)``
        - generate: ``(B, T) -> (B, T + max_new_tokens)``
    """

    def __init__(self, vocab_size: int, d_model: int, nhead: int, num_layers: int, *,
                 attention: str = "mha", dim_feedforward: int | None = None,
                 max_len: int = 512, **attention_kwargs):
        super().__init__(vocab_size, d_model, nhead, num_layers,
                         dim_feedforward=dim_feedforward, max_len=max_len)
        ff = 4 * d_model if dim_feedforward is None else dim_feedforward
        self.attention = attention
        self.layers = nn.ModuleList(
            VariantBlock(d_model, make_attention(attention, d_model, nhead, **attention_kwargs),
                         ff) for _ in range(num_layers))

    def new_cache(self, batch_size: int, capacity: int | None = None) -> VariantCache:
        """Each layer's empty state, for ``batch_size`` sequences of up to ``capacity`` tokens."""
        _checks.positive_int(batch_size, "batch_size")
        capacity = self.max_len if capacity is None else capacity
        _checks.positive_int(capacity, "capacity")
        capacity = min(capacity, self.max_len)
        return VariantCache([layer.attn.new_state(batch_size, capacity) for layer in self.layers],
                            batch_size, capacity)

    def forward_cached(self, idx: torch.Tensor, cache: VariantCache) -> torch.Tensor:
        """The logits of new tokens ``idx`` ``(B, T)`` after the ``cache.length`` cached ones.

        Updates ``cache`` in place; equals the last ``T`` rows of ``forward`` on the
        whole sequence.
        """
        if not isinstance(cache, VariantCache):
            raise TypeError(f"`cache` must be a VariantCache made by new_cache; "
                            f"got {type(cache).__name__}")
        start = cache.length
        self._check_idx(idx, start)
        if cache.batch_size != idx.shape[0]:
            raise ValueError(f"`cache` was made for batch size {cache.batch_size}; "
                             f"got `idx` with {idx.shape[0]} rows")
        if start + idx.shape[1] > cache.capacity:
            raise ValueError(f"`cache` holds {cache.capacity} positions; "
                             f"{start} + {idx.shape[1]} new tokens do not fit")
        x = self._embed(idx, start)
        for layer, state in zip(self.layers, cache.states):
            x = layer.forward_cached(x, state, start)
        cache.length = start + idx.shape[1]
        return self.head(self.norm(x))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", attention={self.attention!r}"


def kv_cache_bytes(length: int, *, layers: int, num_kv_heads: int | None = None,
                   head_dim: int | None = None, kv_lora_rank: int | None = None,
                   qk_rope_head_dim: int = 0, window: int | None = None, sinks: int = 0,
                   batch_size: int = 1, bytes_per_number: int = 2) -> int:
    """The cache of ``batch_size`` sequences of ``length`` tokens, in bytes.

    Per token and layer it stores ``2 G d`` numbers (keys and values of ``G``
    heads of size ``d``; ``G = H`` is multi-head) or, for latent attention,
    ``r + d_r``; a window keeps at most ``window + sinks`` tokens.
    """
    _checks.non_negative_int(length, "length")
    if kv_lora_rank is not None:
        per_token = kv_lora_rank + qk_rope_head_dim
    elif num_kv_heads is not None and head_dim is not None:
        per_token = 2 * num_kv_heads * head_dim
    else:
        raise ValueError("give `num_kv_heads` and `head_dim`, or `kv_lora_rank` "
                         "(and `qk_rope_head_dim`)")
    rows = length if window is None else min(length, window + sinks)
    return batch_size * layers * rows * per_token * bytes_per_number
