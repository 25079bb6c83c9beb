"""Rule 1: "location-based" attention, the source article's ``Attn`` class for any batch.

The article concatenates the query and the key, maps them with one linear layer
to a fixed number of positions ``value_size1``, takes a softmax and multiplies
the result with ``V`` (Luong et al., 2015, call scores computed from the query
alone "location-based"; the original PyTorch seq2seq tutorial's decoder uses the
same form).  Then it concatenates the query with that result and maps it to the
output size with a second linear layer (steps 2 and 3 of the article's recipe).

Two lessons the chapter draws from it:

* the weights are computed from ``Q`` and ``K`` only; the rows of ``V`` never
  influence which row gets how much weight;
* there are always exactly ``value_size1`` weights, so ``V`` must have exactly
  that many rows.

The article's code indexes ``Q[0]``, ``K[0]`` and so works for batch 1 only;
this class computes the same thing for every item of a batch at once.  Its
layers carry the article's names (``attn``, ``attn_combine``), so a
``state_dict`` saved from the article's class loads here with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _checks

_LEGENDS = ("(B, L, query_size)", "(B, L, key_size)", "(B, value_size1, value_size2)")


class LocationAttention(nn.Module):
    """Rule 1 of the source article, batched.

    Args:
        query_size: feature size of the query.
        key_size: feature size of the key.
        value_size1: number of rows of ``V``, i.e. of positions that get a weight.
        value_size2: feature size of each row of ``V`` (``Ev``).
        output_size: feature size of the output.

    Attributes:
        attn: ``Linear(query_size + key_size, value_size1)``, scores from ``[Q; K]``.
        attn_combine: ``Linear(query_size + value_size2, output_size)``, the output layer.

    Empty batches and queries work as in PyTorch: ``B = 0`` or ``L = 0`` give an
    empty output and weights, and zero gradients.  The number of positions is
    not a property of the input but of the layer: ``attn`` has exactly
    ``value_size1`` outputs, fixed when the module is made, so ``V`` must have
    that many rows and ``value_size1 = 0`` (a layer scoring no position) is
    refused.  That fixed length is the limitation the chapter on rule 1 points out.

    Shapes:
        - Q: ``(B, L, query_size)``
        - K: ``(B, L, key_size)`` (one key row per query row, as in the article)
        - V: ``(B, value_size1, value_size2)``
        - output: ``(B, L, output_size)``
        - weights: ``(B, L, value_size1)``
    """

    def __init__(self, query_size: int, key_size: int, value_size1: int, value_size2: int,
                 output_size: int):
        super().__init__()
        for name, value in [("query_size", query_size), ("key_size", key_size),
                            ("value_size1", value_size1), ("value_size2", value_size2),
                            ("output_size", output_size)]:
            _checks.positive_int(value, name)
        self.query_size, self.key_size = query_size, key_size
        self.value_size1, self.value_size2 = value_size1, value_size2
        self.output_size = output_size
        self.attn = nn.Linear(query_size + key_size, value_size1)
        self.attn_combine = nn.Linear(query_size + value_size2, output_size)

    def forward(self, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(output, weights)``; see the class docstring for shapes."""
        named = {"Q": Q, "K": K, "V": V}
        for (name, x), legend in zip(named.items(), _LEGENDS):
            _checks.tensor(x, name)
            _checks.floating(x, name)
            _checks.rank(x, name, legend, exact=3)
        _checks.same_dtype_device(named)
        _checks.matches_module(Q, "Q", self)
        _checks.size(Q, "Q", -1, self.query_size, "last dim query_size")
        _checks.size(K, "K", -1, self.key_size, "last dim key_size")
        _checks.size(V, "V", -2, self.value_size1, "value_size1 rows (dim 1)",
                     " (rule 1 always makes exactly value_size1 weights, one per row of V)")
        _checks.size(V, "V", -1, self.value_size2, "last dim value_size2")
        _checks.dim_equal(Q, "Q", 0, K, "K", 0, "batch size B (dim 0)")
        _checks.dim_equal(Q, "Q", 0, V, "V", 0, "batch size B (dim 0)")
        _checks.dim_equal(Q, "Q", 1, K, "K", 1, "length L (dim 1)",
                          " (rule 1 concatenates each query row with one key row)")

        # Step 1: scores from [Q; K] only -- V plays no part in them.
        scores = self.attn(torch.cat((Q, K), dim=-1))  # (B, L, q+k) -> (B, L, value_size1)
        weights = torch.softmax(scores, dim=-1)  # (B, L, value_size1)
        applied = torch.bmm(weights, V)  # (B, L, value_size1) bmm (B, value_size1, Ev) -> (B, L, Ev)
        # Step 2: concatenate the query with the result; step 3: the output layer.
        combined = torch.cat((Q, applied), dim=-1)  # (B, L, q + Ev)
        return self.attn_combine(combined), weights  # (B, L, output_size), (B, L, value_size1)

    def extra_repr(self) -> str:
        return (f"query_size={self.query_size}, key_size={self.key_size}, "
                f"value_size1={self.value_size1}, value_size2={self.value_size2}, "
                f"output_size={self.output_size}")
