"""Chapter 14's checkers pass the book's solutions and fail typical mistakes with their hints."""

import pytest
import torch

import attnlib
from attnlib import exercises as ex
from conftest import fails_with, stub


@pytest.mark.parametrize("checker", [ex.check_relative_index, ex.check_rollout])
def test_stub_and_junk_never_pass(checker):
    fails_with(checker(stub), "not done yet")
    fails_with(checker(lambda *a: None), "did you forget a `return`?")
    fails_with(checker(lambda *a: 1 / 0), "raised ZeroDivisionError")
    fails_with(checker("not a function"), "expected a function")
    fails_with(checker(lambda *a: torch.zeros(1)), "expected shape")


# the book's solutions ------------------------------------------------------------------

def patch_counts(img_size, patch_size, num_heads):
    g = img_size // patch_size  # patches along each side
    return g * g, g * g + 1, (2 * g - 1) ** 2 * num_heads


def relative_index(height, width):
    y = torch.arange(height).repeat_interleave(width)  # (L,) row of each pixel
    x = torch.arange(width).repeat(height)  # (L,) column of each pixel
    dy = y[:, None] - y[None, :] + height - 1  # (L, L), from 0
    dx = x[:, None] - x[None, :] + width - 1
    return dy * (2 * width - 1) + dx


def rollout(maps):
    a = maps.mean(dim=2)  # (depth, B, H, L, L) -> (depth, B, L, L)
    a = (a + torch.eye(a.shape[-1])) / 2
    r = a[0]
    for layer in a[1:]:
        r = layer @ r
    return r


def test_solutions_pass():
    assert ex.check_patch_counts(patch_counts).passed
    assert ex.check_relative_index(relative_index).passed
    assert ex.check_rollout(rollout).passed
    # the library's functions are right answers too
    assert ex.check_relative_index(attnlib.relative_position_index).passed
    assert ex.check_rollout(attnlib.attention_rollout).passed


def test_patch_counts_mistakes():
    fails_with(ex.check_patch_counts(stub), "not done yet")
    fails_with(ex.check_patch_counts(lambda i, p, h: i // p), "a tuple of three ints")
    fails_with(ex.check_patch_counts(lambda i, p, h: (i // p, i // p + 1, 0)),
               "tile the image in both directions")
    fails_with(ex.check_patch_counts(lambda i, p, h: ((i // p) ** 2,) * 2 + (0,)),
               "the class token")
    g = lambda i, p: i // p
    fails_with(ex.check_patch_counts(lambda i, p, h: (g(i, p) ** 2, g(i, p) ** 2 + 1,
                                                      g(i, p) ** 4 * h)),
               "one row per offset")
    fails_with(ex.check_patch_counts(lambda i, p, h: (g(i, p) ** 2, g(i, p) ** 2 + 1,
                                                      (2 * g(i, p) - 1) ** 2)),
               "its own column")
    fails_with(ex.check_patch_counts(lambda i, p, h: (g(i, p) ** 2, g(i, p) ** 2 + 1,
                                                      (2 * g(i, p) + 1) ** 2 * h)),
               "2g - 1 values, not 2g + 1")
    fails_with(ex.check_patch_counts(lambda i, p, h: ("16", 17, 98)), "not a number")


def test_relative_index_mistakes():
    def transposed(h, w):
        return relative_index(h, w).T
    fails_with(ex.check_relative_index(transposed), "key minus query")

    def unshifted(h, w):
        y = torch.arange(h).repeat_interleave(w)
        x = torch.arange(w).repeat(h)
        return (y[:, None] - y[None, :]) * (2 * w - 1) + (x[:, None] - x[None, :])
    fails_with(ex.check_relative_index(unshifted), "shift each offset")

    def height_stride(h, w):
        y = torch.arange(h).repeat_interleave(w)
        x = torch.arange(w).repeat(h)
        return (y[:, None] - y[None, :] + h - 1) * (2 * h - 1) + (x[:, None] - x[None, :] + w - 1)
    fails_with(ex.check_relative_index(height_stride), "not 2 height - 1")

    def column_major(h, w):
        y = torch.arange(h).repeat_interleave(w)
        x = torch.arange(w).repeat(h)
        return (x[:, None] - x[None, :] + w - 1) * (2 * h - 1) + (y[:, None] - y[None, :] + h - 1)
    fails_with(ex.check_relative_index(column_major), "the major index")

    def width_stride(h, w):
        y = torch.arange(h).repeat_interleave(w)
        x = torch.arange(w).repeat(h)
        return (y[:, None] - y[None, :] + h - 1) * w + (x[:, None] - x[None, :] + w - 1)
    fails_with(ex.check_relative_index(width_stride), "not width")


def _chain(maps, *, residual=True, halve=True, first_right=True, pool="mean"):
    """Rollout with one of its steps changed: the mistakes the checker names."""
    a = maps.mean(2) if pool == "mean" else maps.amax(2)
    if residual:
        a = a + torch.eye(maps.shape[-1])
        a = a / 2 if halve else a
    r = a[0]
    for layer in a[1:]:
        r = layer @ r if first_right else r @ layer
    return r


@pytest.mark.parametrize("mistake, hint", [
    (dict(residual=False), "count the residual"),
    (dict(first_right=False), "rightmost"),
    (dict(halve=False), "divide A + I by 2"),
    (dict(pool="max"), "average the heads"),
])
def test_rollout_mistakes(mistake, hint):
    fails_with(ex.check_rollout(lambda maps: _chain(maps, **mistake)), hint)
    assert ex.check_rollout(_chain).passed
