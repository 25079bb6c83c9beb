"""ALiBi (Press et al., 2022): attention with linear biases instead of position codes.

ALiBi adds no position code to the tokens.  Each head ``h`` subtracts from the
score of query ``i`` and key ``j`` a penalty that grows linearly with their
distance,

.. math::

    s_{hij} = \\frac{q_i \\cdot k_j}{\\sqrt{E}} - m_h \\, |i - j|,

with a fixed slope ``m_h`` per head: a head with a large slope looks only at
near keys, one with a small slope far.  The penalty depends on the distance
only, and it is defined for every distance, so a model trained on short inputs
meets no unseen position code on long ones.

The slopes are a geometric sequence.  For ``n`` heads, ``n`` a power of two,
they start at ``2^(-8/n)`` and use that number as the ratio: 8 heads get
``1/2, 1/4, ..., 1/256``.  For other ``n`` the authors' code (the paper's text
gives the power-of-two rule only) takes the ``2^a`` slopes of the largest power
of two ``2^a < n``, then every second slope of ``2^(a+1)`` heads until there
are ``n``.
"""

from __future__ import annotations

import math

import torch

from . import _checks


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """The ``(num_heads,)`` ALiBi slopes ``m_h`` of the paper, in float64.

    Shapes:
        - returns: ``(H,)``

    Example:
        >>> alibi_slopes(4).tolist()
        [0.25, 0.0625, 0.015625, 0.00390625]
    """
    _checks.positive_int(num_heads, "num_heads")
    power = 2 ** int(math.floor(math.log2(num_heads)))  # the largest power of two <= H

    def geometric(n: int) -> list[float]:
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    slopes = geometric(power)
    if power < num_heads:  # fill up with every second slope of 2 * power heads
        slopes += geometric(2 * power)[0::2][: num_heads - power]
    return torch.tensor(slopes, dtype=torch.float64)


def alibi_bias(slopes: torch.Tensor | int, L: int, S: int | None = None, *,
               device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The ``(H, L, S)`` ALiBi bias ``-m_h |i - j|`` to add to the scores.

    Args:
        slopes: the ``(H,)`` slopes, or an int ``H`` for :func:`alibi_slopes` of
            that many heads.
        L, S: the query and key lengths (``S`` defaults to ``L``); query ``i``
            and key ``j`` both count from position 0.
        device, dtype: of the result (float32 by default).

    In a causal decoder the keys after the query are masked anyway, so there
    the bias is the paper's ``-m_h (i - j)``.

    Shapes:
        - slopes: ``(H,)``
        - returns: ``(H, L, S)``, added to scores ``(B, H, L, S)``
    """
    if not isinstance(slopes, torch.Tensor):
        slopes = alibi_slopes(slopes)
    _checks.floating(slopes, "slopes")
    _checks.rank(slopes, "slopes", "(H,)", exact=1)
    S = L if S is None else S
    _checks.non_negative_int(L, "L")
    _checks.non_negative_int(S, "S")
    i = torch.arange(L, device=device, dtype=torch.float64)
    j = torch.arange(S, device=device, dtype=torch.float64)
    distance = (i[:, None] - j[None, :]).abs()  # (L, 1) - (1, S) -> (L, S)
    m = slopes.to(device=device, dtype=torch.float64)[:, None, None]  # (H,) -> (H, 1, 1)
    bias = 0.0 - m * distance  # (H, 1, 1) * (L, S) -> (H, L, S); 0.0 - keeps +0 on the diagonal
    return bias.to(dtype)
