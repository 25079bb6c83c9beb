"""Chapter 4, rule 2 (additive attention): the checker for its coding exercise."""

from __future__ import annotations

import torch

from ._report import Case, Report, _close, _gen, _run


def check_additive_scores(fn) -> Report:
    """Chapter 4: ``fn(query, key, w_query, w_key, v)`` -> rule 2's scores ``v^T tanh(W_q q + W_k k + b)``.

    Shapes:
        - query: ``(B, L, Eq)``, key: ``(B, S, Ek)`` -> scores ``(B, L, S)``
    """
    from ..additive import AdditiveAttention

    cases = []
    for label, (B, L, S), seed in [("B=2, L=3, S=5", (2, 3, 5), 0), ("L = S = 4", (1, 4, 4), 1),
                                   ("one query", (2, 1, 6), 2)]:
        torch.manual_seed(seed)
        m = AdditiveAttention(6, 4, 8)
        g = _gen(seed)
        q, k = torch.randn(B, L, 6, generator=g), torch.randn(B, S, 4, generator=g)
        with torch.no_grad():
            expected = m.scores(q, k)
            swapped = m.v(torch.tanh(m.w_query(q).unsqueeze(1) + m.w_key(k).unsqueeze(2))).squeeze(-1)
            summed = torch.tanh(m.w_query(q).unsqueeze(2) + m.w_key(k).unsqueeze(1)).sum(-1)

        def diagnose(got, swapped=swapped, summed=summed, B=B, L=L, S=S):
            if got.shape == (B, S, L) or _close(got, swapped):
                return "hint: queries go on axis 1 and keys on axis 2: q.unsqueeze(2) + k.unsqueeze(1)."
            if got.shape == (B, L, S, 1):
                return "hint: squeeze the last axis after applying v: (B, L, S, 1) -> (B, L, S)."
            if _close(got, summed):
                return "hint: that is the article's sum over the hidden axis; apply the learned v instead."
            return None

        cases.append(Case(label, (q, k, m.w_query, m.w_key, m.v), expected, diagnose))
    return _run("additive scores", fn, cases)
