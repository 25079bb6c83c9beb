"""Image and video tasks generated in code, from a seed.

- :func:`same_row_task`: two-channel images; is the marked pixel in the same row as
  the bright bar?  The answer needs two places that can be far apart: a stack of
  small convolutions sees only a neighbourhood, global context decides.
- :func:`flash_video_task`: short one-channel videos of a square moving across
  every frame (the distractor) and a cross that flashes in one frame only; the
  label is the quadrant of the cross, so one frame holds the answer.
- :func:`brightest_cross_task`: a cross in every frame, each as bright as the
  others give or take a little; the label is the quadrant of the brightest cross.
  Which frame holds the answer depends on the other frames: a cross's own
  brightness does not say whether it is the brightest of its video.

All three return tensors made with a private generator: the same seed gives the same
data on every machine, and the global torch seed is left alone.
"""

from __future__ import annotations

import random
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


def _far(bars: list[tuple[int, int, int]], r: int, c: int, reach: int, size: int) -> bool:
    """True when (r, c) is more than ``reach`` rows or columns from every pixel of every bar
    (row, first column, last column), counting distances around the edges as well."""
    def dist(a: int, b: int) -> int:
        return min(abs(a - b), size - abs(a - b))
    return all(dist(r, row) > reach or all(dist(c, k) > reach for k in range(c0, c1 + 1))
               for row, c0, c1 in bars)


