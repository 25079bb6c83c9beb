"""A decoder-only Transformer language model, with greedy generation and a KV cache.

Generating token ``t + 1`` needs the attention of position ``t`` over positions
``0..t``.  Without a cache, every step runs the model over the whole sequence
again: the projections of the ``t`` old tokens are recomputed although they have
not changed (causal attention means a token never sees later ones).  A KV cache
keeps every layer's keys and values of the tokens seen so far, so a step
projects only the new token and attends over the stored rows:

- per step without a cache: about ``2 t P`` FLOPs for the ``P`` weights of the
  layers (two per multiply-add, for each of the ``t`` tokens), plus ``4 t^2 E`` per
  layer for the attention when the whole ``t x t`` square is computed and then
  masked (a kernel that skips the masked half does about ``2 t (t + 1) E``);
- with a cache: about ``2 P`` plus ``4 t E`` per layer, and the cache holds
  ``2 x layers x B x t x E`` numbers once ``t`` tokens are in it
  (:meth:`KVCache.nbytes`; :meth:`KVCache.allocated_nbytes` is what
  :meth:`TransformerLM.new_cache` reserves).

Both give the same logits, so greedy decoding gives the same tokens.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .dot_product import scaled_dot_product_attention
from .transformer import TransformerEncoderLayer


@dataclass
class KVCache:
    """Every layer's keys and values of the first ``length`` positions.

    Shapes:
        - keys, values: one ``(B, H, capacity, E/H)`` tensor per layer; rows
          ``0..length-1`` are filled
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    length: int = 0

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    def _row_bytes(self) -> int:
        """Bytes of one position's keys (or values) in one layer: ``B x H x E/H x itemsize``."""
        k = self.keys[0]
        return k.shape[0] * k.shape[1] * k.shape[3] * k.element_size()

    def nbytes(self) -> int:
        """Bytes of the *filled* rows: ``2 x layers x B x H x length x E/H x itemsize``.

        A cache fresh from ``new_cache`` holds no token yet, so this is 0 until
        ``forward_cached`` has written rows; :meth:`allocated_nbytes` counts the
        memory reserved for all ``capacity`` positions.
        """
        return 2 * len(self.keys) * self._row_bytes() * self.length

    def allocated_nbytes(self) -> int:
        """Bytes reserved for all positions: ``2 x layers x B x H x capacity x E/H x itemsize``."""
        return 2 * len(self.keys) * self._row_bytes() * self.capacity


