"""Coordinate attention (Hou et al., CVPR 2021): channel attention that keeps one axis.

Squeeze-and-excitation averages a channel over the whole image and loses where things
are.  Coordinate attention averages over one axis at a time, so the channel summary
keeps the other: ``z^h`` has one value per row, ``z^w`` one per column.  Both pass
through one shared 1x1 convolution, batch norm and h-swish, then each gets its own
1x1 convolution and a sigmoid:

.. math::

    f = \\delta\\big(\\operatorname{BN}(F_1 [z^h; z^w])\\big), \\qquad
    g^h = \\sigma(F_h f^h), \\quad g^w = \\sigma(F_w f^w), \\qquad
    y_{c,i,j} = x_{c,i,j}\\, g^h_{c,i}\\, g^w_{c,j}.

The layout is the authors': ``pool_h``, ``pool_w``, ``conv1``, ``bn1``, ``act``
(h-swish), ``conv_h``, ``conv_w``, hidden size ``max(8, channels // reduction)``,
so their ``state_dict`` loads with ``strict=True`` and gives the same output.  As
in their code, the rows and columns are concatenated before ``bn1``, so in
training mode the batch statistics are taken over both.

Image legend: ``B`` batch, ``C`` channels, ``H`` height, ``W`` width.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _checks


class CoordinateAttention(nn.Module):
    """Gate every channel by one sigmoid per row times one per column.

    Args:
        channels: ``C``, the input's channel count.
        reduction: the hidden size is ``max(8, channels // reduction)``.

    Shapes:
        - x: ``(B, C, H, W)``
        - gates (from :meth:`gates`): ``g^h`` ``(B, C, H, 1)`` and ``g^w`` ``(B, C, 1, W)``
        - output: ``(B, C, H, W)``

    Example:
        >>> ca = CoordinateAttention(16, reduction=4)
        >>> tuple(ca(torch.randn(2, 16, 5, 7)).shape)
        (2, 16, 5, 7)
    """

    def __init__(self, channels: int, reduction: int = 32):
        super().__init__()
        _checks.positive_int(channels, "channels")
        _checks.positive_int(reduction, "reduction")
        self.channels, self.reduction = channels, reduction
        self.hidden = max(8, channels // reduction)
        self.pool_h = nn.AdaptiveAvgPool2d((None, 1))  # mean over the width: one value a row
        self.pool_w = nn.AdaptiveAvgPool2d((1, None))  # mean over the height: one a column
        self.conv1 = nn.Conv2d(channels, self.hidden, 1)
        self.bn1 = nn.BatchNorm2d(self.hidden)
        self.act = nn.Hardswish()  # h-swish: x * relu6(x + 3) / 6
        self.conv_h = nn.Conv2d(self.hidden, channels, 1)
        self.conv_w = nn.Conv2d(self.hidden, channels, 1)

    def gates(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The row gates ``(B, C, H, 1)`` and the column gates ``(B, C, 1, W)``."""
        _checks.image(x, "x", self.channels, self)
        H, W = x.shape[2], x.shape[3]
        z_h = self.pool_h(x)  # (B, C, H, W) -> (B, C, H, 1)
        z_w = self.pool_w(x).transpose(2, 3)  # (B, C, H, W) -> (B, C, 1, W) -> (B, C, W, 1)
        z = torch.cat((z_h, z_w), dim=2)  # -> (B, C, H + W, 1): rows, then columns
        f = self.act(self.bn1(self.conv1(z)))  # (B, C, H + W, 1) -> (B, hidden, H + W, 1)
        f_h, f_w = torch.split(f, [H, W], dim=2)  # (B, hidden, H, 1), (B, hidden, W, 1)
        g_h = torch.sigmoid(self.conv_h(f_h))  # (B, hidden, H, 1) -> (B, C, H, 1)
        g_w = torch.sigmoid(self.conv_w(f_w.transpose(2, 3)))  # -> (B, C, 1, W)
        return g_h, g_w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` scaled by its row and column gates; see the class docstring for shapes."""
        g_h, g_w = self.gates(x)
        return x * g_w * g_h  # (B, C, H, W) * (B, C, 1, W) * (B, C, H, 1) -> (B, C, H, W)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}, hidden={self.hidden}"
