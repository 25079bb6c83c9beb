"""Small models for the generated image and video tasks.

- :class:`SmallCNN`: a 3x3 and a 1x1 convolution, an optional attention block
  (:data:`ATTENTIONS`: none, squeeze-and-excitation, coordinate attention, or axial
  attention along the width and then the height), a 1x1 convolution, a global max
  pool and a linear classifier.  The convolutions alone see 3x3 neighbourhoods, and
  their circular padding hides where the image's edges are: without attention the
  model cannot tell which row a pixel is in.
- :class:`FrameClassifier`: a small CNN encodes every frame of a video into one
  vector; the frames are pooled by :class:`~attnlib.temporal.TemporalAttention`
  (``pool="attention"``) or by their mean (``pool="mean"``).
"""

from __future__ import annotations

import torch
from torch import nn

from .. import _checks
from ..axial import AxialAttention
from ..coordinate import CoordinateAttention
from ..squeeze_excitation import SqueezeExcitation
from ..temporal import TemporalAttention

ATTENTIONS = ("none", "se", "ca", "axial")
POOLS = ("attention", "mean")


def _choice(value, name: str, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"`{name}` must be one of {options}; got {value!r}")
    return value


class SmallCNN(nn.Module):
    """A small CNN with a pluggable attention block, for ``(B, C_in, S, S)`` images.

    Args:
        attention: ``"none"``, ``"se"`` (:class:`SqueezeExcitation` with
            ``channels // 4`` hidden), ``"ca"`` (:class:`CoordinateAttention`,
            ``reduction=4``) or ``"axial"`` (width, then height, each residual).
        in_channels, channels, num_classes: the sizes; ``num_heads`` for axial.

    Shapes:
        - x: ``(B, in_channels, H, W)``
        - logits: ``(B, num_classes)``
    """

    def __init__(self, attention: str = "none", *, in_channels: int = 2, channels: int = 16,
                 num_classes: int = 2, num_heads: int = 2):
        super().__init__()
        self.attention = _choice(attention, "attention", ATTENTIONS)
        self.in_channels = in_channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, padding_mode="circular"), nn.ReLU(),
            nn.Conv2d(channels, channels, 1), nn.ReLU())
        if attention == "se":
            self.block = SqueezeExcitation(channels, max(1, channels // 4))
        elif attention == "ca":
            self.block = CoordinateAttention(channels, reduction=4)
        elif attention == "axial":
            self.block = nn.ModuleList([AxialAttention(channels, num_heads, axis="width"),
                                        AxialAttention(channels, num_heads, axis="height")])
        else:
            self.block = None
        self.head = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.ReLU())
        self.classifier = nn.Linear(channels, num_classes)

    def features(self, x: torch.Tensor, need_maps: bool = True
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The feature map after the attention block, ``(B, channels, H, W)``, and the
        block's maps: ``se`` gate ``(B, C, 1, 1)``; ``ca`` ``rows`` ``(B, C, H, 1)``
        and ``columns`` ``(B, C, 1, W)``; ``axial`` ``width`` ``(B, H, heads, W, W)``
        and ``height`` ``(B, W, heads, H, H)`` (``need_maps=False``: the axial
        maps are not kept, and PyTorch's fused kernel does the work)."""
        _checks.image(x, "x", self.in_channels, self)
        f = self.stem(x)  # (B, C_in, H, W) -> (B, C, H, W)
        maps: dict[str, torch.Tensor] = {}
        if self.attention == "se":
            maps["gate"] = self.block.gate(f)
            f = maps["gate"] * f
        elif self.attention == "ca":
            maps["rows"], maps["columns"] = self.block.gates(f)
            f = f * maps["columns"] * maps["rows"]
        elif self.attention == "axial":
            for axial in self.block:
                out, weights = axial(f, need_weights=need_maps)
                if need_maps:
                    maps[axial.axis] = weights
                f = f + out  # residual
        return f, maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, _ = self.features(x, need_maps=False)
        f = self.head(f).amax(dim=(2, 3))  # (B, C, H, W) -> (B, C): the strongest evidence
        return self.classifier(f)  # (B, C) -> (B, num_classes)


class FrameClassifier(nn.Module):
    """Encode each frame, pool over time, classify.

    Args:
        pool: ``"attention"`` (:class:`TemporalAttention`, one head) or ``"mean"``.
        size: frame height and width ``S`` (even); channels, embed_dim, num_classes: sizes.

    Shapes:
        - videos: ``(B, T, 1, S, S)``
        - logits: ``(B, num_classes)``; weights: ``(B, T)`` (``None`` for ``"mean"``)
    """

    def __init__(self, pool: str = "attention", *, size: int = 8, channels: int = 8,
                 embed_dim: int = 32, num_classes: int = 4):
        super().__init__()
        self.pool = _choice(pool, "pool", POOLS)
        self.size = size
        self.encoder = nn.Sequential(  # (N, 1, S, S) -> (N, E): the flatten keeps positions
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(channels * (size // 2) ** 2, embed_dim), nn.ReLU())
        self.temporal = TemporalAttention(embed_dim, 1) if pool == "attention" else None
        self.classifier = nn.Linear(embed_dim, num_classes)

    def forward(self, videos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        _checks.tensor(videos, "videos")
        _checks.floating(videos, "videos")
        _checks.rank(videos, "videos", "(B, T, 1, S, S)", exact=5)
        _checks.size(videos, "videos", 2, 1, "one channel (dim 2)")
        _checks.matches_module(videos, "videos", self)
        B, T = videos.shape[:2]
        frames = self.encoder(videos.flatten(0, 1)).view(B, T, -1)  # (B*T, 1, S, S) -> (B, T, E)
        if self.temporal is None:
            return self.classifier(frames.mean(1)), None
        pooled, weights = self.temporal(frames)  # (B, E), (B, 1, T)
        return self.classifier(pooled), weights[:, 0]
