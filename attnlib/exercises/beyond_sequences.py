"""Chapter 13, attention beyond sequences: the checkers for its coding exercises."""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from ..multihead import MultiHeadAttention
from ._report import Case, Report, _close, _describe, _gen, _run


def _mha(E: int, heads: int, seed: int) -> MultiHeadAttention:
    """A seeded MultiHeadAttention in eval mode; the global torch seed is left alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mha = MultiHeadAttention(E, heads)
    return mha.eval()


def check_axial_width(axial_width) -> Report:
    """Chapter 13: ``axial_width(x, mha)``, multi-head self-attention along every row.

    Shapes:
        - x: ``(B, C, H, W)``; mha: a ``MultiHeadAttention`` with ``embed_dim = C``
        - returns: ``(B, C, H, W)``
    """
    cases = []
    for B, C, H, W, heads in [(1, 4, 3, 5, 1), (2, 8, 4, 6, 2), (2, 6, 5, 5, 3)]:
        x = torch.randn(B, C, H, W, generator=_gen(B * 1000 + H * 10 + W))
        mha = _mha(C, heads, seed=C + H)
        with torch.no_grad():
            rows = x.permute(0, 2, 3, 1).reshape(B * H, W, C)  # (B, C, H, W) -> (B*H, W, C)
            expected = mha(rows, rows, rows)[0].view(B, H, W, C).permute(0, 3, 1, 2)
            cols = x.permute(0, 3, 2, 1).reshape(B * W, H, C)  # the columns instead
            along_height = mha(cols, cols, cols)[0].view(B, W, H, C).permute(0, 3, 2, 1)
            raw = x.reshape(B * H, W, C)  # no permute: channels and positions mixed
            mixed = mha(raw, raw, raw)[0].reshape(B, C, H, W)
        wrongs = [
            (along_height, "hint: this attends along each column (the height);\n"
             "the rows are x.permute(0, 2, 3, 1): (B, H, W, C),\n"
             "then reshape to (B*H, W, C)."),
            (mixed, "hint: a reshape straight from (B, C, H, W) to (B*H, W, C)\n"
             "mixes channels into positions; permute to (B, H, W, C) first."),
        ]

        def diagnose(got, wrongs=wrongs, bhwc=(B, H, W, C)):
            if tuple(got.shape) == bhwc and bhwc != tuple(wrongs[0][0].shape):
                return ("hint: you returned (B, H, W, C); move the channels back\n"
                        "to dim 1 with permute(0, 3, 1, 2).")
            return next((hint for w, hint in wrongs if _close(got, w)), None)
        cases.append(Case(f"x {(B, C, H, W)}, {heads} head(s)", (x, mha), expected, diagnose,
                          error_hint="hint: permute (B, C, H, W) to (B, H, W, C), reshape\n"
                          "to (B*H, W, C), attend, and undo both steps."))
    return _run("axial_width", axial_width, cases,
                pick=lambda out: out[0] if isinstance(out, tuple) else out)


def check_se_gate(se_gate) -> Report:
    """Chapter 13: ``se_gate(x, fc1, fc2)``, the squeeze-and-excitation channel weights.

    ``fc1`` and ``fc2`` are 1x1 ``Conv2d`` layers (``C -> C/r -> C``).

    Shapes:
        - x: ``(B, C, H, W)``
        - returns: ``(B, C, 1, 1)``, every value in ``(0, 1)``
    """
    cases = []
    for B, C, r, H, W in [(1, 4, 2, 3, 3), (2, 8, 4, 5, 7), (3, 12, 3, 4, 2)]:
        g = _gen(B * 100 + C)
        x = torch.randn(B, C, H, W, generator=g) + torch.randn(1, C, 1, 1, generator=g)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(C * 7 + H)
            fc1, fc2 = nn.Conv2d(C, C // r, 1), nn.Conv2d(C // r, C, 1)
        with torch.no_grad():
            def gate(pool, act, norm):
                return norm(fc2(act(fc1(pool(x)))))
            avg = lambda t: t.mean((2, 3), keepdim=True)
            mx = lambda t: t.amax((2, 3), keepdim=True)
            expected = gate(avg, torch.relu, torch.sigmoid)
            wrongs = [
                (gate(avg, torch.relu, lambda t: torch.softmax(t, dim=1)),
                 "hint: a softmax over the channels makes them compete\n"
                 "(the gates sum to 1, about 1/C each);\n"
                 "SE gates every channel on its own with a sigmoid."),
                (gate(mx, torch.relu, torch.sigmoid),
                 "hint: the squeeze is the mean over H and W, not the maximum."),
                (gate(avg, lambda t: t, torch.sigmoid),
                 "hint: the ReLU between fc1 and fc2 is missing."),
                (torch.sigmoid(fc2(torch.relu(fc1(x)))).mean((2, 3), keepdim=True),
                 "hint: pool first (squeeze to (B, C, 1, 1)), then apply fc1 and fc2."),
            ]

        def diagnose(got, wrongs=wrongs):
            return next((hint for w, hint in wrongs if _close(got, w)), None)
        cases.append(Case(f"x {(B, C, H, W)}, C/r = {C // r}", (x, fc1, fc2), expected,
                          diagnose))
    return _run("se_gate", se_gate, cases)


_TUPLE_HINT = "hint: end with `return full, axial, patches` (three ints)."


def check_score_counts(score_counts) -> Report:
    """Chapter 13: ``score_counts(n, patch)``, attention scores per head for an n x n image.

    ``n`` is a multiple of ``patch``; the counts are exact (floats equal to them pass).

    Returns:
        - full self-attention over the ``n*n`` pixels: ``n**4``
        - one height pass plus one width pass over the pixels: ``2 * n**3``
        - full self-attention over the ``(n/patch)**2`` patches: ``(n/patch)**4``
    """
    cases = []
    for n, p in [(12, 2), (32, 4), (40, 8), (224, 16)]:
        t = n // p  # patches along each side
        expected = torch.tensor([n**4, n * n * 2 * n, t**4], dtype=torch.float64)
        ratios = ("hint: return the counts themselves, not how many times\n"
                  "fewer; the ratios are full / axial and full / patches.")
        wrongs = [  # per count: values a known mistake gives, and its hint
            ([n * n], "hint: n*n is the number of pixels (tokens); full attention\n"
                      "over T tokens computes T*T scores."),
            ([1], ratios),
            ([n**3], "hint: n**3 is one axial pass; the height pass and the\n"
                     "width pass each compute n*n*n scores, so count both."),
            ([n / 2, 2 / n], ratios),
            ([t * t, t], "hint: the image cuts into (n/patch)**2 patches (tokens),\n"
                         "and full attention over T tokens computes T*T scores."),
            ([p**4, 1 / p**4], ratios),
        ]
        slots = [0, 0, 1, 1, 2, 2]  # which count each entry of wrongs is about

        def diagnose(got, expected=expected, wrongs=wrongs, slots=slots):
            for i, (values, hint) in zip(slots, wrongs):
                if got[i] != expected[i] and got[i].item() in values:
                    return hint
            return ("hint: count the tokens T of each attention first;\n"
                    "attention over T tokens computes T*T scores.")
        cases.append(Case(f"n = {n}, patch = {p}", (n, p), expected, diagnose, rtol=0, atol=0,
                          error_hint="hint: score_counts gets two ints and returns three\n"
                          "ints; work them out with n and patch, no tensors needed."))
    return _run("score_counts", score_counts, cases, pick=_counts,
                returns="a tuple of three ints", return_hint=_TUPLE_HINT, show=_exact)


def _counts(out):
    """Three counts as a float64 tensor, or a message saying what came instead."""
    if out is None:
        return None
    what = _describe(out)
    what = what if len(what) <= 30 else what[:27] + "..."
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        return f"expected a tuple of three ints, got {what}"
    values = []
    for i, v in enumerate(out, 1):
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            return f"count {i} of 3 is not a number: {what}"
        try:
            values.append(float(v))
        except (OverflowError, ValueError, TypeError):
            return f"count {i} of 3 is too large to be a count: {what}"
    return torch.tensor(values, dtype=torch.float64)


def _exact(t: torch.Tensor) -> str:
    """``(256, 128, 16)``: whole numbers in full, anything else to 4 digits."""
    vals = t.tolist()
    return "(" + ", ".join(
        str(int(v)) if math.isfinite(v) and v == int(v) else f"{v:.4g}" for v in vals) + ")"
