"""Axial attention (Ho et al., 2019): self-attention along one axis of an image.

Full self-attention over the ``H*W`` pixels of a ``(B, C, H, W)`` image compares every
pixel with every other: ``(HW)^2`` scores.  Axial attention treats each column
(``axis="height"``) or each row (``axis="width"``) as its own sequence and runs
multi-head attention inside it, with the channels as the feature size ``E = C``:

.. math::

    y_{:, i, j} = \\operatorname{MHA}\\big(x_{:, i, j};\\, x_{:, 1..H, j}\\big)
    \\quad (\\text{height}), \\qquad
    y_{:, i, j} = \\operatorname{MHA}\\big(x_{:, i, j};\\, x_{:, i, 1..W}\\big)
    \\quad (\\text{width}).

That costs ``HW(H + W)`` scores for one pass along each axis instead of ``(HW)^2``.
A change at one pixel reaches only its own column (or row); a height pass followed
by a width pass reaches every pixel.

The module adds no positional information, so each pass is permutation-equivariant
along its axis: permuting the pixels of every row permutes a width pass's output the
same way.  Ho et al. add positional embeddings to the input; Axial-DeepLab (Wang et
al., 2020) adds learned relative-position terms to the scores and the values.  Give
the input positions first when the order along the axis matters.

The module holds a :class:`~attnlib.multihead.MultiHeadAttention` as ``.attn``; the
columns (or rows) of all images form its batch.

Image legend: ``B`` batch, ``C`` channels, ``H`` height, ``W`` width; the number
of heads is ``num_heads`` (here ``H`` is the height).
"""

from __future__ import annotations

import torch
from torch import nn

from . import _checks
from .multihead import MultiHeadAttention

AXES = ("height", "width")


def check_axis(axis) -> str:
    """Require ``axis`` to be ``"height"`` or ``"width"``."""
    if not isinstance(axis, str):
        raise TypeError(f"`axis` must be one of {AXES}; got {type(axis).__name__} {axis!r}")
    if axis not in AXES:
        raise ValueError(f"`axis` must be one of {AXES} (attend along each column or each "
                         f"row); got {axis!r}")
    return axis


class AxialAttention(nn.Module):
    """Multi-head self-attention along every column (``"height"``) or row (``"width"``).

    Args:
        embed_dim: ``E``, equal to the input's channel count ``C``.
        num_heads: heads of the inner :class:`MultiHeadAttention`; must divide ``E``.
        axis: ``"height"`` (each column is a sequence of ``H`` pixels) or
            ``"width"`` (each row is a sequence of ``W`` pixels).
        bias, dropout: passed to :class:`MultiHeadAttention`.

    Attributes:
        attn: the :class:`MultiHeadAttention` applied to every column or row.

    Shapes:
        - x: ``(B, C, H, W)`` with ``C = embed_dim``
        - output: ``(B, C, H, W)``
        - weights: ``(B, W, num_heads, H, H)`` for ``"height"`` (one map per column),
          ``(B, H, num_heads, W, W)`` for ``"width"`` (one map per row), or ``None``

    Example:
        >>> axial = AxialAttention(8, 2, axis="width")
        >>> out, w = axial(torch.randn(3, 8, 4, 5))
        >>> tuple(out.shape), tuple(w.shape)
        ((3, 8, 4, 5), (3, 4, 2, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, *, axis: str, bias: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        self.axis = check_axis(axis)
        self.attn = MultiHeadAttention(embed_dim, num_heads, bias=bias, dropout=dropout)
        self.embed_dim, self.num_heads = embed_dim, num_heads

    def forward(self, x: torch.Tensor, need_weights: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(output, weights)``; see the class docstring for shapes."""
        _checks.image(x, "x", self.embed_dim, self)
        _checks.boolean(need_weights, "need_weights")
        B, C, H, W = x.shape
        if self.axis == "height":
            seq = x.permute(0, 3, 2, 1).reshape(B * W, H, C)  # (B, C, H, W) -> (B*W, H, C)
        else:
            seq = x.permute(0, 2, 3, 1).reshape(B * H, W, C)  # (B, C, H, W) -> (B*H, W, C)
        out, weights = self.attn(seq, seq, seq, need_weights=need_weights)
        if self.axis == "height":
            out = out.view(B, W, H, C).permute(0, 3, 2, 1)  # (B*W, H, C) -> (B, C, H, W)
            if weights is not None:  # (B*W, heads, H, H) -> (B, W, heads, H, H)
                weights = weights.view(B, W, self.num_heads, H, H)
        else:
            out = out.view(B, H, W, C).permute(0, 3, 1, 2)  # (B*H, W, C) -> (B, C, H, W)
            if weights is not None:  # (B*H, heads, W, W) -> (B, H, heads, W, W)
                weights = weights.view(B, H, self.num_heads, W, W)
        return out.contiguous(), weights

    def extra_repr(self) -> str:
        return f"axis={self.axis!r}"
