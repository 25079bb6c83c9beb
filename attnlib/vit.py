"""The Vision Transformer (Dosovitskiy et al., 2021): an image as a sequence of patches.

An image ``(B, C, H, W)`` is cut into ``P x P`` patches; each patch is flattened and
mapped to ``E`` features by one linear map (a convolution with kernel and stride
``P``), so the image becomes ``N = (H/P)(W/P)`` tokens.  A learned class token is put
in front, a learned position vector is added to each of the ``N + 1`` tokens, and a
stack of pre-LN Transformer encoder blocks runs over them:

.. math::

    z \\leftarrow z + \\operatorname{MHA}(\\operatorname{LN}(z)), \\qquad
    z \\leftarrow z + \\operatorname{MLP}(\\operatorname{LN}(z)).

The class token's final state, after one more layer norm, goes to a linear head.

Parameter names follow ``timm``'s ``VisionTransformer`` (``cls_token``, ``pos_embed``,
``patch_embed.proj``, ``blocks.N.norm1``, ``blocks.N.attn.qkv``, ``blocks.N.attn.proj``,
``blocks.N.norm2``, ``blocks.N.mlp.fc1``/``fc2``, ``norm``, ``head``), so its
``state_dict`` for the same configuration loads with ``strict=True`` and gives the
same logits.  :func:`attention_rollout` (Abnar and Zuidema, 2020) chains the blocks'
attention maps into one map from the class token to the patches.

Image legend: ``B`` batch, ``C`` channels, ``H`` height, ``W`` width, ``P`` patch size,
``N`` patches; ``L = N + 1`` tokens with the class token; ``E`` features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .biased import biased_attention


def _divisible(embed_dim, num_heads) -> None:
    _checks.positive_int(embed_dim, "embed_dim")
    _checks.positive_int(num_heads, "num_heads")
    if embed_dim % num_heads:
        raise ValueError(f"`embed_dim` must be divisible by `num_heads` (each head gets "
                         f"E/H features); got embed_dim {embed_dim}, num_heads {num_heads}")


class Attention(nn.Module):
    """Multi-head self-attention with one ``qkv`` projection and an optional score bias.

    Args:
        dim: ``E``; num_heads: ``H`` (must divide ``E``); qkv_bias: bias in ``qkv``.

    Attributes:
        qkv: ``Linear(E, 3E)``, rows ``[W^Q; W^K; W^V]``; proj: ``Linear(E, E)``.

    Shapes:
        - x: ``(B, L, E)``
        - bias: broadcastable to ``(B, H, L, L)``, added to the scaled scores
          (a relative position bias), or ``None``
        - output: ``(B, L, E)``; weights: ``(B, H, L, L)`` or ``None``
    """

    def __init__(self, dim: int, num_heads: int, *, qkv_bias: bool = True):
        super().__init__()
        _divisible(dim, num_heads)
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(output, weights)``; see the class docstring for shapes."""
        B, L, E = x.shape
        # (B, L, E) -> (B, L, 3, H, E/H) -> (3, B, H, L, E/H)
        qkv = self.qkv(x).view(B, L, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # 3 x (B, H, L, E/H)
        if need_weights:  # softmax(q k^T / sqrt(E/H) + bias): (B, H, L, E/H), (B, H, L, L)
            heads, weights = biased_attention(q, k, v, bias=bias)
        else:
            weights = None
            heads = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        out = heads.transpose(1, 2).reshape(B, L, E)  # (B, H, L, E/H) -> (B, L, E)
        return self.proj(out), weights


class Mlp(nn.Module):
    """``fc2(GELU(fc1(x)))``: ``(..., E) -> (..., hidden) -> (..., E)``."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """A pre-LN Transformer encoder block: attention and MLP, each residual.

    Shapes:
        - x: ``(B, L, E)``; bias: as in :class:`Attention`
        - output: ``(B, L, E)``; weights: ``(B, H, L, L)`` or ``None``
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        _checks.positive_number(mlp_ratio, "mlp_ratio")
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        out, weights = self.attn(self.norm1(x), bias, need_weights)
        x = x + out
        return x + self.mlp(self.norm2(x)), weights


class PatchEmbed(nn.Module):
    """Cut an image into ``P x P`` patches and map each to ``E`` features.

    ``proj`` is ``Conv2d(C, E, P, stride=P)``: one linear map of each flattened patch.

    Shapes:
        - x: ``(B, C, H, W)`` with ``H = W = img_size``
        - output: ``(B, N, E)``, ``N = (img_size / P)^2`` patches in row-major order
    """

    def __init__(self, img_size: int, patch_size: int, in_chans: int, embed_dim: int):
        super().__init__()
        for value, name in [(img_size, "img_size"), (patch_size, "patch_size"),
                            (in_chans, "in_chans"), (embed_dim, "embed_dim")]:
            _checks.positive_int(value, name)
        if img_size % patch_size:
            raise ValueError(f"`img_size` must be divisible by `patch_size` (the patches "
                             f"tile the image); got img_size {img_size}, "
                             f"patch_size {patch_size}")
        self.img_size, self.patch_size, self.in_chans = img_size, patch_size, in_chans
        self.grid_size = img_size // patch_size
        self.num_patches = self.grid_size ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _checks.image(x, "x", self.in_chans, self)
        if x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(f"`x` must be {self.img_size}x{self.img_size} images (img_size); "
                             f"got {x.shape[-2]}x{x.shape[-1]}")
        # (B, C, H, W) -> (B, E, H/P, W/P) -> (B, N, E)
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    """ViT: patches as tokens, a class token, learned positions, pre-LN blocks, a head.

    Args:
        img_size: ``H = W`` of the input images; patch_size: ``P`` (must divide it).
        in_chans: ``C``; num_classes: outputs of the head.
        embed_dim: ``E``; depth: number of blocks; num_heads: must divide ``E``.
        mlp_ratio: the MLP's hidden size is ``int(E * mlp_ratio)``.

    Attributes:
        cls_token: ``(1, 1, E)``; pos_embed: ``(1, N + 1, E)``, position 0 the class token.

    Shapes:
        - x: ``(B, C, H, W)``
        - logits: ``(B, num_classes)``
        - maps (from :meth:`attention_maps`): ``(depth, B, heads, N + 1, N + 1)``

    Example:
        >>> vit = VisionTransformer(12, 3, 2, 2, 16, 2, 2)
        >>> tuple(vit(torch.randn(5, 2, 12, 12)).shape)
        (5, 2)
    """

    def __init__(self, img_size: int, patch_size: int, in_chans: int, num_classes: int,
                 embed_dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        _divisible(embed_dim, num_heads)
        _checks.positive_int(num_classes, "num_classes")
        _checks.positive_int(depth, "depth")
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.embed_dim, self.depth, self.num_heads = embed_dim, depth, num_heads
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim))
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)  # timm's initialisation of both
        nn.init.normal_(self.cls_token, std=1e-6)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks' input: ``(B, C, H, W) -> (B, N + 1, E)``, class token first."""
        patches = self.patch_embed(x)  # (B, C, H, W) -> (B, N, E)
        cls = self.cls_token.expand(len(x), -1, -1)  # (1, 1, E) -> (B, 1, E)
        return torch.cat((cls, patches), dim=1) + self.pos_embed  # (B, N + 1, E)

    def forward_features(self, x: torch.Tensor, need_weights: bool = False
                         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The normed tokens ``(B, N + 1, E)`` and, if asked, each block's weights."""
        _checks.boolean(need_weights, "need_weights")
        z, maps = self.tokens(x), []
        for block in self.blocks:
            z, weights = block(z, need_weights=need_weights)
            if need_weights:
                maps.append(weights)
        return self.norm(z), maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, _ = self.forward_features(x)
        return self.head(z[:, 0])  # the class token: (B, E) -> (B, num_classes)

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Every block's attention weights, ``(depth, B, heads, N + 1, N + 1)``."""
        return torch.stack(self.forward_features(x, need_weights=True)[1])


def attention_rollout(maps: torch.Tensor, *, residual: bool = True) -> torch.Tensor:
    """Attention rollout (Abnar and Zuidema, 2020): how much each input token flows into
    each output token through the whole stack, if attention were all that mixes them.

    Each block's map is averaged over the heads; with ``residual`` the skip connection
    is counted as ``A' = (A + I) / 2`` (rows still sum to 1); the blocks' maps are
    then multiplied, first block rightmost: ``R = A'_depth ... A'_2 A'_1``.

    Shapes:
        - maps: ``(depth, B, heads, L, L)`` (from :meth:`VisionTransformer.attention_maps`)
        - output: ``(B, L, L)``; row ``0`` is the class token's map over the tokens
    """
    _checks.tensor(maps, "maps")
    _checks.floating(maps, "maps")
    _checks.rank(maps, "maps", "(depth, B, heads, L, L)", exact=5)
    if maps.shape[-1] != maps.shape[-2]:
        raise ValueError(f"`maps` must be square in its last two dims (L, L); "
                         f"got {tuple(maps.shape)}")
    _checks.boolean(residual, "residual")
    a = maps.mean(dim=2)  # (depth, B, heads, L, L) -> (depth, B, L, L)
    if residual:
        eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
        a = (a + eye) / 2
    rollout = a[0]
    for layer in a[1:]:
        rollout = layer @ rollout  # (B, L, L) @ (B, L, L)
    return rollout
