"""Scaled dot-product attention with an additive score bias and soft-capping: the dense path.

Relative position schemes (ALiBi, T5's buckets) and logit soft-capping
(Gemma 2) change the scores before the softmax:

.. math::

    s_{ij} = c \\tanh\\!\\left(\\frac{q_i \\cdot k_j}{c \\sqrt{E}}\\right) + b_{ij},
    \\qquad w_{ij} = \\operatorname{softmax}_j(s_{ij})\\ \\text{over the allowed keys}.

The cap ``c`` keeps every score in ``(-c, c)``; the bias ``b`` adds, e.g.,
``-m_h |i - j|``.  This module writes that out densely, an ``(L, S)`` score
matrix per head, as the reference the FlexAttention versions (:mod:`attnlib.flex`)
are checked against.
"""

from __future__ import annotations

import torch

from . import _checks
from .masking import masked_softmax

_LEGENDS = ("(..., L, E)", "(..., S, E)", "(..., S, Ev)")


def biased_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     mask: torch.Tensor | None = None, *, bias: torch.Tensor | None = None,
                     softcap: float | None = None, scale: float | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(cap(q k^T * scale) + bias)`` over the allowed keys, times ``value``.

    Args:
        query, key, value: as in :func:`attnlib.scaled_dot_product_attention`.
        mask: boolean, broadcastable to ``(..., L, S)``; ``True`` = may attend.
            A query with no allowed key gets zero weights and a zero output.
        bias: floating point, broadcastable to ``(..., L, S)``, added to the
            (capped) scores, e.g. :func:`attnlib.alibi_bias` ``(H, L, S)``.
        softcap: ``c``: the scores become ``c tanh(scores / c)`` before the
            bias is added; ``None`` leaves them as they are.
        scale: multiplies ``q k^T``; default ``1 / sqrt(E)``.

    Returns:
        ``(output, weights)``.

    Shapes:
        - query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)``
        - mask, bias: broadcastable to ``(..., L, S)``
        - output ``(..., L, Ev)``, weights ``(..., L, S)``
    """
    _checks.qkv(query, key, value, legends=_LEGENDS)
    _checks.dim_equal(query, "query", -1, key, "key", -1, "last dim E")
    scale = _checks.scale_or_default(scale, query.shape[-1])
    scores = query @ key.transpose(-2, -1) * scale  # (..., L, E) @ (..., E, S) -> (..., L, S)
    if softcap is not None:
        _checks.positive_number(softcap, "softcap")
        scores = softcap * torch.tanh(scores / softcap)
    if bias is not None:
        _checks.tensor(bias, "bias")
        _checks.floating(bias, "bias")
        try:
            shape = torch.broadcast_shapes(bias.shape, scores.shape)
        except RuntimeError:
            shape = None
        if shape != scores.shape:
            raise ValueError(f"`bias` must be broadcastable to the scores' shape (..., L, S) = "
                             f"{tuple(scores.shape)}; got bias {_checks._shape(bias)}")
        scores = scores + bias.to(device=scores.device, dtype=scores.dtype)
    if mask is not None:
        _checks.mask(mask, tuple(scores.shape), "(..., L, S)", query.device)
    weights = masked_softmax(scores, mask)  # (..., L, S)
    return weights @ value, weights  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
