"""T5's relative position bias (Raffel et al., 2020): a learned bias per distance bucket and head.

T5 adds no position code to the tokens either.  Every head ``h`` adds a learned
number ``b_{h, bucket(j - i)}`` to the score of query ``i`` and key ``j``.
The relative position ``j - i`` goes into one of ``num_buckets`` buckets:

- with ``bidirectional=True`` (the encoder) half of the buckets are for keys
  before the query and half for keys after it; with ``bidirectional=False``
  (the decoder, causal) every bucket is for keys at or before the query;
- within a direction, the first half of the buckets hold the distances
  ``0, 1, 2, ...`` exactly, the second half grow logarithmically up to
  ``max_distance``, and every farther distance shares the last bucket.

Near keys are told apart precisely, far ones roughly, and a distance longer
than any seen in training still lands in a bucket the model has learned.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import _checks


def relative_position_bucket(relative_position: torch.Tensor, *, bidirectional: bool = True,
                             num_buckets: int = 32, max_distance: int = 128) -> torch.Tensor:
    """The bucket (int64, ``0..num_buckets-1``) of each relative position ``j - i``.

    Args:
        relative_position: integer tensor of key position minus query position.
        bidirectional: split the buckets between keys before and after the query
            (T5's encoder); if False, keys after the query share bucket 0 (they
            are masked in a causal decoder).
        num_buckets: the number of buckets (even when ``bidirectional``).
        max_distance: distances from here on share the last bucket.

    Shapes:
        - relative_position: any, e.g. ``(L, S)``
        - returns: the same shape, int64

    Example:
        >>> relative_position_bucket(torch.tensor([-3, -1, 0, 1, 3]), num_buckets=8,
        ...                          max_distance=16).tolist()
        [2, 1, 0, 5, 6]
    """
    _checks.tensor(relative_position, "relative_position")
    if relative_position.is_floating_point() or relative_position.dtype == torch.bool:
        raise TypeError(f"`relative_position` must be an integer tensor; "
                        f"got dtype {relative_position.dtype}")
    _checks.boolean(bidirectional, "bidirectional")
    _checks.positive_int(num_buckets, "num_buckets")
    _checks.positive_int(max_distance, "max_distance")
    n = num_buckets // 2 if bidirectional else num_buckets
    exact = n // 2  # distances 0..exact-1 get a bucket each
    if exact < 1 or max_distance <= exact:
        raise ValueError(f"`num_buckets` must leave at least one exact bucket and "
                         f"`max_distance` must exceed the exact range; got num_buckets "
                         f"{num_buckets}, max_distance {max_distance}")
    rel = relative_position.long()
    if bidirectional:
        offset = (rel > 0).long() * n  # keys after the query use the upper half
        distance = rel.abs()
    else:
        offset = torch.zeros_like(rel)
        distance = (-rel).clamp(min=0)  # keys after the query count as distance 0
    # log-spaced buckets exact..n-1 for distances exact..max_distance (and beyond: n - 1)
    # (in float32, as T5 computes it, so that the boundaries fall where T5's fall)
    ratio = torch.log(distance.clamp(min=1).float() / exact) / math.log(max_distance / exact)
    far = (exact + (ratio * (n - exact)).long()).clamp(max=n - 1)  # .long() truncates
    return offset + torch.where(distance < exact, distance, far)


class T5RelativeBias(nn.Module):
    """T5's learned relative position bias: one number per (bucket, head).

    Args:
        num_heads: ``H``.
        bidirectional, num_buckets, max_distance: as in
            :func:`relative_position_bucket`.

    ``weight`` is an ``nn.Embedding(num_buckets, H)``, laid out like T5's
    ``relative_attention_bias``, so those weights load as they are.

    Shapes:
        - forward(L, S): returns ``(H, L, S)``, added to scores ``(B, H, L, S)``
    """

    def __init__(self, num_heads: int, *, bidirectional: bool = True, num_buckets: int = 32,
                 max_distance: int = 128):
        super().__init__()
        _checks.positive_int(num_heads, "num_heads")
        relative_position_bucket(torch.zeros(1, dtype=torch.long), bidirectional=bidirectional,
                                 num_buckets=num_buckets, max_distance=max_distance)  # checks
        self.num_heads, self.bidirectional = num_heads, bidirectional
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.relative_attention_bias = nn.Embedding(num_buckets, num_heads)

    def buckets(self, L: int, S: int | None = None, *, device=None) -> torch.Tensor:
        """The ``(L, S)`` bucket of every query-key pair, positions from 0."""
        S = L if S is None else S
        _checks.non_negative_int(L, "L")
        _checks.non_negative_int(S, "S")
        i = torch.arange(L, device=device)
        j = torch.arange(S, device=device)
        return relative_position_bucket(j[None, :] - i[:, None], bidirectional=self.bidirectional,
                                        num_buckets=self.num_buckets,
                                        max_distance=self.max_distance)  # (L, S)

    def forward(self, L: int, S: int | None = None) -> torch.Tensor:
        """The ``(H, L, S)`` bias."""
        weight = self.relative_attention_bias.weight
        buckets = self.buckets(L, S, device=weight.device)  # (L, S)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)  # (L, S, H) -> (H, L, S)

    def extra_repr(self) -> str:
        return (f"num_heads={self.num_heads}, bidirectional={self.bidirectional}, "
                f"num_buckets={self.num_buckets}, max_distance={self.max_distance}")
