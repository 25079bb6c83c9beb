"""Chapter 3, rule 1 (location attention): the checker for its coding exercise."""

from __future__ import annotations

import torch
from torch import nn

from ._report import Case, Report, _close, _describe, _gen, _run


def check_batched_rule1(fn) -> Report:
    """Chapter 3: ``fn(Q, K, V, attn, attn_combine)`` -> rule 1's ``(output, weights)`` for any batch.

    ``attn`` and ``attn_combine`` are the article's two ``nn.Linear`` layers.

    Shapes:
        - Q: ``(B, L, q)``, K: ``(B, L, k)``, V: ``(B, v1, v2)``
        - returns output ``(B, L, out)`` and weights ``(B, L, v1)``
    """
    from ..location import LocationAttention

    batch_hint = ("hint: with several items in the batch, Q[0] and unsqueeze(0) no longer fit; "
                  "keep the batch axis and concatenate on the last axis (dim=-1).")
    cases = []
    for label, (B, L), seed in [("batch 1, one query", (1, 1), 0), ("batch 3, one query", (3, 1), 1),
                                ("batch 2, four queries", (2, 4), 2)]:
        torch.manual_seed(seed)
        ref = LocationAttention(4, 3, 5, 6, 2)
        g = _gen(seed)
        Q, K, V = torch.randn(B, L, 4, generator=g), torch.randn(B, L, 3, generator=g), torch.randn(B, 5, 6, generator=g)
        with torch.no_grad():
            out, w = ref(Q, K, V)
        for part, expected in [("output", out), ("weights", w)]:
            def diagnose(got, expected=expected, B=B):
                if B > 1 and got.shape[0] == 1 and got.shape[1:] == expected.shape[1:]:
                    return "hint: your result has batch size 1: indexing Q[0] keeps only the first item."
                if got.shape == expected.shape[1:]:
                    return "hint: keep the batch axis: concatenate on the last axis (dim=-1) instead of Q[0]."
                if B > 1 and got.shape == expected.shape and _close(got[:1], expected[:1]):
                    return "hint: item 0 is right but the others are not: is every item using its own V?"
                return None

            cases.append(Case(f"{label}: {part}", (Q, K, V, ref.attn, ref.attn_combine), expected, diagnose,
                              error_hint=batch_hint if B > 1 else Case.error_hint))
    report = None
    for i in (0, 1):  # first the outputs, then the weights, each through the same function
        report = _run("batched rule 1", fn, cases[i::2], pick=lambda out, i=i: _pick(out, i))
        if not report:
            return report
    return Report("batched rule 1", True, [f"✓ batched rule 1: all {len(cases)} checks pass. Well done!"])


def _pick(out, i):
    """Part ``i`` of an ``(output, weights)`` answer, or a message saying what came instead."""
    if out is None:
        return None
    if not isinstance(out, tuple) or len(out) != 2:
        return f"expected a tuple (output, weights), got {_describe(out)}"
    return out[i]
