"""Relative attention on a 2-D grid (Shaw et al., 2018; Liu et al., 2021; Dai et al., 2021).

Self-attention over the ``h*w`` pixels of a feature map knows nothing of where the
pixels are.  A *relative* position bias adds to every score a learned number that
depends only on the offset between the query pixel ``i`` and the key pixel ``j``,
one number per head:

.. math::

    s_{ij} = \\frac{q_i^\\top k_j}{\\sqrt{E/H}} + b\\big[\\,y_i - y_j,\\; x_i - x_j\\,\\big].

The offsets run over ``-(h-1)..(h-1)`` rows and ``-(w-1)..(w-1)`` columns, so the
table has ``(2h-1)(2w-1)`` rows; the offset ``(dy, dx)`` is row
``(dy + h - 1)(2w - 1) + (dx + w - 1)``.  Two pixel pairs with the same offset share
one entry: the bias is translation-equivariant, like a convolution's kernel, while
the attention weights still depend on the content (CoAtNet's point).

:class:`RelativePositionBias2d` has ``timm``'s ``RelPosBias`` layout (a
``relative_position_bias_table`` of shape ``((2h-1)(2w-1), heads)`` and a
non-persistent ``relative_position_index``), so their ``state_dict`` s are exchanged
with ``strict=True`` and :meth:`~RelativePositionBias2d.get_bias` returns the same
tensor.  :class:`RelativeAttention2d` is :class:`~attnlib.vit.Attention` with that
bias added.

Legend: ``B`` batch, ``H`` heads, ``L = h*w`` tokens (pixels in row-major order),
``E`` features; ``h``, ``w`` the grid's height and width.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _checks
from .vit import Attention


def relative_position_index(height: int, width: int) -> torch.Tensor:
    """The table row of every (query pixel, key pixel) pair.

    Pixel ``i`` sits at row ``y_i = i // width``, column ``x_i = i % width``; the pair
    ``(i, j)`` reads row ``(y_i - y_j + height - 1)(2 width - 1) + (x_i - x_j + width - 1)``.

    Shapes:
        - output: ``(L, L)`` int64 with ``L = height * width``, values in
          ``0 .. (2 height - 1)(2 width - 1) - 1``
    """
    _checks.positive_int(height, "height")
    _checks.positive_int(width, "width")
    y = torch.arange(height).repeat_interleave(width)  # (L,): row of each pixel
    x = torch.arange(width).repeat(height)  # (L,): column of each pixel
    dy = y[:, None] - y[None, :] + height - 1  # (L, L), 0 .. 2h-2
    dx = x[:, None] - x[None, :] + width - 1  # (L, L), 0 .. 2w-2
    return dy * (2 * width - 1) + dx


class RelativePositionBias2d(nn.Module):
    """A learned bias per head for every 2-D offset, gathered into a ``(L, L)`` map.

    Args:
        height, width: the grid ``h x w`` the attention runs over.
        num_heads: ``H``, one table column per head.

    Attributes:
        relative_position_bias_table: ``((2h-1)(2w-1), H)``, truncated normal, std 0.02.
        relative_position_index: ``(L, L)`` buffer from :func:`relative_position_index`
            (not saved in the ``state_dict``: it follows from ``h`` and ``w``).

    Shapes:
        - bias (from :meth:`get_bias`): ``(1, H, L, L)``
        - scores (for :meth:`forward`): ``(B, H, L, L)``; output: ``(B, H, L, L)``

    Example:
        >>> rel = RelativePositionBias2d(3, 4, 2)
        >>> tuple(rel.relative_position_bias_table.shape), tuple(rel.get_bias().shape)
        ((35, 2), (1, 2, 12, 12))
    """

    def __init__(self, height: int, width: int, num_heads: int):
        super().__init__()
        _checks.positive_int(num_heads, "num_heads")
        index = relative_position_index(height, width)
        self.height, self.width, self.num_heads = height, width, num_heads
        self.relative_position_bias_table = nn.Parameter(
            torch.empty((2 * height - 1) * (2 * width - 1), num_heads))
        self.register_buffer("relative_position_index", index, persistent=False)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def get_bias(self) -> torch.Tensor:
        """The bias of every pair, ``(1, H, L, L)``: one lookup in the table."""
        L = self.height * self.width
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(L, L, self.num_heads)  # (L*L, H) -> (L, L, H)
        return bias.permute(2, 0, 1).unsqueeze(0).contiguous()  # (L, L, H) -> (1, H, L, L)

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """``scores + bias``; ``scores`` is ``(B, H, L, L)`` (not changed in place)."""
        return scores + self.get_bias()

    def extra_repr(self) -> str:
        return f"height={self.height}, width={self.width}, num_heads={self.num_heads}"


class RelativeAttention2d(Attention):
    """Multi-head self-attention over an ``h x w`` grid with a relative position bias.

    Args:
        dim: ``E``; num_heads: ``H`` (must divide ``E``); height, width: the grid.

    Attributes:
        qkv, proj: as in :class:`~attnlib.vit.Attention`;
        rel_pos: the :class:`RelativePositionBias2d`.

    Shapes:
        - x: ``(B, L, E)`` with ``L = height * width`` (pixels in row-major order)
        - bias: an extra additive bias broadcastable to ``(B, H, L, L)``, or ``None``
        - output: ``(B, L, E)``; weights: ``(B, H, L, L)`` or ``None``
    """

    def __init__(self, dim: int, num_heads: int, height: int, width: int):
        super().__init__(dim, num_heads)
        self.rel_pos = RelativePositionBias2d(height, width, num_heads)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        _checks.tensor(x, "x")
        _checks.floating(x, "x")
        _checks.rank(x, "x", "(B, L, E)", exact=3)
        L = self.rel_pos.height * self.rel_pos.width
        _checks.size(x, "x", 1, L, f"L = height * width = {L} tokens (dim 1)")
        _checks.size(x, "x", 2, self.dim, "last dim E (dim)")
        _checks.matches_module(x, "x", self)
        _checks.boolean(need_weights, "need_weights")
        b = self.rel_pos.get_bias()  # (1, H, L, L)
        return super().forward(x, b if bias is None else b + bias, need_weights)
