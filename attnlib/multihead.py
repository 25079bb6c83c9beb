"""Multi-head attention (Vaswani et al., 2017), with ``torch.nn.MultiheadAttention``'s parameters.

``H`` heads each run rule 3 on their own slice of ``E/H`` features:

.. math::

    \\operatorname{head}_h = \\operatorname{softmax}\\!\\left(
        \\frac{(Q W^Q_h)(K W^K_h)^\\top}{\\sqrt{E/H}}\\right) V W^V_h,
    \\qquad
    \\operatorname{MHA}(Q, K, V) =
        [\\operatorname{head}_1; \\dots; \\operatorname{head}_H]\\, W^O + b^O.

The three input projections are stored as one ``(3E, E)`` matrix, ``in_proj_weight``
(rows ``0:E`` for the query, ``E:2E`` for the key, ``2E:3E`` for the value), and the
output projection is a ``Linear(E, E)`` called ``out_proj``: the same names and
layout as :class:`torch.nn.MultiheadAttention`, so a ``state_dict`` saved from it
loads here with ``strict=True`` and gives the same outputs.

Heads are split with a ``view`` to ``(B, L, H, E/H)`` and a ``transpose`` to
``(B, H, L, E/H)``.  Viewing straight to ``(B, H, L, E/H)`` runs without an error
but mixes positions into heads; the chapter on multi-head attention shows it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .dot_product import scaled_dot_product_attention

_LEGENDS = ("(B, L, E)", "(B, S, E)", "(B, S, E)")
_MASK_LEGEND = "(L, S), (B, L, S) or (B, H, L, S)"


class MultiHeadAttention(nn.Module):
    """``H`` scaled dot-product attentions side by side, then one output projection.

    Args:
        embed_dim: ``E``, the feature size of query, key, value and output.
        num_heads: ``H``; must divide ``E``.  Each head works on ``E/H`` features.
        bias: give the input and output projections a bias (``in_proj_bias``,
            ``out_proj.bias``), as ``torch.nn.MultiheadAttention(bias=...)``.
        dropout: probability of zeroing each attention weight, in training mode
            only (``model.train()``); in eval mode nothing is dropped and the result
            is deterministic.

    Attributes:
        in_proj_weight: ``(3E, E)``, rows ``[W^Q; W^K; W^V]`` (each ``(E, E)``).
        in_proj_bias: ``(3E,)`` or ``None`` when ``bias=False``.
        out_proj: ``Linear(E, E)``, the output projection ``W^O``, ``b^O``.
        head_dim: ``E/H``.

    Shapes:
        - query: ``(B, L, E)``
        - key: ``(B, S, E)``
        - value: ``(B, S, E)``
        - mask: ``(L, S)``, ``(B, L, S)`` or ``(B, H, L, S)`` (or broadcastable to one
          of them, e.g. ``(B, 1, S)`` for key padding); ``True`` = may attend.  A 2-D
          or 3-D mask applies to every head.
        - output: ``(B, L, E)``
        - weights: ``(B, H, L, S)`` (one map per head, not averaged) or ``None``

    Example:
        >>> mha = MultiHeadAttention(8, 2)
        >>> x = torch.randn(3, 5, 8)
        >>> out, w = mha(x, x, x)
        >>> tuple(out.shape), tuple(w.shape)
        ((3, 5, 8), (3, 2, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, *, bias: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        _checks.positive_int(embed_dim, "embed_dim")
        _checks.positive_int(num_heads, "num_heads")
        if embed_dim % num_heads:
            raise ValueError(
                f"`embed_dim` must be divisible by `num_heads` (each head gets E/H features); "
                f"got embed_dim {embed_dim}, num_heads {num_heads}"
            )
        _checks.boolean(bias, "bias")
        _checks.probability(dropout, "dropout")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = float(dropout)
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The initialisation ``torch.nn.MultiheadAttention`` uses: Xavier-uniform input
        projection, zero biases, ``Linear``'s default for the output weight."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, E) -> (B, H, N, E/H)``: features into ``H`` groups, heads forward."""
        B, N, _ = x.shape
        x = x.view(B, N, self.num_heads, self.head_dim)  # (B, N, E) -> (B, N, H, E/H)
        return x.transpose(1, 2)  # (B, N, H, E/H) -> (B, H, N, E/H)

    def _merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, N, E/H) -> (B, N, E)``: the inverse of :meth:`_split_heads`."""
        B, _, N, _ = x.shape
        x = x.transpose(1, 2)  # (B, H, N, E/H) -> (B, N, H, E/H)
        return x.reshape(B, N, self.embed_dim)  # (B, N, H, E/H) -> (B, N, E), a copy

    def _check_mask(self, mask, B: int, L: int, S: int, device: torch.device) -> torch.Tensor:
        """Validate ``mask`` and return it broadcastable to ``(B, H, L, S)``."""
        _checks.tensor(mask, "mask")
        _checks.rank(mask, "mask", _MASK_LEGEND, at_least=2)
        H = self.num_heads
        if mask.dim() == 2:
            return _checks.mask(mask, (L, S), "(L, S)", device)
        if mask.dim() == 3:
            _checks.mask(mask, (B, L, S), "(B, L, S)", device)
            return mask.unsqueeze(1)  # (B, L, S) -> (B, 1, L, S): the same mask for every head
        return _checks.mask(mask, (B, H, L, S), "(B, H, L, S)", device)

    def _positions(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Where a subclass puts position information into the heads; here, nothing.

        Shapes:
            - q: ``(B, H, L, E/H)``; k: ``(B, H, S, E/H)``; returned as they came
        """
        return q, k

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor | None = None, need_weights: bool = True, *,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(output, weights)``; see the class docstring for shapes.

        ``weights`` are per head, ``(B, H, L, S)``, and are the ones the output was
        computed with (after dropout, in training mode -- as PyTorch returns them).
        With ``need_weights=False`` they are ``None`` and, unless dropout is active,
        PyTorch's fused kernel does the work.  A query row whose keys are all masked
        gets zero weights in every head, so its output is ``out_proj.bias``.

        ``is_causal=True`` is the same as passing ``causal_mask(L, S)`` (query ``i``
        sees keys ``0..i``, top-left aligned), combined with ``mask`` if one is
        given.  With ``need_weights=False``, no ``mask`` and no active dropout, no
        mask is built: PyTorch's fused kernel runs its own causal path.
        """
        _checks.qkv(query, key, value, legends=_LEGENDS, exact_rank=3)
        E = self.embed_dim
        _checks.size(query, "query", -1, E, "last dim E (embed_dim)")
        _checks.size(key, "key", -1, E, "last dim E (embed_dim)")
        _checks.size(value, "value", -1, E, "last dim E (embed_dim)")
        _checks.matches_module(query, "query", self)
        _checks.boolean(need_weights, "need_weights")
        _checks.boolean(is_causal, "is_causal")
        B, L, S = query.shape[0], query.shape[1], key.shape[1]
        if mask is not None:
            mask = self._check_mask(mask, B, L, S, query.device)

        # One (3E, E) matrix holds the three projections; slice it, do not copy it.
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)  # (3E, E) -> 3 x (E, E)
        b_q = b_k = b_v = None
        if self.in_proj_bias is not None:
            b_q, b_k, b_v = self.in_proj_bias.chunk(3)  # (3E,) -> 3 x (E,)
        q = self._split_heads(F.linear(query, w_q, b_q))  # (B, L, E) -> (B, H, L, E/H)
        k = self._split_heads(F.linear(key, w_k, b_k))  # (B, S, E) -> (B, H, S, E/H)
        v = self._split_heads(F.linear(value, w_v, b_v))  # (B, S, E) -> (B, H, S, E/H)
        q, k = self._positions(q, k)

        dropping = self.training and self.dropout > 0
        if dropping:
            # attnlib's rule 3 has no dropout argument: build the weights, drop, multiply.
            _, weights = scaled_dot_product_attention(
                q, k, v, mask, is_causal=is_causal)  # (B, H, L, S)
            weights = F.dropout(weights, p=self.dropout, training=True)
            heads = weights @ v  # (B, H, L, S) @ (B, H, S, E/H) -> (B, H, L, E/H)
            if not need_weights:
                weights = None
        else:
            heads, weights = scaled_dot_product_attention(
                q, k, v, mask, is_causal=is_causal,
                need_weights=need_weights)  # (B, H, L, E/H), (B, H, L, S) or None
        output = self.out_proj(self._merge_heads(heads))  # (B, H, L, E/H) -> (B, L, E) -> (B, L, E)
        return output, weights

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"bias={self.in_proj_bias is not None}, dropout={self.dropout}")