class TransformerLM(nn.Module):
    """Token and learned position embeddings, pre-LN causal layers, a final norm, logits.

    Args:
        vocab_size: ``V``, the number of token ids.
        d_model: ``E``; nhead: ``H`` (must divide ``E``); num_layers: the depth.
        dim_feedforward: the feed-forward hidden size; default ``4 E``.
        max_len: the longest sequence (prompt plus generated tokens).
        dropout: the layers' dropout (training mode only).

    Each layer is an :class:`attnlib.TransformerEncoderLayer` with
    ``norm_first=True`` and ``activation="gelu"``, called with ``is_causal=True``.

    Shapes:
        - idx: ``(B, T)`` int64 ids, ``T <= max_len``
        - logits: ``(B, T, V)``
        - generate: ``(B, T) -> (B, T + max_new_tokens)``
    """

    def __init__(self, vocab_size: int, d_model: int, nhead: int, num_layers: int, *,
                 dim_feedforward: int | None = None, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        for name, value in [("vocab_size", vocab_size), ("d_model", d_model), ("nhead", nhead),
                            ("num_layers", num_layers), ("max_len", max_len)]:
            _checks.positive_int(value, name)
        if dim_feedforward is None:
            dim_feedforward = 4 * d_model
        self.vocab_size, self.d_model, self.nhead = vocab_size, d_model, nhead
        self.num_layers, self.max_len = num_layers, max_len
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_len, d_model)
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, "gelu",
                                    norm_first=True) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def _check_idx(self, idx, start: int = 0) -> None:
        _checks.tensor(idx, "idx")
        if idx.dtype != torch.long:
            raise TypeError(f"`idx` must be int64 token ids; got {idx.dtype}")
        _checks.rank(idx, "idx", "(B, T)", exact=2)
        if idx.shape[1] == 0:
            raise ValueError("`idx` must hold at least one token; got shape (B, 0)")
        if start + idx.shape[1] > self.max_len:
            raise ValueError(f"`idx` reaches position {start + idx.shape[1]} but the model has "
                             f"max_len={self.max_len} positions; shorten the prompt or build "
                             f"the model with a larger max_len")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.vocab_size):
            raise ValueError(f"`idx` must hold ids in 0..{self.vocab_size - 1}; got ids from "
                             f"{int(idx.min())} to {int(idx.max())}")

    def _embed(self, idx: torch.Tensor, start: int) -> torch.Tensor:
        """``(B, T)`` ids at positions ``start..start+T-1`` -> ``(B, T, E)``."""
        positions = torch.arange(start, start + idx.shape[1], device=idx.device)
        return self.token_embedding(idx) + self.position_embedding(positions)  # (B, T, E)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """The logits of the next token at every position: ``(B, T) -> (B, T, V)``."""
        self._check_idx(idx)
        x = self._embed(idx, 0)
        for layer in self.layers:
            x = layer(x, is_causal=True)
        return self.head(self.norm(x))

    # ------------------------------------------------------------------ the cache
    def new_cache(self, batch_size: int, capacity: int | None = None) -> KVCache:
        """An empty :class:`KVCache` for ``batch_size`` sequences of up to ``capacity`` tokens."""
        _checks.positive_int(batch_size, "batch_size")
        capacity = self.max_len if capacity is None else capacity
        _checks.positive_int(capacity, "capacity")
        p = self.head.weight
        shape = (batch_size, self.nhead, min(capacity, self.max_len), self.d_model // self.nhead)
        return KVCache([p.new_zeros(shape) for _ in self.layers],
                       [p.new_zeros(shape) for _ in self.layers])

    def _cached_layer(self, layer, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                      start: int) -> torch.Tensor:
        """One pre-LN layer for new tokens ``x`` (B, T, E) at positions ``start..start+T-1``.

        Projects only the new tokens, writes their keys and values into rows
        ``start..start+T-1`` of the cache, and attends over rows ``0..start+T-1``.
        """
        mha, T = layer.self_attn, x.shape[1]
        end = start + T
        h = layer.norm1(x)
        qkv = F.linear(h, mha.in_proj_weight, mha.in_proj_bias)  # (B, T, E) -> (B, T, 3E)
        q, k, v = (mha._split_heads(t) for t in qkv.chunk(3, dim=-1))  # 3 x (B, H, T, E/H)
        keys[:, :, start:end] = k  # the cache grows by T rows
        values[:, :, start:end] = v
        mask = None
        if T > 1:  # new token i (at position start + i) may see positions 0..start + i
            mask = (torch.arange(end, device=x.device)[None, :]
                    <= torch.arange(start, end, device=x.device)[:, None])  # (T, end)
        heads, _ = scaled_dot_product_attention(q, keys[:, :, :end], values[:, :, :end], mask,
                                                need_weights=False)  # (B, H, T, E/H)
        x = x + mha.out_proj(mha._merge_heads(heads))  # (B, H, T, E/H) -> (B, T, E)
        return x + layer._ff_block(layer.norm2(x))

    def forward_cached(self, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """The logits of new tokens ``idx`` (B, T) that follow the ``cache.length`` cached ones.

        Adds their keys and values to ``cache`` (it is changed in place) and
        returns ``(B, T, V)``; equal to the last ``T`` rows of ``forward`` on the
        whole sequence.
        """
        if not isinstance(cache, KVCache):
            raise TypeError(f"`cache` must be a KVCache made by new_cache; "
                            f"got {type(cache).__name__}")
        start = cache.length
        self._check_idx(idx, start)
        if cache.keys[0].shape[0] != idx.shape[0]:
            raise ValueError(f"`cache` was made for batch size {cache.keys[0].shape[0]}; "
                             f"got `idx` with {idx.shape[0]} rows")
        if start + idx.shape[1] > cache.capacity:
            raise ValueError(f"`cache` holds {cache.capacity} positions; "
                             f"{start} + {idx.shape[1]} new tokens do not fit")
        x = self._embed(idx, start)
        for layer, keys, values in zip(self.layers, cache.keys, cache.values):
            x = self._cached_layer(layer, x, keys, values, start)
        cache.length = start + idx.shape[1]
        return self.head(self.norm(x))

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, use_cache: bool = True
                 ) -> torch.Tensor:
        """Greedy decoding: append the most likely token ``max_new_tokens`` times.

        Runs in eval mode (no dropout) and leaves the model's mode as it was.
        ``use_cache=False`` reruns the model over the whole sequence at every
        step; both give the same tokens.  ``idx`` is not changed.

        Shapes:
            - idx: ``(B, T)``; returns ``(B, T + max_new_tokens)``
        """
        self._check_idx(idx)
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral) \
                or max_new_tokens < 0:
            raise ValueError(f"`max_new_tokens` must be an int >= 0; got {max_new_tokens!r}")
        _checks.boolean(use_cache, "use_cache")
        B, T = idx.shape
        if T + max_new_tokens > self.max_len:
            raise ValueError(f"the prompt ({T} tokens) plus max_new_tokens={max_new_tokens} "
                             f"exceeds max_len={self.max_len}")
        was_training = self.training
        self.eval()
        try:
            out = torch.empty(B, T + max_new_tokens, dtype=idx.dtype, device=idx.device)
            out[:, :T] = idx
            if use_cache and max_new_tokens:
                cache = self.new_cache(B, T + max_new_tokens)
                logits = self.forward_cached(idx, cache)  # the prompt at once ("prefill")
                for t in range(T, T + max_new_tokens):
                    out[:, t] = logits[:, -1].argmax(dim=-1)
                    if t + 1 < T + max_new_tokens:
                        logits = self.forward_cached(out[:, t:t + 1], cache)  # one new token
            else:
                for t in range(T, T + max_new_tokens):
                    out[:, t] = self(out[:, :t])[:, -1].argmax(dim=-1)  # the whole prefix again
        finally:
            self.train(was_training)
        return out

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, d_model={self.d_model}, nhead={self.nhead}, "
                f"num_layers={self.num_layers}, max_len={self.max_len}")
