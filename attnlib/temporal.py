"""Temporal attention: a learned query weights the frames of a video.

A video model often computes one feature vector per frame, ``(B, T, E)``, and must
turn the ``T`` vectors into one.  Averaging treats every frame alike; temporal
attention lets the model score each frame and take a weighted combination, the same
recipe as every rule in this course, over the time axis:

.. math::

    a_t = \\frac{(W_q q)^\\top (W_k f_t)}{\\sqrt{E}}, \\qquad
    \\alpha = \\operatorname{softmax}(a), \\qquad
    y = W_o \\sum_t \\alpha_t\\, W_v f_t,

for one head, with a learned query vector ``q`` (one per model, not per input) and
the projections of a :class:`~attnlib.multihead.MultiHeadAttention` held as
``.attn`` (with several heads, each head scores its own ``E/num_heads`` features,
scaled by ``sqrt(E/num_heads)``, and has its own weights over the frames).  The weights
``alpha`` say which frames the model used.

Unlike the mean, the softmax compares the frames: a frame's weight depends on the
other frames' scores, so the pooling can pick the frame that stands out in its
video (the brightest of several crosses, say) even when no frame's own features
mark it.  Like the mean, it adds no positions: permuting the frames leaves the
output unchanged; give the frame vectors positional encodings when order matters.

Shapes use ``B`` batch, ``T`` frames, ``E`` features per frame.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _checks
from .multihead import MultiHeadAttention


class TemporalAttention(nn.Module):
    """Attention pooling over frames with a learned query.

    Args:
        embed_dim: ``E``, the feature size of each frame's vector.
        num_heads: heads of the inner :class:`MultiHeadAttention`; must divide ``E``.
        bias: give the projections a bias.

    Attributes:
        query: ``(E,)``, the learned query ``q``.
        attn: the :class:`MultiHeadAttention` that scores and combines the frames.

    Shapes:
        - frames: ``(B, T, E)``
        - mask (optional): ``(B, T)``, ``True`` = this frame may be attended to
        - output: ``(B, E)``
        - weights: ``(B, num_heads, T)``, each row sums to 1

    Example:
        >>> pool = TemporalAttention(8, 2)
        >>> out, w = pool(torch.randn(3, 6, 8))
        >>> tuple(out.shape), tuple(w.shape)
        ((3, 8), (3, 2, 6))
    """

    def __init__(self, embed_dim: int, num_heads: int = 1, *, bias: bool = True):
        super().__init__()
        self.attn = MultiHeadAttention(embed_dim, num_heads, bias=bias)
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.query = nn.Parameter(torch.randn(embed_dim) / embed_dim ** 0.5)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(output, weights)``; see the class docstring for shapes."""
        _checks.tensor(frames, "frames")
        _checks.floating(frames, "frames")
        _checks.rank(frames, "frames", "(B, T, E)", exact=3)
        _checks.size(frames, "frames", -1, self.embed_dim, "last dim E (embed_dim)")
        _checks.matches_module(frames, "frames", self)
        B, T, E = frames.shape
        if mask is not None:
            _checks.mask(mask, (B, T), "(B, T)", frames.device)
            mask = mask[:, None, :]  # (B, T) -> (B, 1, T): one query row
        q = self.query.expand(B, 1, E)  # (E,) -> (B, 1, E): the same query for every video
        out, weights = self.attn(q, frames, frames, mask)  # (B, 1, E), (B, heads, 1, T)
        return out[:, 0], weights[:, :, 0]  # (B, E), (B, heads, T)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
