"""Image and video tasks generated in code, from a seed.

- :func:`same_row_task`: two-channel images; is the marked pixel in the same row as
  the bright bar?  The answer needs two places that can be far apart: a stack of
  small convolutions sees only a neighbourhood, global context decides.
- :func:`flash_video_task`: short one-channel videos of a square moving across
  every frame (the distractor) and a cross that flashes in one frame only; the
  label is the quadrant of the cross, so one frame holds the answer.

Both return tensors made with a private generator: the same seed gives the same
data on every machine, and the global torch seed is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _checks


@dataclass
class SameRowTask:
    """A batch of the same-row task.

    Shapes:
        - images: ``(N, 2, S, S)``; channel 0 the scene (bright bar 1.0, dim bar 0.5,
          noise), channel 1 the marker (1.0 at one pixel, else 0)
        - labels: ``(N,)`` int64, 1 = the marker is in the bright bar's row
        - bright, dim, marker: ``(N, 2)`` int64, (row, column) of the bars' left
          ends and of the marker
    """

    images: torch.Tensor
    labels: torch.Tensor
    bright: torch.Tensor
    dim: torch.Tensor
    marker: torch.Tensor


def _int(high: int, g: torch.Generator) -> int:
    return int(torch.randint(high, (1,), generator=g))


def same_row_task(n: int, *, size: int = 12, bar: int = 3, noise: float = 0.05,
                  seed: int = 0) -> SameRowTask:
    """``n`` images of the same-row task, half of them positive.

    Each image has a bright bar (``bar`` pixels long, value 1.0) and a dim bar (0.5)
    in two different rows, and a marker pixel off both bars.  Label 1: the marker
    is in the bright bar's row.  Half of the negatives put the marker in the dim
    bar's row, so "a bar in my row" is not enough: the bar must be the bright one.
    """
    _checks.positive_int(n, "n")
    _checks.positive_int(size, "size")
    _checks.positive_int(bar, "bar")
    if size < bar + 2 or size < 3:
        raise ValueError(f"`size` must be at least bar + 2 = {bar + 2}; got {size}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or noise < 0:
        raise ValueError(f"`noise` must be a number >= 0; got {noise!r}")
    g = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 2, size, size)
    labels = torch.zeros(n, dtype=torch.long)
    bright, dim, marker = (torch.zeros(n, 2, dtype=torch.long) for _ in range(3))
    for i in range(n):
        rb, rd = torch.randperm(size, generator=g)[:2].tolist()
        cb, cd = _int(size - bar + 1, g), _int(size - bar + 1, g)
        images[i, 0, rb, cb:cb + bar] = 1.0
        images[i, 0, rd, cd:cd + bar] = 0.5
        label = _int(2, g)
        if label == 1:
            row = rb
        elif _int(2, g) == 0:
            row = rd  # a hard negative: the dim bar's row
        else:
            row = [r for r in range(size) if r != rb][_int(size - 1, g)]
        taken = set()
        if row == rb:
            taken |= set(range(cb, cb + bar))
        if row == rd:
            taken |= set(range(cd, cd + bar))
        free = [c for c in range(size) if c not in taken]
        col = free[_int(len(free), g)]
        images[i, 1, row, col] = 1.0
        labels[i] = label
        bright[i] = torch.tensor([rb, cb])
        dim[i] = torch.tensor([rd, cd])
        marker[i] = torch.tensor([row, col])
    images[:, 0] += noise * torch.randn(n, size, size, generator=g)
    return SameRowTask(images, labels, bright, dim, marker)


@dataclass
class FlashVideoTask:
    """A batch of the flash task.

    Shapes:
        - videos: ``(N, T, 1, S, S)``
        - labels: ``(N,)`` int64, the cross's quadrant: 0 top left, 1 top right,
          2 bottom left, 3 bottom right
        - flash_frame: ``(N,)`` int64, the frame the cross is in
    """

    videos: torch.Tensor
    labels: torch.Tensor
    flash_frame: torch.Tensor


def flash_video_task(n: int, *, frames: int = 8, size: int = 8, noise: float = 0.05,
                     seed: int = 0) -> FlashVideoTask:
    """``n`` videos: a 2x2 square moves one pixel a frame (bouncing off the edges) in
    every frame; a 3x3 cross of value -1 appears in one random frame, in one of the
    four quadrants; the label is that quadrant."""
    _checks.positive_int(n, "n")
    _checks.positive_int(frames, "frames")
    _checks.positive_int(size, "size")
    if size < 6 or size % 2:
        raise ValueError(f"`size` must be an even number >= 6; got {size}")
    g = torch.Generator().manual_seed(seed)
    videos = torch.zeros(n, frames, 1, size, size)
    labels = torch.zeros(n, dtype=torch.long)
    flash = torch.zeros(n, dtype=torch.long)
    half = size // 2
    for i in range(n):
        r, c = _int(size - 1, g), _int(size - 1, g)
        dr, dc = [(-1, 0), (1, 0), (0, -1), (0, 1), (1, 1), (-1, 1), (1, -1), (-1, -1)][_int(8, g)]
        for t in range(frames):
            videos[i, t, 0, r:r + 2, c:c + 2] = 1.0
            if not 0 <= r + dr <= size - 2:
                dr = -dr
            if not 0 <= c + dc <= size - 2:
                dc = -dc
            r, c = r + dr, c + dc
        t, q = _int(frames, g), _int(4, g)
        cr = (q // 2) * half + 1 + _int(half - 2, g)  # the cross's centre, inside quadrant q
        cc = (q % 2) * half + 1 + _int(half - 2, g)
        videos[i, t, 0, cr, cc - 1:cc + 2] = -1.0
        videos[i, t, 0, cr - 1:cr + 2, cc] = -1.0
        labels[i], flash[i] = q, t
    videos += noise * torch.randn(videos.shape, generator=g)
    return FlashVideoTask(videos, labels, flash)