def same_row_task(n: int, *, size: int = 12, bar: int = 3, reach: int = 2,
                  noise: float = 0.05, seed: int = 0) -> SameRowTask:
    """``n`` images of the same-row task, about half of them positive.

    Each image has a bright bar (``bar`` pixels long, value 1.0) and a dim bar (0.5)
    in two different rows, and a marker pixel more than ``reach`` pixels (rows or
    columns, counted around the edges too) from both bars, so that no
    ``(reach + 1)``-square window, not even one that wraps around the edges as a
    circular padding does, holds the marker and a bar.  Label 1: the marker is in the bright bar's row.  Half of the
    negatives put the marker in the dim bar's row, so "a bar in my row" is not
    enough: it must be the bright one.
    """
    _checks.positive_int(n, "n")
    _checks.positive_int(size, "size")
    _checks.positive_int(bar, "bar")
    if isinstance(reach, bool) or not isinstance(reach, int) or reach < 0:
        raise ValueError(f"`reach` must be an int >= 0; got {reach!r}")
    if size < bar + 2 * reach + 2:
        raise ValueError(f"`size` must be at least bar + 2 reach + 2 = {bar + 2 * reach + 2} "
                         f"(room for a marker beside a bar); got {size}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or noise < 0:
        raise ValueError(f"`noise` must be a number >= 0; got {noise!r}")
    rng = random.Random(seed)
    layout = []  # (label, bright row, bright col, dim row, dim col, marker row, marker col)
    while len(layout) < n:
        rb, rd = rng.sample(range(size), 2)
        cb, cd = rng.randrange(size - bar + 1), rng.randrange(size - bar + 1)
        label = rng.randrange(2)
        if label == 1:
            row = rb
        elif rng.randrange(2) == 0:
            row = rd  # a hard negative: the dim bar's row
        else:
            row = rng.choice([r for r in range(size) if r != rb])
        bars = [(rb, cb, cb + bar - 1), (rd, cd, cd + bar - 1)]
        free = [c for c in range(size) if _far(bars, row, c, reach, size)]
        if free:  # else draw the whole image again
            layout.append((label, rb, cb, rd, cd, row, rng.choice(free)))
    t = torch.tensor(layout, dtype=torch.long)  # (N, 7)
    label, rb, cb, rd, cd, rm, cm = t.unbind(1)
    images = torch.zeros(n, 2, size, size)
    idx = torch.arange(n)
    for k in range(bar):
        images[idx, 0, rb, cb + k] = 1.0
        images[idx, 0, rd, cd + k] = 0.5
    images[idx, 1, rm, cm] = 1.0
    g = torch.Generator().manual_seed(seed)
    images[:, 0] += noise * torch.randn(n, size, size, generator=g)
    return SameRowTask(images, label, torch.stack((rb, cb), 1), torch.stack((rd, cd), 1),
                       torch.stack((rm, cm), 1))


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


def _video_size(size) -> None:
    _checks.positive_int(size, "size")
    if size < 6 or size % 2:
        raise ValueError(f"`size` must be an even number >= 6; got {size}")


def _cross_centre(rng: random.Random, q: int, size: int) -> tuple[int, int]:
    """A random centre for a 3x3 cross inside quadrant ``q`` (0 top left, 1 top right,
    2 bottom left, 3 bottom right) of a ``size`` by ``size`` frame."""
    half = size // 2
    return ((q // 2) * half + 1 + rng.randrange(half - 2),
            (q % 2) * half + 1 + rng.randrange(half - 2))


def _draw_cross(frame: torch.Tensor, r: int, c: int, value: float) -> None:
    """Set the five pixels of a plus-shaped cross centred at (r, c) of ``(S, S)`` to ``value``."""
    frame[r, c - 1:c + 2] = value
    frame[r - 1:r + 2, c] = value


def flash_video_task(n: int, *, frames: int = 8, size: int = 8, noise: float = 0.05,
                     seed: int = 0) -> FlashVideoTask:
    """``n`` videos: a 2x2 square moves one pixel a frame (bouncing off the edges) in
    every frame; a 3x3 cross of value -1 appears in one random frame, in one of the
    four quadrants; the label is that quadrant."""
    _checks.positive_int(n, "n")
    _checks.positive_int(frames, "frames")
    _video_size(size)
    rng = random.Random(seed)
    videos = torch.zeros(n, frames, 1, size, size)
    labels = torch.zeros(n, dtype=torch.long)
    flash = torch.zeros(n, dtype=torch.long)
    moves = [(-1, 0), (1, 0), (0, -1), (0, 1), (1, 1), (-1, 1), (1, -1), (-1, -1)]
    for i in range(n):
        r, c = rng.randrange(size - 1), rng.randrange(size - 1)
        dr, dc = rng.choice(moves)
        for t in range(frames):
            videos[i, t, 0, r:r + 2, c:c + 2] = 1.0
            if not 0 <= r + dr <= size - 2:
                dr = -dr  # bounce off the edge
            if not 0 <= c + dc <= size - 2:
                dc = -dc
            r, c = r + dr, c + dc
        t, q = rng.randrange(frames), rng.randrange(4)
        _draw_cross(videos[i, t, 0], *_cross_centre(rng, q, size), -1.0)
        labels[i], flash[i] = q, t
    g = torch.Generator().manual_seed(seed)
    videos += noise * torch.randn(videos.shape, generator=g)
    return FlashVideoTask(videos, labels, flash)


@dataclass
class BrightestCrossTask:
    """A batch of the brightest-cross task.

    Shapes:
        - videos: ``(N, T, 1, S, S)``
        - labels: ``(N,)`` int64, the quadrant of the brightest cross: 0 top left,
          1 top right, 2 bottom left, 3 bottom right
        - brightest: ``(N,)`` int64, the frame that holds the brightest cross
        - brightness: ``(N, T)``, the value of each frame's cross
        - quadrants: ``(N, T)`` int64, the quadrant of each frame's cross
    """

    videos: torch.Tensor
    labels: torch.Tensor
    brightest: torch.Tensor
    brightness: torch.Tensor
    quadrants: torch.Tensor


def _non_negative_number(x, name: str) -> None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x < float("inf"):
        raise ValueError(f"`{name}` must be a finite number >= 0; got {x!r}")


def brightest_cross_task(n: int, *, frames: int = 16, size: int = 8, gap: float = 0.15,
                         spread: float = 0.15, low: float = 0.2, noise: float = 0.05,
                         seed: int = 0) -> BrightestCrossTask:
    """``n`` videos with a 3x3 cross in every frame, each in a random quadrant; the
    label is the quadrant of the brightest cross.

    In each video the brightest cross has a value ``top`` drawn uniformly from
    ``[low + gap + spread, 1]``, and the crosses of the other ``frames - 1`` frames
    values drawn uniformly from ``[top - gap - spread, top - gap]``: the brightest
    stands out by at least ``gap`` inside its video, but its value alone does not
    mark it (with the defaults a cross of 0.6 is the brightest in some videos and a
    dim one in others).  The brightest cross's frame is uniform over the frames.
    """
    _checks.positive_int(n, "n")
    _checks.positive_int(frames, "frames")
    _video_size(size)
    for value, name in ((gap, "gap"), (spread, "spread"), (low, "low"), (noise, "noise")):
        _non_negative_number(value, name)
    if not gap > 0 or low + gap + spread >= 1:
        raise ValueError(f"`gap` must be > 0 and `low + gap + spread` < 1 (room for the "
                         f"brightest cross below 1); got gap={gap}, spread={spread}, "
                         f"low={low}")
    rng = random.Random(seed)
    crosses = []  # (value, quadrant, centre row, centre column), frame by frame
    brightest = []
    for _ in range(n):
        top = rng.uniform(low + gap + spread, 1.0)
        brightest.append(rng.randrange(frames))
        for t in range(frames):
            value = top if t == brightest[-1] else rng.uniform(top - gap - spread, top - gap)
            q = rng.randrange(4)
            crosses.append((value, q, *_cross_centre(rng, q, size)))
    value = torch.tensor([k[0] for k in crosses]).view(n, frames)
    q, r, c = torch.tensor([k[1:] for k in crosses], dtype=torch.long).view(n, frames, 3).unbind(2)
    videos = torch.zeros(n, frames, 1, size, size)
    i, t = torch.arange(n)[:, None], torch.arange(frames)
    for dr, dc in ((0, -1), (0, 0), (0, 1), (-1, 0), (1, 0)):  # the five pixels of each cross
        videos[i, t, 0, r + dr, c + dc] = value
    g = torch.Generator().manual_seed(seed)
    videos += noise * torch.randn(videos.shape, generator=g)
    brightest = torch.tensor(brightest, dtype=torch.long)
    return BrightestCrossTask(videos, q[torch.arange(n), brightest], brightest, value, q)
