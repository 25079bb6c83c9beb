"""Rule 2: additive attention (Bahdanau et al., 2015).

The source article describes it as "concatenate Q and K, a linear layer, tanh,
sum, softmax, then a matrix product with V".  Splitting the linear layer's
weight ``W = [W_q | W_k]`` turns the concatenation into a sum,

.. math::

    W [q; k] + b = W_q q + W_k k + b,

so every query/key pair's score is ``v^T tanh(W_q q + W_k k + b)``.  The
projections are computed once per query and once per key and only the sum is
broadcast to ``(B, L, S, hidden)``; "sum over the hidden axis" is the special
case ``v = 1``.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _checks
from .masking import masked_softmax

_LEGENDS = ("(B, L, Eq)", "(B, S, Ek)", "(B, S, Ev)")


class AdditiveAttention(nn.Module):
    """Rule 2: ``score(q, k) = v^T tanh(W_q q + W_k k + b)``, then a masked softmax over keys.

    Args:
        query_size: ``Eq``, the feature size of each query.
        key_size: ``Ek``, the feature size of each key.
        hidden_size: ``h``, the size of the tanh layer.
        bias: give ``w_query`` the bias ``b`` (the concatenated layer's bias).

    Attributes:
        w_query: ``Linear(Eq, h)``, the query half of the concatenated layer (holds ``b``).
        w_key: ``Linear(Ek, h, bias=False)``, the key half.
        v: ``Linear(h, 1, bias=False)``, the vector that turns ``tanh(...)`` into a score.

    Shapes:
        - query: ``(B, L, Eq)``
        - key: ``(B, S, Ek)``
        - value: ``(B, S, Ev)``
        - mask: broadcastable to ``(B, L, S)``, ``True`` = may attend
        - output: ``(B, L, Ev)``
        - weights: ``(B, L, S)``
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int, *, bias: bool = True):
        super().__init__()
        _checks.positive_int(query_size, "query_size")
        _checks.positive_int(key_size, "key_size")
        _checks.positive_int(hidden_size, "hidden_size")
        _checks.boolean(bias, "bias")
        self.query_size, self.key_size, self.hidden_size = query_size, key_size, hidden_size
        self.w_query = nn.Linear(query_size, hidden_size, bias=bias)
        self.w_key = nn.Linear(key_size, hidden_size, bias=False)
        self.v = nn.Linear(hidden_size, 1, bias=False)

    def scores(self, query: torch.Tensor, key: torch.Tensor, *,
               query_chunk_size: int | None = None) -> torch.Tensor:
        """Unnormalised scores ``v^T tanh(W_q q + W_k k + b)`` for every query/key pair.

        The one-shot broadcast builds a ``(B, L, S, h)`` tensor.  With
        ``query_chunk_size = c`` the queries are taken ``c`` at a time, so at most
        ``(B, c, S, h)`` exists at once; the scores are the same.

        Shapes:
            - query: ``(B, L, Eq)``, key: ``(B, S, Ek)`` -> ``(B, L, S)``
        """
        if query_chunk_size is not None:
            _checks.positive_int(query_chunk_size, "query_chunk_size")
        q = self.w_query(query)  # (B, L, Eq) -> (B, L, h)
        k = self.w_key(key)  # (B, S, Ek) -> (B, S, h)
        if query_chunk_size is None or query_chunk_size >= q.shape[1]:
            features = torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))  # -> (B, L, S, h)
            return self.v(features).squeeze(-1)  # (B, L, S, h) -> (B, L, S)
        # One chunk at a time, each in its own call: a chunk's features are freed when
        # _chunk_scores returns, before the next chunk's are allocated.  (A loop variable
        # would keep the previous chunk alive while the next one is made: twice the memory.)
        chunks = [self._chunk_scores(chunk, k)
                  for chunk in q.split(query_chunk_size, dim=1)]  # (B, L, h) -> (B, c, h) each
        return torch.cat(chunks, dim=1)  # n x (B, c, S) -> (B, L, S)

    def _chunk_scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Scores of one chunk of projected queries: ``(B, c, h)``, ``(B, S, h) -> (B, c, S)``."""
        # tanh_ in place on the fresh sum: one (B, c, S, h) tensor, not two
        features = torch.tanh_(q.unsqueeze(2) + k.unsqueeze(1))  # -> (B, c, S, h)
        return self.v(features).squeeze(-1)  # (B, c, S, h) -> (B, c, S)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor | None = None, *,
                query_chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(output, weights)``; see the class docstring for shapes.

        ``query_chunk_size``: score the queries this many at a time (see
        :meth:`scores`), bounding the extra memory by ``B * c * S * h`` instead of
        ``B * L * S * h``.  ``None`` (the default) scores them all at once.
        """
        _checks.qkv(query, key, value, legends=_LEGENDS, exact_rank=3)
        _checks.size(query, "query", -1, self.query_size, "last dim Eq (query_size)")
        _checks.size(key, "key", -1, self.key_size, "last dim Ek (key_size)")
        _checks.matches_module(query, "query", self)
        B, L, S = query.shape[0], query.shape[1], key.shape[1]
        if mask is not None:
            _checks.mask(mask, (B, L, S), "(B, L, S)", query.device)
        scores = self.scores(query, key, query_chunk_size=query_chunk_size)  # (B, L, S)
        weights = masked_softmax(scores, mask)  # (B, L, S)
        return weights @ value, weights  # (B, L, S) @ (B, S, Ev) -> (B, L, Ev)

    def extra_repr(self) -> str:
        return (f"query_size={self.query_size}, key_size={self.key_size}, "
                f"hidden_size={self.hidden_size}")
