"""A small CoAtNet (Dai et al., 2021): convolution stages, then relative-attention stages.

CoAtNet's observation: a depthwise convolution's kernel weights a neighbour by its
offset alone (translation equivariance, a strong prior that helps with little data);
self-attention weights every pixel by its content (global reach, more capacity).
Relative attention adds the two inside the softmax,
``softmax(q_i . k_j / sqrt(d) + w[i - j])`` (:mod:`attnlib.relative_position_2d`),
and the network stacks convolution stages first, where the maps are large, and
Transformer stages after, where they are small: the C-C-T-T layout.

This one is sized for 2 CPU cores and small images:

- stem: a 3x3 convolution with stride 2 (it halves the resolution), batch norm, GELU;
- stages 1 and 2: :class:`MBConv` blocks (inverted bottleneck, depthwise 3x3,
  squeeze-excitation from :class:`~attnlib.squeeze_excitation.SqueezeExcitation`);
- stages 3 and 4: :class:`RelativeBlock` s (pre-LN Transformer blocks with
  :class:`~attnlib.relative_position_2d.RelativeAttention2d`); stage 4 halves the
  resolution first (2x2 max pool and a 1x1 convolution, a simplification of the
  paper's pooled shortcut);
- head: mean over the pixels, layer norm, linear.

Image legend: ``B`` batch, ``C`` channels, ``H`` height, ``W`` width (the image's,
not the heads); ``L = H*W`` tokens in a Transformer stage.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _checks
from .relative_position_2d import RelativeAttention2d
from .squeeze_excitation import SqueezeExcitation
from .vit import Block


class MBConv(nn.Module):
    """Pre-norm inverted bottleneck with squeeze-excitation, and a residual.

    ``x -> BN -> 1x1 conv (C_in -> 4 C_in), BN, GELU -> depthwise 3x3 (stride), BN, GELU
    -> SE -> 1x1 conv (-> C_out)``, added to the shortcut (``x``; with a stride or a
    change of channels, a 2x2 max pool and/or a 1x1 convolution of ``x``).

    Shapes:
        - x: ``(B, C_in, H, W)``
        - output: ``(B, C_out, H / stride, W / stride)``
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 expand: int = 4):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"`stride` must be 1 or 2; got {stride!r}")
        mid = in_channels * expand
        self.norm = nn.BatchNorm2d(in_channels)
        self.expand = nn.Sequential(nn.Conv2d(in_channels, mid, 1, bias=False),
                                    nn.BatchNorm2d(mid), nn.GELU())
        self.depthwise = nn.Sequential(
            nn.Conv2d(mid, mid, 3, stride=stride, padding=1, groups=mid, bias=False),
            nn.BatchNorm2d(mid), nn.GELU())
        self.se = SqueezeExcitation(mid, max(1, in_channels // 4))
        self.project = nn.Conv2d(mid, out_channels, 1)
        shortcut: list[nn.Module] = [nn.MaxPool2d(2)] if stride == 2 else []
        if in_channels != out_channels:
            shortcut.append(nn.Conv2d(in_channels, out_channels, 1))
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(self.expand(self.norm(x)))  # (B, C_in, H, W) -> (B, 4 C_in, H', W')
        return self.shortcut(x) + self.project(self.se(h))  # -> (B, C_out, H', W')


class RelativeBlock(Block):
    """A pre-LN Transformer block whose attention is
    :class:`~attnlib.relative_position_2d.RelativeAttention2d` over an ``h x w`` grid.

    Shapes:
        - x: ``(B, L, E)`` with ``L = height * width``
        - output: ``(B, L, E)``; weights: ``(B, heads, L, L)`` or ``None``
    """

    def __init__(self, dim: int, num_heads: int, height: int, width: int,
                 mlp_ratio: float = 4.0):
        super().__init__(dim, num_heads, mlp_ratio)
        self.attn = RelativeAttention2d(dim, num_heads, height, width)


class CoAtNet(nn.Module):
    """Stem, two MBConv stages, two relative-attention stages, a linear head (C-C-T-T).

    Defaults are the chapter's size; ``CoAtNet(12, 2, 2)`` has about 22k parameters.

    Args:
        img_size: ``H = W`` of the inputs; must be divisible by 4 (the stem and stage 4
            halve it).
        in_chans, num_classes: the sizes of input and output.
        dims: channels of the stem and the four stages, e.g. ``(8, 8, 16, 32, 32)``.
        depths: blocks in each of the four stages.
        num_heads: heads of every Transformer stage; must divide ``dims[3]`` and ``dims[4]``.
        mlp_ratio: the Transformer blocks' MLP hidden size over their width.

    Shapes:
        - x: ``(B, in_chans, H, W)``
        - logits: ``(B, num_classes)``
        - maps (from :meth:`attention_maps`): one ``(B, heads, L, L)`` per Transformer
          block, ``L = (H/2)^2`` in stage 3 and ``(H/4)^2`` in stage 4
    """

    def __init__(self, img_size: int, in_chans: int, num_classes: int, *,
                 dims: tuple[int, ...] = (8, 8, 16, 32, 32),
                 depths: tuple[int, ...] = (1, 1, 1, 1), num_heads: int = 2,
                 mlp_ratio: float = 2.0):
        super().__init__()
        for value, name in [(img_size, "img_size"), (in_chans, "in_chans"),
                            (num_classes, "num_classes"), (num_heads, "num_heads")]:
            _checks.positive_int(value, name)
        if img_size % 4:
            raise ValueError(f"`img_size` must be divisible by 4 (the stem and stage 4 "
                             f"halve it); got {img_size}")
        if len(dims) != 5 or len(depths) != 4:
            raise ValueError(f"`dims` must have 5 sizes (stem, 4 stages) and `depths` 4; "
                             f"got dims {dims}, depths {depths}")
        for d in (*dims, *depths):
            _checks.positive_int(d, "dims and depths")
        for d in dims[3:]:
            if d % num_heads:
                raise ValueError(f"`num_heads` must divide the Transformer stages' dims "
                                 f"{dims[3:]}; got num_heads {num_heads}")
        self.in_chans, self.img_size = in_chans, img_size
        self.stem = nn.Sequential(nn.Conv2d(in_chans, dims[0], 3, stride=2, padding=1),
                                  nn.BatchNorm2d(dims[0]), nn.GELU())
        self.s1 = nn.Sequential(*[MBConv(dims[0] if i == 0 else dims[1], dims[1])
                                  for i in range(depths[0])])
        self.s2 = nn.Sequential(*[MBConv(dims[1] if i == 0 else dims[2], dims[2])
                                  for i in range(depths[1])])
        g3, g4 = img_size // 2, img_size // 4
        self.s3_proj = nn.Conv2d(dims[2], dims[3], 1)
        self.s3 = nn.ModuleList(RelativeBlock(dims[3], num_heads, g3, g3, mlp_ratio)
                                for _ in range(depths[2]))
        self.s4_proj = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(dims[3], dims[4], 1))
        self.s4 = nn.ModuleList(RelativeBlock(dims[4], num_heads, g4, g4, mlp_ratio)
                                for _ in range(depths[3]))
        self.norm = nn.LayerNorm(dims[4])
        self.head = nn.Linear(dims[4], num_classes)

    @staticmethod
    def _transformer(x: torch.Tensor, blocks: nn.ModuleList, maps: list | None
                     ) -> torch.Tensor:
        B, C, H, W = x.shape
        z = x.flatten(2).transpose(1, 2)  # (B, C, H, W) -> (B, L, C)
        for block in blocks:
            z, weights = block(z, need_weights=maps is not None)
            if maps is not None:
                maps.append(weights)
        return z.transpose(1, 2).reshape(B, C, H, W)  # (B, L, C) -> (B, C, H, W)

    def _features(self, x: torch.Tensor, maps: list | None) -> torch.Tensor:
        _checks.image(x, "x", self.in_chans, self)
        if x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(f"`x` must be {self.img_size}x{self.img_size} images "
                             f"(img_size); got {x.shape[-2]}x{x.shape[-1]}")
        f = self.s2(self.s1(self.stem(x)))  # (B, C_in, H, W) -> (B, dims[2], H/2, W/2)
        f = self._transformer(self.s3_proj(f), self.s3, maps)  # (B, dims[3], H/2, W/2)
        f = self._transformer(self.s4_proj(f), self.s4, maps)  # (B, dims[4], H/4, W/4)
        return f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self._features(x, None).mean(dim=(2, 3))  # (B, C, H/4, W/4) -> (B, C)
        return self.head(self.norm(f))  # (B, C) -> (B, num_classes)

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The weights of every Transformer block, stage 3 first; see Shapes."""
        maps: list[torch.Tensor] = []
        self._features(x, maps)
        return maps
