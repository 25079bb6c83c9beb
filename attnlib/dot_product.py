"""Rule 3: scaled dot-product attention.

.. math::

    \\operatorname{Attention}(Q, K, V) = \\operatorname{softmax}\\!\\left(
        \\frac{Q K^\\top}{\\sqrt{E}}\\right) V

Written out in three lines -- scores, masked softmax, weighted sum -- so the
weights can be returned and looked at.  With ``need_weights=False`` it hands the
work to PyTorch's fused kernel, which never builds the ``(L, S)`` weights.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F

from . import _checks
from .masking import masked_softmax

_LEGENDS = ("(..., L, E)", "(..., S, E)", "(..., S, Ev)")


def causal_mask(L: int, S: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``(L, S)`` mask where query ``i`` may attend to keys ``0..i``.

    Aligned to the top-left corner, like ``is_causal=True`` in
    :func:`torch.nn.functional.scaled_dot_product_attention`: with ``L > S``
    the queries from ``S`` on see every key.  ``L`` or ``S`` may be 0 (an
    empty mask).

    Shapes:
        - returns: ``(L, S)``, ``True`` = may attend
    """
    _checks.non_negative_int(L, "L")
    _checks.non_negative_int(S, "S")
    return torch.ones(L, S, dtype=torch.bool, device=device).tril()


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    is_causal: bool = False,
    scale: float | None = None,
    need_weights: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Rule 3: ``softmax(query @ key^T * scale) @ value``, with an optional mask.

    Args:
        query, key, value: floating-point tensors of one dtype and device, with
            the same leading (batch) dims.
        mask: boolean, broadcastable to ``(..., L, S)``; ``True`` = may attend.
            A query with no allowed key gets zero weights and a zero output.
        is_causal: also forbid query ``i`` from attending to keys after ``i``
            (top-left aligned, as in PyTorch).  May be combined with ``mask``.
            With ``need_weights=False`` and no ``mask``, PyTorch's own causal
            path runs (``is_causal=True``), which builds no mask at all.
        scale: multiplies the scores; default ``1 / sqrt(E)``.
        need_weights: if False, skip building the weights and call
            :func:`torch.nn.functional.scaled_dot_product_attention`'s fused
            kernel; the returned weights are then ``None``.

    Empty sizes behave as in PyTorch: a batch dim, ``L`` or ``S`` may be 0.
    With ``S = 0`` every query has nothing to attend to, so the output is
    zero; the gradients then exist and are zero.

    Returns:
        ``(output, weights)``.

    Shapes:
        - query: ``(..., L, E)``
        - key: ``(..., S, E)``
        - value: ``(..., S, Ev)``
        - mask: broadcastable to ``(..., L, S)``
        - output: ``(..., L, Ev)``
        - weights: ``(..., L, S)`` or ``None``
    """
    _checks.qkv(query, key, value, legends=_LEGENDS)
    _checks.dim_equal(query, "query", -1, key, "key", -1, "last dim E")
    _checks.boolean(is_causal, "is_causal")
    _checks.boolean(need_weights, "need_weights")
    scale = _checks.scale_or_default(scale, query.shape[-1])
    L, S = query.shape[-2], key.shape[-2]
    scores_shape = (*query.shape[:-1], S)
    if mask is not None:
        _checks.mask(mask, scores_shape, "(..., L, S)", query.device)
    if is_causal and mask is None and not need_weights:
        # PyTorch's causal path: the same top-left triangle as causal_mask(L, S), with no
        # mask built.  No row is fully masked (query i always sees key 0), except when
        # S = 0, where PyTorch, like the written-out rule, returns zeros.
        output = F.scaled_dot_product_attention(query, key, value, is_causal=True, scale=scale)
        return output, None
    if is_causal:
        causal = causal_mask(L, S, device=query.device)
        mask = causal if mask is None else mask & causal

    if not need_weights:
        if mask is not None and mask.dim() < 2:
            mask = mask.reshape((1,) * (2 - mask.dim()) + tuple(mask.shape))  # torch wants 2-D+
        output = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=scale)
        if mask is not None:
            # Not every backend agrees on fully masked rows; make them zero everywhere.
            output = output.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
        return output, None

    scores = query @ key.transpose(-2, -1) * scale  # (..., L, E) @ (..., E, S) -> (..., L, S)
    weights = masked_softmax(scores, mask)  # (..., L, S)
    return weights @ value, weights  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
