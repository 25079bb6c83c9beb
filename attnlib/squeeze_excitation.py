"""Channel attention in the style of squeeze-and-excitation (Hu et al., 2018).

Each channel gets one weight in ``(0, 1)`` computed from the whole image:

.. math::

    z = \\operatorname{avgpool}(x) \\in \\mathbb{R}^{C}, \\qquad
    g = \\sigma\\big(W_2\\, \\operatorname{ReLU}(W_1 z + b_1) + b_2\\big), \\qquad
    y_{c,i,j} = g_c\\, x_{c,i,j}.

The scores are over channels, the "softmax" is a sigmoid (every channel is gated
on its own, so several can be kept at once), and the combination is a product.

The layout is torchvision's ``SqueezeExcitation``: ``avgpool``, ``fc1`` and
``fc2`` as 1x1 ``Conv2d``, ``activation`` (ReLU) and ``scale_activation``
(sigmoid), so the two exchange ``state_dict`` s with ``strict=True``.

Image legend: ``B`` batch, ``C`` channels, ``H`` height, ``W`` width (here
``H`` is the image height, not the number of heads).
"""

from __future__ import annotations

import torch
from torch import nn

from . import _checks


class SqueezeExcitation(nn.Module):
    """Gate every channel by a sigmoid of a small MLP on the channel means.

    Args:
        channels: ``C``, the input's channel count.
        squeeze_channels: the MLP's hidden size (the paper's ``C / r``).

    Attributes:
        fc1: ``Conv2d(C, squeeze_channels, 1)``; fc2: ``Conv2d(squeeze_channels, C, 1)``.

    Shapes:
        - x: ``(B, C, H, W)``
        - gate (from :meth:`gate`): ``(B, C, 1, 1)``, values in ``(0, 1)``
        - output: ``(B, C, H, W)``

    Example:
        >>> se = SqueezeExcitation(16, 4)
        >>> tuple(se(torch.randn(2, 16, 5, 7)).shape)
        (2, 16, 5, 7)
    """

    def __init__(self, channels: int, squeeze_channels: int):
        super().__init__()
        _checks.positive_int(channels, "channels")
        _checks.positive_int(squeeze_channels, "squeeze_channels")
        self.channels, self.squeeze_channels = channels, squeeze_channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Sigmoid()

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The channel weights ``g``, ``(B, C, H, W) -> (B, C, 1, 1)``."""
        _checks.image(x, "x", self.channels, self)
        z = self.avgpool(x)  # squeeze: (B, C, H, W) -> (B, C, 1, 1)
        hidden = self.activation(self.fc1(z))  # (B, C, 1, 1) -> (B, C/r, 1, 1)
        return self.scale_activation(self.fc2(hidden))  # excite: (B, C/r, 1, 1) -> (B, C, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` scaled channel by channel; see the class docstring for shapes."""
        return self.gate(x) * x  # (B, C, 1, 1) * (B, C, H, W) -> (B, C, H, W)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, squeeze_channels={self.squeeze_channels}"
