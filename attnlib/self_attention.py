"""Self-attention with trainable projections: the step from rule 3 to multi-head attention.

Chapter 5's self-attention used the input itself as query, key and value
(``Q = K = V = X``): no parameters, so every token attends most to itself and the
weights cannot learn *what* to look for.  Three trainable matrices give the
three roles their own views of the input,

.. math::

    Q = X W_q, \\quad K = X W_k, \\quad V = X W_v, \\qquad
    \\operatorname{out} = \\operatorname{dropout}\\!\\left(\\operatorname{softmax}
    \\!\\left(\\frac{Q K^\\top}{\\sqrt{E_k}}\\right)\\right) V,

and attention dropout zeroes a random share of the weights while training (the
survivors are scaled by ``1 / (1 - p)``), so the model cannot lean on one key.
Multi-head attention runs ``H`` of these side by side on ``E/H`` features each.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .dot_product import scaled_dot_product_attention


class SelfAttention(nn.Module):
    """One head of self-attention with ``W_q``, ``W_k``, ``W_v`` and attention dropout.

    Args:
        embed_dim: ``E``, the input's feature size.
        key_dim: ``E_k``, the size of queries and keys; default ``E``.
        value_dim: ``Ev``, the size of values and of the output; default ``E``.
        bias: give the projections a bias.
        dropout: probability of zeroing each attention weight, in training mode only.

    Attributes:
        w_q, w_k: ``Linear(E, E_k)``; w_v: ``Linear(E, Ev)``.

    Shapes:
        - x: ``(B, L, E)``
        - mask: broadcastable to ``(B, L, L)``, ``True`` = may attend
        - output: ``(B, L, Ev)``; weights: ``(B, L, L)``
    """

    def __init__(self, embed_dim: int, key_dim: int | None = None,
                 value_dim: int | None = None, *, bias: bool = False, dropout: float = 0.0):
        super().__init__()
        key_dim = embed_dim if key_dim is None else key_dim
        value_dim = embed_dim if value_dim is None else value_dim
        for name, value in [("embed_dim", embed_dim), ("key_dim", key_dim),
                            ("value_dim", value_dim)]:
            _checks.positive_int(value, name)
        _checks.boolean(bias, "bias")
        _checks.probability(dropout, "dropout")
        self.embed_dim, self.key_dim, self.value_dim = embed_dim, key_dim, value_dim
        self.dropout = float(dropout)
        self.w_q = nn.Linear(embed_dim, key_dim, bias=bias)
        self.w_k = nn.Linear(embed_dim, key_dim, bias=bias)
        self.w_v = nn.Linear(embed_dim, value_dim, bias=bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(output, weights)``; the weights are those after dropout."""
        _checks.tensor(x, "x")
        _checks.floating(x, "x")
        _checks.rank(x, "x", "(B, L, E)", exact=3)
        _checks.size(x, "x", -1, self.embed_dim, "last dim E (embed_dim)")
        _checks.matches_module(x, "x", self)
        q, k, v = self.w_q(x), self.w_k(x), self.w_v(x)  # (B, L, E_k), (B, L, E_k), (B, L, Ev)
        _, weights = scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal)
        if self.training and self.dropout > 0:
            weights = F.dropout(weights, p=self.dropout)  # survivors scaled by 1 / (1 - p)
        return weights @ v, weights  # (B, L, L) @ (B, L, Ev) -> (B, L, Ev)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, key_dim={self.key_dim}, "
                f"value_dim={self.value_dim}, dropout={self.dropout}")
