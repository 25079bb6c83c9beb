"""Chapter 2, tensor shapes and bmm: the checker for its coding exercise."""

from __future__ import annotations

import torch

from ._report import Case, Report, _close, _gen, _run


def check_einsum_output(fn) -> Report:
    """Chapter 2: ``fn(weights, value)`` -> ``weights @ value`` written with ``torch.einsum``.

    Shapes:
        - weights: ``(B, H, L, S)``, value: ``(B, H, S, Ev)`` -> ``(B, H, L, Ev)``
    """
    cases = []
    for label, (B, H, L, S, Ev), seed in [("B=2, H=3, L=4, S=5, Ev=6", (2, 3, 4, 5, 6), 0),
                                          ("L = S = Ev = 4", (1, 2, 4, 4, 4), 1)]:
        g = _gen(seed)
        w = torch.softmax(torch.randn(B, H, L, S, generator=g), -1)
        v = torch.randn(B, H, S, Ev, generator=g)

        def diagnose(got, w=w, v=v):
            if got.dim() == 5:
                return "hint: the key axis s must be summed over, so leave it out after '->'."
            if w.shape[-1] == w.shape[-2] and _close(got, w.transpose(-2, -1) @ v):
                return "hint: you summed over the query axis; the weights are indexed (l, s), not (s, l)."
            return None

        cases.append(Case(label, (w, v), w @ v, diagnose))
    return _run("weights @ value with einsum", fn, cases)
