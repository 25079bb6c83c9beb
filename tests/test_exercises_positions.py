"""Chapter 11's checkers pass the book's solutions and fail typical wrong answers with a hint."""

import math

import pytest
import torch

from attnlib import exercises as ex
from conftest import fails_with, stub


@pytest.mark.parametrize("checker", [ex.check_alibi_slopes, ex.check_prefix_lm_mask_mod,
                                     ex.check_window_sparsity])
def test_stub_and_junk(checker):
    fails_with(checker(stub), "not done yet")
    fails_with(checker(lambda *a: None), "did you forget a `return`?")
    fails_with(checker(lambda *a: 1 / 0), "raised ZeroDivisionError")
    fails_with(checker("not a function"), "expected a function")


# the book's solutions ------------------------------------------------------------------

def slopes(num_heads, *, mistake=None):
    def geometric(n):
        return [2 ** (-8 * k / n) for k in range(1, n + 1)]
    if mistake == "plain":
        return torch.tensor(geometric(num_heads), dtype=torch.float64)
    power = 2 ** math.floor(math.log2(num_heads))
    extra = geometric(2 * power)
    extra = extra[:num_heads - power] if mistake == "first" else extra[0::2][:num_heads - power]
    return torch.tensor(geometric(power) + extra, dtype=torch.float64)


def make_mask_mod(prefix_length, *, mistake=None):
    def mask_mod(b, h, q_idx, kv_idx):
        if mistake == "no causal":
            return kv_idx < prefix_length
        if mistake == "and":
            return (kv_idx < prefix_length) & (kv_idx <= q_idx)
        if mistake == "off by one":
            return (kv_idx <= prefix_length) | (kv_idx <= q_idx)
        return (kv_idx < prefix_length) | (kv_idx <= q_idx)
    return mask_mod


def sparsity(L, window, block_size, *, mistake=None):
    n = math.ceil(L / block_size)
    touched = 0
    for r in range(n):  # row of tiles: queries r*bs .. min(L, (r+1)*bs) - 1
        q_lo, q_hi = r * block_size, min(L, (r + 1) * block_size) - 1
        k_lo = max(0, q_lo - window + 1)  # the first key any of them sees
        first, last = k_lo // block_size, q_hi // block_size
        if mistake == "causal":
            first = 0
        touched += last - first + 1
    share = touched / n ** 2
    return share if mistake == "density" else 1 - share


def test_solutions_pass():
    assert ex.check_alibi_slopes(slopes).passed
    assert ex.check_prefix_lm_mask_mod(make_mask_mod).passed
    assert ex.check_window_sparsity(sparsity).passed


@pytest.mark.parametrize("mistake,hint", [("plain", "not a power of two"),
                                          ("first", "every second slope")])
def test_alibi_mistakes(mistake, hint):
    fails_with(ex.check_alibi_slopes(lambda n: slopes(n, mistake=mistake)), hint)


@pytest.mark.parametrize("mistake,hint", [("no causal", "allow j <= i as well"),
                                          ("and", "not `&` (and)"),
                                          ("off by one", "j < prefix")])
def test_prefix_mistakes(mistake, hint):
    fails_with(ex.check_prefix_lm_mask_mod(lambda p: make_mask_mod(p, mistake=mistake)), hint)


def test_prefix_returns_no_function():
    fails_with(ex.check_prefix_lm_mask_mod(lambda p: 3), "should return a function")


@pytest.mark.parametrize("mistake,hint", [("density", "1 minus it"),
                                          ("causal", "the causal mask's sparsity")])
def test_sparsity_mistakes(mistake, hint):
    fails_with(ex.check_window_sparsity(
        lambda L, w, b: sparsity(L, w, b, mistake=mistake)), hint)
    fails_with(ex.check_window_sparsity(lambda L, w, b: "a lot"), "expected a share")
