"""Sliding-window attention with a rolling KV cache, and attention sinks.

Causal attention lets the token at position ``i`` see every key ``0..i``; its
cache grows by one row per token for ever.  A **sliding window** of ``W``
(Beltagy et al., 2020; Mistral 7B, Jiang et al., 2023) lets it see only the last
``W`` positions, ``i - W < j <= i``.  Then a decoder needs only the last ``W``
keys and values, and a **rolling buffer** of ``W`` slots holds them: position
``j`` lives in slot ``j mod W`` and overwrites the key ``W`` positions older.

**Attention sinks** (Xiao et al., 2024, StreamingLLM) keep the first ``n``
tokens as well: trained models put much weight on the first tokens whatever
they say, and evicting them hurts more than evicting any other.  As a cache
policy, key ``j`` is visible from query ``i`` when ``j <= i`` and either
``j < n`` or ``i - j < W``; the cache holds ``n + W`` rows.  (StreamingLLM also
renumbers positions inside the cache for rotary models; the module here has no
positions of its own, so there is nothing to renumber.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import _checks
from .grouped_query import GroupedQueryAttention, check_input


def sliding_window_mask(L: int, S: int, window: int, *, sinks: int = 0, offset: int = 0,
                        device=None) -> torch.Tensor:
    """Boolean ``(L, S)`` mask: query ``i`` (at position ``offset + i``) sees key ``j`` when
    ``j <= offset + i`` and (``offset + i - j < window`` or ``j < sinks``).

    Shapes:
        - returns: ``(L, S)``, ``True`` = may attend
    """
    _checks.non_negative_int(L, "L")
    _checks.non_negative_int(S, "S")
    check_window(window, sinks)
    _checks.non_negative_int(offset, "offset")
    i = torch.arange(offset, offset + L, device=device)[:, None]  # (L, 1) query positions
    j = torch.arange(S, device=device)[None, :]  # (1, S) key positions
    return (j <= i) & ((i - j < window) | (j < sinks))


def check_window(window, sinks) -> None:
    """``window`` a positive int, ``sinks`` an int >= 0."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"`window` must be an int >= 1 (the query's own key counts); "
                         f"got {window!r}")
    _checks.non_negative_int(sinks, "sinks")


@dataclass
class RollingKVState:
    """A rolling buffer: ``sinks`` fixed slots, then ``window`` slots reused in turn.

    ``positions[s]`` is the position held in slot ``s`` (``-1``: empty).

    Shapes:
        - keys, values: ``(B, G, sinks + window, d)``; positions: ``(sinks + window,)``
    """

    keys: torch.Tensor
    values: torch.Tensor
    positions: torch.Tensor


class SlidingWindowAttention(GroupedQueryAttention):
    """:class:`GroupedQueryAttention` whose queries see only the last ``window`` keys.

    Args:
        embed_dim, num_heads: as for :class:`GroupedQueryAttention`.
        window: ``W >= 1``; the query's own key counts, so ``W = 1`` sees itself only.
        num_kv_heads: default ``num_heads`` (Mistral 7B uses 8 of 32).
        sinks: how many first tokens every query also sees (StreamingLLM); 0 = none.

    Always causal.  The cache of :meth:`new_state` holds ``sinks + window`` rows,
    whatever the length.

    Shapes:
        - x: ``(B, L, E)``; mask: broadcastable to ``(B, 1, L, L)`` (combined with the band)
        - returns: ``(B, L, E)``
    """

    def __init__(self, embed_dim: int, num_heads: int, window: int, *,
                 num_kv_heads: int | None = None, sinks: int = 0, bias: bool = False):
        super().__init__(embed_dim, num_heads,
                         num_heads if num_kv_heads is None else num_kv_heads, bias=bias)
        check_window(window, sinks)
        self.window, self.sinks = window, sinks

    def forward(self, x: torch.Tensor, *, mask: torch.Tensor | None = None,
                is_causal: bool = True) -> torch.Tensor:
        """Banded causal self-attention; ``is_causal`` must stay True (the band is causal)."""
        check_input(x, self, self.embed_dim, mask, is_causal)
        if not is_causal:
            raise ValueError("`is_causal` must be True: a sliding window looks back only")
        L = x.shape[1]
        band = sliding_window_mask(L, L, self.window, sinks=self.sinks, device=x.device)
        q, k, v = self.project(x)
        return self.attend(q, k, v, band if mask is None else mask & band)

    def new_state(self, batch_size: int, capacity: int | None = None) -> RollingKVState:
        """An empty rolling buffer of ``sinks + window`` rows (``capacity`` is ignored)."""
        p, n = self.o_proj.weight, self.sinks + self.window
        shape = (batch_size, self.num_kv_heads, n, self.head_dim)
        return RollingKVState(p.new_zeros(shape), p.new_zeros(shape),
                              torch.full((n,), -1, dtype=torch.long, device=p.device))

    def slot(self, position: torch.Tensor) -> torch.Tensor:
        """The slot of each position: its own below ``sinks``, then ``sinks + (j - sinks) mod W``."""
        rolling = self.sinks + (position - self.sinks).remainder(self.window)
        return torch.where(position < self.sinks, position, rolling)

    def forward_cached(self, x: torch.Tensor, state: RollingKVState, start: int) -> torch.Tensor:
        """New tokens ``x`` ``(B, T, E)`` at positions ``start..start+T-1``.

        Attends over the buffer and the new tokens with the band of
        :func:`sliding_window_mask`, then writes the new keys and values into
        their slots (only the last ``window`` of them can still be needed).
        """
        q, k, v = self.project(x)
        T = x.shape[1]
        new_pos = torch.arange(start, start + T, device=x.device)
        keys = torch.cat([state.keys, k], dim=2)  # (B, G, n + T, d)
        values = torch.cat([state.values, v], dim=2)
        key_pos = torch.cat([state.positions, new_pos])  # (n + T,)
        i, j = new_pos[:, None], key_pos[None, :]
        mask = (j >= 0) & (j <= i) & ((i - j < self.window) | (j < self.sinks))  # (T, n + T)
        out = self.attend(q, keys, values, mask)
        keep = (new_pos < self.sinks) | (new_pos > start + T - 1 - self.window)
        slots = self.slot(new_pos[keep])
        state.keys[:, :, slots] = k[:, :, keep]
        state.values[:, :, slots] = v[:, :, keep]
        state.positions[slots] = new_pos[keep]
        return out

    def extra_repr(self) -> str:
        return super().extra_repr() + f", window={self.window}, sinks={self.sinks}"
