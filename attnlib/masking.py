"""Masks and the masked softmax.

A mask is a boolean tensor, broadcastable to the scores' shape, where ``True``
means "this query may attend to this key" -- the same meaning as the
``attn_mask`` of :func:`torch.nn.functional.scaled_dot_product_attention`.

A query whose keys are *all* masked has nothing to attend to.  A plain
``softmax`` over a row of ``-inf`` gives ``NaN``; filling with a large negative
constant instead gives a *uniform* row, which silently averages keys the caller
excluded.  Here such a row gets all-zero weights, so its output is zero.
"""

from __future__ import annotations

import torch

from . import _checks


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last dim of ``scores``, keeping only keys where ``mask`` is True.

    Args:
        scores: attention scores, floating point.
        mask: boolean, broadcastable to ``scores``; ``True`` = may attend.
            ``None`` means every key is allowed (a plain softmax).

    Returns:
        weights of the same shape as ``scores``: non-negative, each row summing
        to 1 over its allowed keys, exactly 0 on masked keys, and all 0 on a row
        whose keys are all masked (never NaN).

    Shapes:
        - scores: ``(..., L, S)``
        - mask: broadcastable to ``(..., L, S)``, e.g. ``(L, S)``, ``(B, 1, S)``
        - returns: ``(..., L, S)``

    Example:
        >>> scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
        >>> mask = torch.tensor([[True, True, False], [False, False, False]])
        >>> masked_softmax(scores, mask)
        tensor([[0.2689, 0.7311, 0.0000],
                [0.0000, 0.0000, 0.0000]])
    """
    _checks.tensor(scores, "scores")
    _checks.floating(scores, "scores")
    _checks.rank(scores, "scores", "(..., L, S)", at_least=1)
    if mask is None:
        return torch.softmax(scores, dim=-1)
    _checks.mask(mask, tuple(scores.shape), "(..., L, S)", scores.device)
    # -inf (not a constant like -1e9) is exact in every float dtype: exp(-inf) = 0.
    filled = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(filled, dim=-1)
    # Rows with no allowed key came out as NaN (0/0); every entry of such a row is
    # masked, so this fill turns them into zeros.  Its backward also zeroes the
    # gradient there, so no NaN reaches `scores.grad`.
    return weights.masked_fill(~mask, 0.0)
