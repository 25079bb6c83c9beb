"""Rotary position embedding (Su et al., 2021, RoFormer): positions as rotations of q and k.

Chapter 7 showed that moving the sinusoidal encoding ``k`` positions on is a
rotation of each feature pair by ``k w_i``.  Rotary embedding uses that rotation
directly: instead of *adding* a position code, it *rotates* feature pair
``(2i, 2i+1)`` of the query or key at position ``m`` by the angle ``m w_i``,

.. math::

    \\begin{pmatrix} x'_{2i} \\\\ x'_{2i+1} \\end{pmatrix} =
    \\begin{pmatrix} \\cos m w_i & -\\sin m w_i \\\\ \\sin m w_i & \\cos m w_i \\end{pmatrix}
    \\begin{pmatrix} x_{2i} \\\\ x_{2i+1} \\end{pmatrix},
    \\qquad w_i = \\text{base}^{-2i/E}.

Rotations compose by adding angles and keep dot products, so
``R(m) q . R(n) k = q . R(n - m) k``: the score depends on the offset ``n - m``
only, never on where the pair sits in the sequence.
"""

from __future__ import annotations

import numbers

import torch

from . import _checks
from .multihead import MultiHeadAttention


def rotary_angles(length: int, dim: int, *, offset: int = 0, base: float = 10000.0,
                  device=None, inv_freq: torch.Tensor | None = None) -> torch.Tensor:
    """The ``(length, dim/2)`` angles ``(offset + m) w_i`` in float64.

    ``inv_freq``, if given, are the ``w_i`` (``base`` is then unused).

    Shapes:
        - inv_freq: ``(dim/2,)``
        - returns: ``(length, dim/2)``
    """
    position = torch.arange(offset, offset + length, dtype=torch.float64, device=device)
    if inv_freq is not None:
        omega = inv_freq.to(device=device, dtype=torch.float64)
    else:
        omega = float(base) ** (-torch.arange(0, dim, 2, dtype=torch.float64, device=device) / dim)
    return position[:, None] * omega[None, :]  # (L, 1) * (1, E/2) -> (L, E/2)


def apply_rotary(x: torch.Tensor, *, offset: int = 0, base: float = 10000.0,
                 inv_freq: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate feature pair ``(2i, 2i+1)`` of the row at position ``m`` by ``(offset + m) w_i``.

    Args:
        x: queries or keys, floating point, with an even last dim ``E``.
        offset: the position of the first row (``m`` counts from it); a decoder
            with a cache of ``t`` tokens rotates its new token with ``offset=t``.
        base: sets the slowest frequency, ``w_i = base ** (-2i / E)``.
        inv_freq: the frequencies ``w_i`` themselves, ``(E/2,)``, instead of
            ``base``: scaled ones for longer contexts come from
            :func:`attnlib.rope_frequencies`.

    Returns:
        a new tensor; ``x`` is not changed.  The angles are computed in float64,
        then converted to ``x``'s dtype.

    Shapes:
        - x: ``(..., L, E)``, ``E`` even
        - returns: ``(..., L, E)``

    Example:
        >>> q = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
        >>> apply_rotary(q).round(decimals=4).tolist()  # position 1 turns by 1 radian
        [[1.0, 0.0], [0.5403, 0.8415]]
    """
    _checks.tensor(x, "x")
    _checks.floating(x, "x")
    _checks.rank(x, "x", "(..., L, E)", at_least=2)
    if x.shape[-1] % 2:
        raise ValueError(f"`x` must have an even last dim E (pairs rotate); "
                         f"got shape {_checks._shape(x)}")
    if isinstance(offset, bool) or not isinstance(offset, numbers.Integral) or offset < 0:
        raise ValueError(f"`offset` must be an int >= 0 (the position of the first row); "
                         f"got {offset!r}")
    _checks.positive_number(base, "base")
    L, E = x.shape[-2], x.shape[-1]
    if inv_freq is not None:
        _checks.tensor(inv_freq, "inv_freq")
        if tuple(inv_freq.shape) != (E // 2,):
            raise ValueError(f"`inv_freq` must have shape (E/2,) = ({E // 2},) for `x` of shape "
                             f"{_checks._shape(x)}; got {_checks._shape(inv_freq)}")
    angle = rotary_angles(L, E, offset=int(offset), base=base, device=x.device,
                          inv_freq=inv_freq)  # (L, E/2)
    if x.dtype in (torch.float32, torch.float64):
        # pair (x_2i, x_2i+1) as the complex number x_2i + i x_2i+1: rotating it by a is
        # multiplying by e^{ia}, one multiplication instead of four and two sums
        turn = torch.polar(torch.ones_like(angle), angle)  # (L, E/2) complex128
        z = torch.view_as_complex(x.unflatten(-1, (E // 2, 2)).contiguous())  # (..., L, E/2)
        return torch.view_as_real(z * turn.to(z.dtype)).flatten(-2)  # (..., L, E)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)  # (L, E/2) each
    x0, x1 = x[..., 0::2], x[..., 1::2]  # (..., L, E) -> 2 x (..., L, E/2)
    out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)  # (..., L, E/2, 2)
    return out.flatten(-2)  # (..., L, E/2, 2) -> (..., L, E): pairs back side by side


class RotaryMultiHeadAttention(MultiHeadAttention):
    """:class:`MultiHeadAttention` whose queries and keys are rotated by their positions.

    The same parameters and arguments; every head rotates its ``E/H`` features
    with :func:`apply_rotary` after the projections, queries from position 0 and
    keys from position 0.  Meant for self-attention.

    Shapes:
        as :class:`MultiHeadAttention`; ``E/H`` must be even.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, bias: bool = True,
                 dropout: float = 0.0, base: float = 10000.0):
        super().__init__(embed_dim, num_heads, bias=bias, dropout=dropout)
        if self.head_dim % 2:
            raise ValueError(f"rotary attention needs an even head size embed_dim/num_heads; "
                             f"got embed_dim {embed_dim}, num_heads {num_heads}")
        _checks.positive_number(base, "base")
        self.base = float(base)

    def _positions(self, q, k):
        """Rotate the queries and keys of every head by their positions (from 0)."""
        return apply_rotary(q, base=self.base), apply_rotary(k, base=self.base)
