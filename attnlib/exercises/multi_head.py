"""Chapter 7, multi-head attention: the checker for its coding exercise."""

from __future__ import annotations

import torch

from ._report import Case, Report, _close, _gen, _run, plural


def check_split_merge(split_heads, merge_heads) -> Report:
    """Chapter 7: ``split_heads(x, H)`` and its inverse ``merge_heads(x)``.

    Shapes:
        - split_heads: ``(B, N, E)`` -> ``(B, H, N, E/H)``
        - merge_heads: ``(B, H, N, E/H)`` -> ``(B, N, E)``
    """
    split_cases, merge_cases = [], []
    for B, N, E, H in [(1, 4, 6, 2), (2, 5, 16, 4), (3, 1, 8, 8), (2, 3, 8, 1)]:
        x = torch.randn(B, N, E, generator=_gen(B * 100 + N))
        heads = x.view(B, N, H, E // H).transpose(1, 2)  # (B, N, E) -> (B, N, H, E/H) -> (B, H, N, E/H)
        no_transpose = x.view(B, H, N, E // H)
        merged_wrong = heads.contiguous().reshape(B, N, E)
        split_cases.append(Case(
            f"x {(B, N, E)}, {plural(H, 'head')}", (x, H), heads,
            lambda got, w=no_transpose: "hint: viewing straight to (B, H, N, E/H) mixes positions "
            "into heads; view to (B, N, H, E/H), then transpose(1, 2)." if _close(got, w) else None))
        merge_cases.append(Case(
            f"heads {(B, H, N, E // H)}", (heads.contiguous(),), x,
            lambda got, w=merged_wrong: "hint: a reshape without transpose(1, 2) first reads the "
            "heads one after the other; move the head axis back next to d first." if _close(got, w) else None))
    for name, fn, cases in [("split_heads", split_heads, split_cases),
                            ("merge_heads", merge_heads, merge_cases)]:
        report = _run(name, fn, cases)
        if not report:
            return report
    n = len(split_cases) + len(merge_cases)
    return Report("split and merge heads", True,
                  [f"✓ split_heads and merge_heads: all {n} cases pass. Well done!"])
