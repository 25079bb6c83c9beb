"""Chapter 11, positions and masks as functions: the checkers for its coding exercises."""

from __future__ import annotations

import functools
import math
import numbers

import torch

from ..alibi import alibi_slopes
from ..flex import block_sparsity, dense_mask
from ..mask_patterns import prefix_lm_mask
from ..sliding_window import sliding_window_mask
from ._report import Case, Report, _close, _describe, _run, plural


def check_alibi_slopes(slopes) -> Report:
    """Chapter 11: ``slopes(num_heads)`` returns the ``(num_heads,)`` ALiBi slopes.

    The reference is :func:`attnlib.alibi_slopes`: the paper's geometric sequence, and for a
    head count that is not a power of two the interleaving rule of the authors' code.
    """
    cases = []
    for n in (8, 4, 12, 6, 24):
        ref = alibi_slopes(n)
        # typical mistakes: one geometric sequence 2^(-8k/n) for any n; the first
        # slopes of 2 * power instead of every second one; slopes from 0
        plain = torch.tensor([2 ** (-8 * k / n) for k in range(1, n + 1)], dtype=torch.float64)
        power = 2 ** int(math.floor(math.log2(n)))
        first = torch.cat((alibi_slopes(power), alibi_slopes(2 * power)[:n - power]))
        from_zero = torch.tensor([2 ** (-8 * k / power) for k in range(n)], dtype=torch.float64)

        def diagnose(got, plain=plain, first=first, from_zero=from_zero, n=n):
            if _close(got, plain):
                return (f"hint: {n} is not a power of two: take the slopes of the\n"
                        "largest power of two below it, then every second slope\n"
                        "of twice that many heads.")
            if _close(got, first):
                return ("hint: from twice as many heads take every second slope\n"
                        "(the 1st, 3rd, 5th, ...), not the first ones.")
            if got.shape == from_zero.shape and _close(got[1:], from_zero[1:n]):
                return "hint: the sequence starts at 2^(-8/n), not at 1."
            return None
        cases.append(Case(f"{plural(n, 'head')}", (n,), ref, diagnose, rtol=1e-6, atol=1e-9,
                          error_hint="hint: call it as slopes(12); return a tensor."))
    return _run("ALiBi slopes", slopes, cases)


def check_prefix_lm_mask_mod(make_mask_mod) -> Report:
    """Chapter 11: ``make_mask_mod(prefix_length)`` returns a prefix-LM ``mask_mod``.

    The ``mask_mod(b, h, q_idx, kv_idx)`` must allow key ``j`` to query ``i``
    when ``j < prefix_length`` or ``j <= i``.  It is evaluated on every
    ``(i, j)`` (:func:`attnlib.flex.dense_mask`) and compared with
    :func:`attnlib.prefix_lm_mask`.
    """
    def as_dense(L, prefix):
        mod = make_mask_mod(prefix)
        if mod is None:
            return None  # reported as a missing `return`
        if not callable(mod):
            return f"make_mask_mod(prefix) should return a function; got {_describe(mod)}"
        return dense_mask(mod, 1, 1, L, L)[0, 0]  # (L, L)

    cases = []
    for L, prefix in [(6, 2), (8, 0), (7, 7), (10, 4)]:
        ref = prefix_lm_mask(L, prefix)
        i, j = torch.arange(L)[:, None], torch.arange(L)[None, :]
        wrongs = [
            ((j < prefix) & (i < L), "hint: outside the prefix the keys are causal:\n"
                                     "allow j <= i as well (an `|`, an or)."),
            ((j <= prefix) | (j <= i), "hint: the prefix holds keys 0..prefix-1: j < prefix."),
            ((j < prefix) & (j <= i), "hint: a key in the prefix is seen by every query:\n"
                                      "combine with `|` (or), not `&` (and)."),
        ]

        def diagnose(got, wrongs=wrongs, ref=ref):
            for wrong, hint in wrongs:
                if not torch.equal(wrong, ref) and torch.equal(got.bool(), wrong):
                    return hint
            return None
        cases.append(Case(f"L {L}, prefix {prefix}", (L, prefix), ref, diagnose, rtol=0, atol=0,
                          error_hint="hint: use only elementwise tensor operations\n"
                                     "(<, <=, |, &) on q_idx and kv_idx, no `if`."))
    if callable(make_mask_mod):  # the report names the reader's function
        as_dense = functools.wraps(make_mask_mod)(as_dense)
    return _run("prefix-LM mask_mod", as_dense if callable(make_mask_mod) else make_mask_mod,
                cases, pick=_as_float,
                returns="a boolean (L, L) mask",
                return_hint="hint: your mask_mod should return a boolean tensor.")


def _as_float(out):
    if isinstance(out, torch.Tensor) and out.dtype == torch.bool:
        return out.double()
    return out


def _number(out):
    if out is None:
        return None
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        out = out.item()
    if isinstance(out, bool) or not isinstance(out, numbers.Real):
        return f"expected a share (a float in 0..1), got {_describe(out)}"
    return torch.tensor([float(out)], dtype=torch.float64)


def check_window_sparsity(sparsity) -> Report:
    """Chapter 11: ``sparsity(L, window, block_size)``: the share of skipped tiles.

    For a causal sliding window of ``window`` keys (query ``i`` sees
    ``i - window < j <= i``) over ``L`` queries and keys cut into
    ``block_size x block_size`` tiles, the share of tiles with no allowed pair
    (the last tiles may be partial).  The reference is
    :func:`attnlib.flex.block_sparsity` of :func:`attnlib.sliding_window_mask`.
    """
    cases = []
    for L, window, bs in [(1024, 128, 128), (4096, 256, 128), (1000, 100, 128),
                          (512, 512, 64), (2048, 300, 128)]:
        ref = block_sparsity(sliding_window_mask(L, L, window), bs)
        n = math.ceil(L / bs)
        density = 1 - ref
        causal_only = 1 - (n * (n + 1) / 2) / n ** 2
        i, j = torch.arange(L)[:, None], torch.arange(L)[None, :]
        both_sides = block_sparsity((i - j).abs() < window, bs)  # not causal
        wrongs = [
            (density, "hint: that is the share of tiles computed; sparsity is\n"
                      "the share skipped: 1 minus it."),
            (causal_only, "hint: that is the causal mask's sparsity; the window\n"
                          "skips the tiles far below the diagonal as well."),
            (both_sides, "hint: the window is causal: tiles above the diagonal\n"
                         "hold no allowed pair."),
        ]

        def diagnose(got, wrongs=wrongs, ref=ref):
            for value, hint in wrongs:
                if abs(value - ref) > 1e-9 and abs(got.item() - value) < 1e-6:
                    return hint
            return "hint: count, for each row of tiles, the tiles it touches."
        cases.append(Case(f"L {L}, window {window}, block {bs}", (L, window, bs),
                          torch.tensor([ref], dtype=torch.float64), diagnose,
                          rtol=0, atol=1e-6))
    return _run("window block sparsity", sparsity, cases, pick=_number,
                returns="a share", return_hint="hint: return a float between 0 and 1.")
